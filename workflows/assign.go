package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
)

// StartAssignment offers the case to partners in the background unless a partner already holds it.
func (c *Case) StartAssignment(ctx workflow.Context) { c.startAssignment(ctx, nil) }

// startAssignment is StartAssignment, never offering the partners in exclude.
func (c *Case) startAssignment(ctx workflow.Context, exclude []string) {
	if c.IsClosed() || c.Accepted {
		return
	}
	c.offered = exclude
	c.choosing++ // from now: the first offer records what the case carries (RecordOpened)
	workflow.Go(ctx, func(ctx workflow.Context) {
		c.choosing-- // Assign counts its partner choice itself, before it waits
		if err := c.Assign(ctx); err != nil {
			c.Logger.Error("partner assignment", "Error", err)
		}
	})
}

// Assign offers the case to partners in turn until one accepts; with none available it alerts operations
// and tries again every ReassignInterval, the case waiting visibly in stage assignment.
func (c *Case) Assign(ctx workflow.Context) error {
	var a *activities.Activities
	alerted := false
	for !c.IsClosed() && !c.Accepted {
		var choice activities.ChoosePartnerResult
		in := activities.ChoosePartnerInput{CaseID: c.In.CaseID, Service: c.In.Service, NeedOnsite: c.NeedOnsite, Exclude: c.offered}
		c.choosing++
		err := RunLocal(ctx, 30*time.Second, "choose a partner", a.ChoosePartner, in, &choice)
		c.choosing--
		if err != nil {
			return err
		}
		if c.IsClosed() {
			return nil
		}
		if choice.PartnerID == "" {
			retry := workflow.Now(ctx).Add(ReassignInterval)
			if !alerted {
				alerted = true
				detail := fmt.Sprintf("no partner with the %s skill and free capacity is left; retrying every %s", c.In.Service, Span(ReassignInterval))
				c.Notify(ctx, "no-partner", notifications.SeverityCritical, false, "No partner available for this "+c.Label+" case", detail+". Add capacity or assign by hand.")
				if err := c.Record(ctx, c.NewEvent(ctx, EventNoPartnerAvailable, ActorSystem, detail)); err != nil {
					return err
				}
			}
			workflow.SetCurrentDetails(ctx, c.Details(workflow.Now(ctx), "Waiting for a partner; next try "+When(retry)+"."))
			c.offered = nil
			if _, err := AwaitUntil(ctx, retry, "no partner free: try again at "+When(retry), c.IsClosed); err != nil {
				return err
			}
			continue
		}
		c.offeredAt = workflow.Now(ctx)
		deadline := c.offeredAt.Add(c.In.AcceptTimeout)
		c.PartnerID, c.PartnerName, c.answer, c.declineReason = choice.PartnerID, choice.PartnerName, "", ""
		c.offered = append(c.offered, choice.PartnerID)
		offered := c.NewEvent(ctx, EventPartnerOffered, ActorSystem, fmt.Sprintf("offered to %s, load %d of %d; accept by %s",
			partnerLabel(choice), choice.Load, choice.Capacity, When(deadline)))
		c.Notify(ctx, "offer/"+choice.PartnerID+"/"+fmt.Sprint(c.Seq), notifications.SeverityInfo, true, "New "+c.Label+" case offered to "+choice.PartnerID,
			fmt.Sprintf("Accept by %s (POST /v1/cases/%s/steps/%s) or decline.", When(deadline), c.In.CaseID, StepAccept))
		if err := c.Record(ctx, offered); err != nil {
			return err
		}
		if _, err := AwaitUntil(ctx, deadline, fmt.Sprintf("offer to %s: accept by %s", choice.PartnerID, When(deadline)), func() bool { return c.answer != "" || c.IsClosed() }); err != nil {
			return err
		}
		if c.Accepted || c.IsClosed() {
			return nil
		}
		if c.answer == answerWithdrawn {
			continue // Reoffer recorded it; the next partner is chosen
		}
		event, detail := EventOfferTimedOut, fmt.Sprintf("%s did not accept within %s", choice.PartnerID, Span(c.In.AcceptTimeout))
		if c.answer == StepDecline {
			event, detail = EventPartnerDeclined, choice.PartnerID+" declined"
			if c.declineReason != "" {
				detail += ": " + c.declineReason
			}
		}
		c.PartnerID, c.PartnerName = "", ""
		answer := c.NewEvent(ctx, event, ActorSystem, detail)
		answer.PartnerID = choice.PartnerID // the line is about the offered partner, no longer holding it
		if event == EventOfferTimedOut {
			c.Notify(ctx, "offer-timeout/"+choice.PartnerID+"/"+fmt.Sprint(c.Seq), notifications.SeverityWarning, false, "Partner did not accept this "+c.Label+" case", detail+"; offering the next partner.")
		}
		if err := c.Record(ctx, answer); err != nil {
			return err
		}
	}
	return nil
}

// ValidateOffer checks an accept or decline: from a partner, against the open offer.
func (c *Case) ValidateOffer(in StepInput) error {
	if in.Actor != ActorPartner {
		return Conflictf("step %q is a partner engineer's", in.Step)
	}
	if c.Stage != StageAssignment || c.Accepted || c.PartnerID != in.PartnerID || c.answer != "" {
		return Conflictf("no offer of this case is open to partner %s", in.PartnerID)
	}
	if in.Step == StepDecline {
		return DecodeValid[DeclineInput](in.Payload)
	}
	return nil
}

// RequirePartner checks that a partner step comes from the partner holding the case.
func (c *Case) RequirePartner(in StepInput) error {
	if in.Actor != ActorPartner {
		return Conflictf("step %q is a partner engineer's", in.Step)
	}
	if !c.Accepted || c.PartnerID != in.PartnerID {
		return Conflictf("the case is not assigned to partner %s", in.PartnerID)
	}
	return nil
}

// Accept applies a validated accept: the partner holds the case, which moves to stage — or, when it was
// offered again after its partner was withdrawn (Reoffer), back to the stage it was in. It returns the
// timeline line; note, when set, is added to it.
func (c *Case) Accept(ctx workflow.Context, _ StepInput, stage, note string) activities.Event {
	if c.ResumeStage != "" {
		stage, c.ResumeStage = c.ResumeStage, ""
	}
	c.Accepted, c.answer, c.Stage = true, StepAccept, stage
	// The line names the company, not the engineer: it reaches the customer (webhooks, the customer's view).
	detail := c.PartnerID + " accepted"
	if note != "" {
		detail += "; " + note
	}
	company := c.PartnerName
	if company == "" {
		company = c.PartnerID
	}
	ev := Tell(c.NewEvent(ctx, EventPartnerAccepted, ActorPartner, detail), NoticePartnerAssigned, "partner", company)
	if !c.offeredAt.IsZero() {
		at := c.offeredAt
		ev.OfferedAt = &at // the reports' time to accept
	}
	return ev
}

// Decline applies a validated decline; the assignment loop records it and offers the next partner.
func (c *Case) Decline(in StepInput) {
	c.answer, c.declineReason = StepDecline, MustDecode[DeclineInput](in.Payload).Reason
}

// partnerLabel names an offered partner for the timeline: its company name and ID.
func partnerLabel(p activities.ChoosePartnerResult) string {
	if p.PartnerName == "" || p.PartnerName == p.PartnerID {
		return p.PartnerID
	}
	return p.PartnerName + " (" + p.PartnerID + ")"
}

// answerWithdrawn is the answer Reoffer gives an open offer on the withdrawn partner's behalf.
const answerWithdrawn = "withdrawn"

// ReofferInput is the payload of UpdateReoffer: why the partner is withdrawn, for the timeline.
type ReofferInput struct {
	Reason string `json:"reason,omitempty"`
}

// Validate checks the reason's length and text.
func (r ReofferInput) Validate() error { return CheckText("reason", r.Reason, false) }

func (c *Case) registerReoffer(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateReoffer, func(ctx workflow.Context, in StepInput) (CaseView, error) {
		in.Step = UpdateReoffer
		run, _ := workflow.NewDisconnectedContext(ctx)
		return c.Reoffer(withStep(run, in), in)
	}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, in StepInput) error {
		return c.ValidateReoffer(in)
	}})
}

// ValidateReoffer checks an UpdateReoffer: from a manager or steward, for the partner the open case is
// held by or offered to (a repeat, once the partner is gone, is refused: it has nothing to do).
func (c *Case) ValidateReoffer(in StepInput) error {
	if in.Actor != ActorManager && in.Actor != ActorSystem {
		return Conflictf("withdrawing a partner is a manager's")
	}
	if err := c.RefuseClosed(); err != nil {
		return err
	}
	if in.PartnerID == "" || c.PartnerID != in.PartnerID {
		return Conflictf("the case is neither held by nor offered to partner %s", in.PartnerID)
	}
	if !c.Accepted && c.answer != "" {
		return Conflictf("partner %s has just answered the offer; try again", in.PartnerID)
	}
	if len(in.Payload) == 0 {
		return nil
	}
	return DecodeValid[ReofferInput](in.Payload)
}

// Reoffer applies a validated UpdateReoffer: the partner stops holding the case (or its open offer is
// withdrawn), which is offered again, to another partner; SLA clocks keep running, counted against no
// partner until one accepts. A case that was past assignment waits in stage assignment and goes back to
// its stage when the next partner accepts (Accept). The partner withdrawn is not offered it again in this
// run.
func (c *Case) Reoffer(ctx workflow.Context, in StepInput) (CaseView, error) {
	partner := in.PartnerID
	detail := partner + " withdrawn"
	if r := MustDecode[ReofferInput](in.Payload).Reason; r != "" {
		detail += ": " + r
	}
	detail += "; the case is offered again"
	held := c.Accepted
	if held {
		c.ResumeStage = c.Stage
		c.Accepted, c.Stage = false, StageAssignment
	} else {
		c.answer = answerWithdrawn // the assignment loop moves on to the next partner
	}
	c.PartnerID, c.PartnerName = "", ""
	ev := c.NewEvent(ctx, EventPartnerWithdrawn, in.Actor, detail)
	ev.PartnerID = partner // the line is about the partner withdrawn, no longer holding it
	if err := c.Record(ctx, ev); err != nil {
		return CaseView{}, err
	}
	c.Notify(ctx, "withdrawn/"+partner+"/"+fmt.Sprint(c.Seq), notifications.SeverityWarning, false, c.Label+" case offered again",
		detail+".")
	if held {
		c.startAssignment(c.run, []string{partner})
	}
	return c.View(workflow.Now(ctx)), nil
}

// ReofferOptions are the options of the UpdateReoffer that withdraws partnerID from the case workflowID,
// as a manager (by names who, for the timeline) for reason, sent at at, waiting for it to complete.
func ReofferOptions(workflowID, partnerID, by, reason string, at time.Time) client.UpdateWorkflowOptions {
	payload, _ := json.Marshal(ReofferInput{Reason: reason}) // a struct of one string always marshals
	in := StepInput{Step: UpdateReoffer, Actor: ActorManager, ActorName: by, PartnerID: partnerID, At: at.UTC(), Payload: payload}
	return client.UpdateWorkflowOptions{WorkflowID: workflowID, UpdateName: UpdateReoffer, Args: []any{in},
		WaitForStage: client.WorkflowUpdateStageCompleted}
}
