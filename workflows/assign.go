package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
)

// StartAssignment offers the case to partners in the background unless a partner already holds it.
func (c *Case) StartAssignment(ctx workflow.Context) {
	if c.IsClosed() || c.Accepted {
		return
	}
	c.offered = nil
	workflow.Go(ctx, func(ctx workflow.Context) {
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
		if err := RunLocal(ctx, 30*time.Second, "choose a partner", a.ChoosePartner, in, &choice); err != nil {
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
				if err := c.Record(ctx, c.NewEvent(ctx, EventNoPartnerAvailable, ActorSystem, detail)); err != nil {
					return err
				}
				c.Notify(ctx, "no-partner", notifications.SeverityCritical, false, "No partner available for this "+c.Label+" case", detail+". Add capacity or assign by hand.")
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
		if err := c.Record(ctx, c.NewEvent(ctx, EventPartnerOffered, ActorSystem, fmt.Sprintf("offered to %s, load %d of %d; accept by %s",
			partnerLabel(choice), choice.Load, choice.Capacity, When(deadline)))); err != nil {
			return err
		}
		c.Notify(ctx, "offer/"+choice.PartnerID+"/"+fmt.Sprint(c.Seq), notifications.SeverityInfo, true, "New "+c.Label+" case offered to "+choice.PartnerID,
			fmt.Sprintf("Accept by %s (POST /v1/cases/%s/steps/%s) or decline.", When(deadline), c.In.CaseID, StepAccept))
		if _, err := AwaitUntil(ctx, deadline, fmt.Sprintf("offer to %s: accept by %s", choice.PartnerID, When(deadline)), func() bool { return c.answer != "" || c.IsClosed() }); err != nil {
			return err
		}
		if c.Accepted || c.IsClosed() {
			return nil
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
		if err := c.Record(ctx, answer); err != nil {
			return err
		}
		if event == EventOfferTimedOut {
			c.Notify(ctx, "offer-timeout/"+choice.PartnerID+"/"+fmt.Sprint(c.Seq), notifications.SeverityWarning, false, "Partner did not accept this "+c.Label+" case", detail+"; offering the next partner.")
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

// Accept applies a validated accept: the partner holds the case, which moves to stage. It returns the
// timeline line; note, when set, is added to it.
func (c *Case) Accept(ctx workflow.Context, _ StepInput, stage, note string) activities.Event {
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
