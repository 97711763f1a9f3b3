// Package hosting runs 服务器安全托管 (server security hosting) cases, per ECS per year (SPEC.md "Server
// security hosting"): partner assignment, then a year's term in which the customer's requests are taken
// against each ECS's quotas and worked by the partner; a renewal starts a further year with fresh quotas.
package hosting

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// WorkflowName is the type name HostingWorkflow is registered by, which histories and the API know.
const WorkflowName = "HostingWorkflow"

// StageHosted: a partner holds the case; requests inside the term are worked as they arrive. A hosting
// case is otherwise in workflows.StageAssignment, or ended in workflows.StageExpired.
const StageHosted = "hosted"

// Steps of a hosting case besides the kernel's. workflows.StepRequest and StepRenew come from the
// marketplace; the others from the assigned partner.
const (
	// StepComplete is the partner reporting a request done (CompleteInput).
	StepComplete = "complete"
	// StepRenew is the customer renewing for a further year before the term ends (RenewInput).
	StepRenew = "renew"
)

// Steps lists the steps partner engineers send to a hosting case.
var Steps = []string{workflows.StepAccept, workflows.StepDecline, StepComplete}

// Updates lists every step the case takes, each its own Workflow Update: the partners' and those the
// marketplace relays from the customer.
var Updates = append(slices.Clone(Steps), workflows.StepRequest, StepRenew)

// Kinds lists the request kinds, in the order quota states show them.
var Kinds = []string{sla.HostingSecurityCheck, sla.HostingHardening, sla.HostingPatching, sla.HostingIncident}

// Lifecycle is how the worker registers hosting cases and the API starts them.
var Lifecycle = workflows.Lifecycle{
	Workflows: []workflows.Registration{{Name: WorkflowName, Workflow: Workflow}},
	Input:     func(in workflows.CaseInput) any { return Input{CaseInput: in} },
	Steps:     Steps,
	Updates:   Updates,
}

const label = "服务器安全托管"

// Input starts or continues a hosting case. It marshals like a CaseInput, which is what the API starts
// it with; State is set only when a run continues as new.
type Input = workflows.Continued[State]

// Result is how a hosting case ended.
type Result = workflows.Ended[State]

// State is what continue-as-new carries into the next run (and a Result returns): the kernel's core and
// the hosting's year.
type State struct {
	Core workflows.CoreState `json:"core"`
	Year
}

// Details is the case view's details: the runs so far and the hosting's year.
type Details struct {
	// Runs counts the workflow runs of the case, 1 for the first.
	Runs int `json:"runs"`
	Year
}

// Year is the hosting's current year of service: its term, the quotas used and the requests.
type Year struct {
	// Term counts the years of service, from 1; quotas count per term.
	Term      int       `json:"term"`
	TermStart time.Time `json:"term_start"`
	TermEnd   time.Time `json:"term_end"`
	// Renewals counts the further years bought and not yet begun.
	Renewals int `json:"renewals"`
	// Instances are the ECS that made requests this term, at most the order's quantity, with their use.
	Instances []HostedInstance `json:"instances"`
	// Requests are this term's requests and any still open from earlier terms.
	Requests []Request `json:"requests"`
	// NextRequest numbers the next request (r1, r2, …) across terms.
	NextRequest int `json:"next_request"`
	// Reminded lists the reminders sent this term, in days before its end.
	Reminded []int `json:"reminded,omitempty"`
}

func (y Year) clone() Year {
	y.Instances, y.Requests, y.Reminded = slices.Clone(y.Instances), slices.Clone(y.Requests), slices.Clone(y.Reminded)
	return y
}

// HostedInstance is one hosted ECS and what it has used of its quotas this term.
type HostedInstance struct {
	InstanceID    string `json:"instance_id"`
	SecurityCheck int    `json:"security_check"`
	Hardening     int    `json:"hardening"`
	Patching      int    `json:"patching"`
	Incident      int    `json:"incident"`
}

func (h *HostedInstance) used(kind string) *int {
	switch kind {
	case sla.HostingSecurityCheck:
		return &h.SecurityCheck
	case sla.HostingHardening:
		return &h.Hardening
	case sla.HostingPatching:
		return &h.Patching
	default:
		return &h.Incident
	}
}

// quotaState lists the limited quotas' use, e.g. "security_check 1/1, hardening 0/1, incident 2/2".
func (h HostedInstance) quotaState() string {
	var parts []string
	for _, k := range Kinds {
		if q, _ := sla.HostingQuota(k); q > 0 {
			parts = append(parts, fmt.Sprintf("%s %d/%d", k, *h.used(k), q))
		}
	}
	return strings.Join(parts, ", ")
}

// Request is an accepted request: a work record the partner completes.
type Request struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	InstanceID  string     `json:"instance_id"`
	Summary     string     `json:"summary"`
	Term        int        `json:"term"`
	RequestedAt time.Time  `json:"requested_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	Resolution  string     `json:"resolution,omitempty"`
}

// RequestInput is a customer's request inside the term, relayed by the marketplace (workflows.StepRequest).
type RequestInput struct {
	Kind       string `json:"kind"`
	InstanceID string `json:"instance_id"`
	Summary    string `json:"summary"`
}

// Validate checks the request's fields.
func (r RequestInput) Validate() error {
	if !slices.Contains(Kinds, r.Kind) {
		return fmt.Errorf("kind: one of %s", strings.Join(Kinds, ", "))
	}
	if r.InstanceID == "" || len(r.InstanceID) > 128 || !workflows.ValidID(r.InstanceID) {
		return errors.New("instance_id: 1-128 characters of letters, digits, '-', '_' and '.'")
	}
	return workflows.CheckText("summary", r.Summary, true)
}

// CompleteInput is the partner reporting a request (a work record) done.
type CompleteInput struct {
	RequestID string `json:"request_id"`
	Summary   string `json:"summary"`
}

// Validate checks the completion's fields.
func (c CompleteInput) Validate() error {
	if strings.TrimSpace(c.RequestID) == "" {
		return errors.New("request_id: required")
	}
	return workflows.CheckText("summary", c.Summary, true)
}

// RenewInput is the customer's renewal for a further year. OrderID, when given, is the renewal's order,
// kept for the audit trail.
type RenewInput struct {
	OrderID string `json:"order_id,omitempty"`
}

// Validate checks the renewal's fields.
func (r RenewInput) Validate() error {
	if r.OrderID != "" && (len(r.OrderID) > 64 || !workflows.ValidID(r.OrderID)) {
		return errors.New("order_id: 1-64 characters of letters, digits, '-', '_' and '.'")
	}
	return nil
}

// Workflow runs one server-hosting case: partner assignment, then a year's term in which the customer's
// requests are taken against each ECS's quotas and worked by the partner. A renewal before the term ends
// starts a new year with fresh quotas; otherwise the case expires at the term's end. It continues as new
// before its history grows large.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	h := &hostingCase{Case: workflows.NewCase(in.CaseInput, label)}
	h.SLAStatus, h.Expect = h.slaStatus, h.expect
	ctx, err := h.setup(ctx, in.State)
	if err != nil {
		return Result{}, err
	}
	return h.run(ctx)
}

type hostingCase struct {
	*workflows.Case
	Year
}

func (h *hostingCase) setup(ctx workflow.Context, resume *State) (workflow.Context, error) {
	var core *workflows.CoreState
	if resume != nil {
		h.Year, core = resume.Year, &resume.Core
	} else {
		h.Year = Year{Term: 1, TermStart: h.In.PaidAt.UTC(), TermEnd: sla.HostingTermEnd(h.In.PaidAt, 1), NextRequest: 1}
	}
	if h.In.Service != workflows.ServiceHosting {
		return ctx, temporal.NewNonRetryableApplicationError(fmt.Sprintf("service: %q is not %s", h.In.Service, workflows.ServiceHosting), workflows.RejectInvalid, nil)
	}
	return h.Setup(ctx, core, h.view, Updates, h.step, h.validateStep)
}

func (h *hostingCase) run(ctx workflow.Context) (Result, error) {
	if err := h.RecordOpened(ctx, fmt.Sprintf("order %s paid at %s for %d ECS; the first year ends on %s",
		h.In.OrderID, workflows.When(h.In.PaidAt), h.In.Quantity, h.termEndDate())); err != nil {
		return Result{}, err
	}
	h.StartAssignment(ctx)
	workflow.Go(ctx, h.watchTerm)
	cont, err := h.AwaitEndOrContinue(ctx)
	if err != nil {
		return Result{}, err
	}
	st := State{Core: h.CoreState, Year: h.Year}
	if cont {
		return Result{}, workflow.NewContinueAsNewError(ctx, WorkflowName, Input{CaseInput: h.In, State: &st})
	}
	return Result{CaseID: h.In.CaseID, Stage: h.Stage, State: st}, nil
}

func (h *hostingCase) termEndDate() string { return sla.ChinaDate(h.TermEnd) }

// watchTerm reminds the customer before a term ends unless it renewed, then at the end starts the next
// term (quotas reset) or closes the case as expired.
func (h *hostingCase) watchTerm(ctx workflow.Context) {
	for !h.IsClosed() {
		for _, days := range sla.TermReminderDays {
			if slices.Contains(h.Reminded, days) {
				continue
			}
			at := h.TermEnd.AddDate(0, 0, -days)
			if _, err := workflows.AwaitUntil(ctx, at, fmt.Sprintf("term %d reminder, %d days before the year ends", h.Term, days),
				func() bool { return h.IsClosed() || h.Renewals > 0 }); err != nil || h.IsClosed() {
				return
			}
			if h.Renewals > 0 {
				break // renewed: nothing to remind of this term
			}
			h.Reminded = append(h.Reminded, days)
			if workflow.Now(ctx).After(at.Add(sla.ReminderTooLate)) {
				continue // a run resumed after the reminder's day: too late to remind
			}
			release := h.Hold()
			detail := fmt.Sprintf("%d days left in year %d of the hosting (ends %s) and no renewal yet", days, h.Term, h.termEndDate())
			h.recordAndNotify(ctx, workflows.EventTermReminder, detail, fmt.Sprintf("term-reminder/%d/%d", h.Term, days),
				notifications.SeverityWarning, fmt.Sprintf("%s term ends in %d days", label, days))
			release()
		}
		if _, err := workflows.AwaitUntil(ctx, h.TermEnd, fmt.Sprintf("end of hosting year %d", h.Term), h.IsClosed); err != nil || h.IsClosed() {
			return
		}
		release := h.Hold()
		if h.Renewals == 0 {
			h.expire(ctx)
			release()
			return
		}
		h.newTerm(ctx)
		release()
	}
}

// recordAndNotify records a line of the term's watch and tells operations and the partner of it.
func (h *hostingCase) recordAndNotify(ctx workflow.Context, event workflows.Event, detail, key string, sev notifications.Severity, title string) {
	if err := h.Record(ctx, h.NewEvent(ctx, event, workflows.ActorSystem, detail)); err != nil {
		h.Logger.Error("record "+string(event), "Error", err)
	}
	h.Notify(ctx, key, sev, true, title, detail)
}

// newTerm starts the next year: quotas reset, done requests of the past year leave the state (the
// timeline keeps them), open ones stay open.
func (h *hostingCase) newTerm(ctx workflow.Context) {
	h.Renewals--
	h.Term++
	h.TermStart, h.TermEnd = h.TermEnd, sla.HostingTermEnd(h.In.PaidAt, h.Term)
	h.Instances, h.Reminded = nil, nil
	h.Requests = slices.DeleteFunc(h.Requests, func(r Request) bool { return r.CompletedAt != nil })
	detail := fmt.Sprintf("year %d of the hosting began; it ends on %s; quotas are reset", h.Term, h.termEndDate())
	if n := len(h.Requests); n > 0 {
		detail += fmt.Sprintf("; %d requests from earlier years are still open", n)
	}
	h.recordAndNotify(ctx, workflows.EventTermRenewed, detail, fmt.Sprintf("term-renewed/%d", h.Term),
		notifications.SeverityInfo, label+" renewed for another year")
}

func (h *hostingCase) expire(ctx workflow.Context) {
	h.EndAs(ctx, workflows.StageExpired)
	detail := fmt.Sprintf("year %d of the hosting ended on %s without a renewal", h.Term, h.termEndDate())
	if open := h.openRequests(); len(open) > 0 {
		detail += "; requests left open: " + strings.Join(open, ", ")
	}
	h.recordAndNotify(ctx, workflows.EventTermEnded, detail, "term-ended", notifications.SeverityWarning, label+" ended without a renewal")
}

func (h *hostingCase) openRequests() []string {
	var ids []string
	for _, r := range h.Requests {
		if r.CompletedAt == nil {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func (h *hostingCase) instance(id string) *HostedInstance {
	i := slices.IndexFunc(h.Instances, func(x HostedInstance) bool { return x.InstanceID == id })
	if i < 0 {
		return nil
	}
	return &h.Instances[i]
}

func (h *hostingCase) request(id string) *Request {
	i := slices.IndexFunc(h.Requests, func(r Request) bool { return r.ID == id })
	if i < 0 {
		return nil
	}
	return &h.Requests[i]
}

func (h *hostingCase) validateStep(_ workflow.Context, in workflows.StepInput) error {
	if err := h.RefuseClosed(); err != nil {
		return err
	}
	switch in.Step {
	case workflows.StepRequest, StepRenew:
		if in.Actor != workflows.ActorMarketplace {
			return workflows.Conflictf("step %q comes from the customer through the marketplace", in.Step)
		}
		if in.Step == StepRenew {
			return workflows.DecodeValid[RenewInput](in.Payload)
		}
		if err := workflows.DecodeValid[RequestInput](in.Payload); err != nil {
			return err
		}
		return h.checkQuota(workflows.MustDecode[RequestInput](in.Payload))
	case workflows.StepAccept, workflows.StepDecline:
		return h.ValidateOffer(in)
	case StepComplete:
		if err := h.RequirePartner(in); err != nil {
			return err
		}
		if err := workflows.DecodeValid[CompleteInput](in.Payload); err != nil {
			return err
		}
		c := workflows.MustDecode[CompleteInput](in.Payload)
		switch r := h.request(c.RequestID); {
		case r == nil:
			return workflows.Conflictf("no open request %s; open requests: %s", c.RequestID, workflows.OrDash(strings.Join(h.openRequests(), ", ")))
		case r.CompletedAt != nil:
			return workflows.Conflictf("request %s was completed at %s", r.ID, workflows.When(*r.CompletedAt))
		}
		return nil
	}
	return workflows.Conflictf("unknown step %q", in.Step)
}

// checkQuota refuses a request beyond the ECS count of the order or beyond its ECS's quota this term.
func (h *hostingCase) checkQuota(r RequestInput) error {
	inst := h.instance(r.InstanceID)
	if inst == nil {
		if len(h.Instances) >= h.In.Quantity {
			ids := make([]string, len(h.Instances))
			for i, x := range h.Instances {
				ids[i] = x.InstanceID
			}
			return workflows.Conflictf("all %d hosted ECS are in use: %s; %s is not one of them", h.In.Quantity, strings.Join(ids, ", "), r.InstanceID)
		}
		return nil
	}
	q, err := sla.HostingQuota(r.Kind)
	if err != nil {
		return workflows.Invalidf("kind: %v", err)
	}
	if q != sla.Unlimited && *inst.used(r.Kind) >= q {
		msg := fmt.Sprintf("%s quota used up for %s this term: %d of %d (%s); the term ends on %s, and a renewal (POST /v1/cases/%s/renew) starts a year with fresh quotas",
			r.Kind, r.InstanceID, *inst.used(r.Kind), q, inst.quotaState(), h.termEndDate(), h.In.CaseID)
		return temporal.NewNonRetryableApplicationError(msg, workflows.RejectQuota, nil, workflows.QuotaRefusal{Kind: r.Kind, InstanceID: r.InstanceID,
			Used: *inst.used(r.Kind), Quota: q, QuotaState: inst.quotaState(), TermEnd: h.termEndDate()})
	}
	return nil
}

func (h *hostingCase) step(ctx workflow.Context, in workflows.StepInput) (workflows.CaseView, error) {
	now := workflow.Now(ctx)
	var ev activities.Event
	var note func()
	switch in.Step {
	case workflows.StepAccept:
		var waiting string
		if open := h.openRequests(); len(open) > 0 {
			waiting = "requests waiting: " + strings.Join(open, ", ")
		}
		ev = h.Accept(ctx, in, StageHosted, waiting)
	case workflows.StepDecline:
		h.Decline(in)
		return h.view(now), nil
	case workflows.StepRequest:
		ev, note = h.takeRequest(ctx, workflows.MustDecode[RequestInput](in.Payload), now)
	case StepComplete:
		c := workflows.MustDecode[CompleteInput](in.Payload)
		r := h.request(c.RequestID)
		r.CompletedAt, r.Resolution = &now, c.Summary
		ev = h.NewEvent(ctx, workflows.EventRequestCompleted, workflows.ActorPartner, fmt.Sprintf("%s (%s on %s) done: %s", r.ID, r.Kind, r.InstanceID, c.Summary))
	case StepRenew:
		r := workflows.MustDecode[RenewInput](in.Payload)
		h.Renewals++
		detail := "renewed for another year: the hosting now runs until " + sla.ChinaDate(sla.HostingTermEnd(h.In.PaidAt, h.Term+h.Renewals))
		if r.OrderID != "" {
			detail += " (order " + r.OrderID + ")"
		}
		ev = h.NewEvent(ctx, workflows.EventRenewed, workflows.ActorMarketplace, detail)
	}
	if err := h.Record(ctx, ev); err != nil {
		return workflows.CaseView{}, err
	}
	if note != nil {
		note()
	}
	return h.view(workflow.Now(ctx)), nil
}

// takeRequest counts a validated request against its ECS's quota and opens its work record; it returns
// the timeline line and the partner's notification, to send once the line is recorded.
func (h *hostingCase) takeRequest(ctx workflow.Context, r RequestInput, now time.Time) (activities.Event, func()) {
	inst := h.instance(r.InstanceID)
	if inst == nil {
		h.Instances = append(h.Instances, HostedInstance{InstanceID: r.InstanceID})
		inst = &h.Instances[len(h.Instances)-1]
	}
	*inst.used(r.Kind)++
	req := Request{ID: fmt.Sprintf("r%d", h.NextRequest), Kind: r.Kind, InstanceID: r.InstanceID, Summary: r.Summary, Term: h.Term, RequestedAt: now}
	h.NextRequest++
	h.Requests = append(h.Requests, req)
	detail := fmt.Sprintf("%s: %s on %s (%s): %s", req.ID, r.Kind, r.InstanceID, inst.quotaState(), r.Summary)
	return h.NewEvent(ctx, workflows.EventRequestReceived, workflows.ActorMarketplace, detail), func() {
		h.Notify(ctx, "request/"+req.ID, notifications.SeverityInfo, true, fmt.Sprintf("%s request %s: %s on %s", label, req.ID, r.Kind, r.InstanceID),
			fmt.Sprintf("%s\nComplete it with POST /v1/cases/%s/steps/%s {\"request_id\":%q}.", detail, h.In.CaseID, StepComplete, req.ID))
	}
}

// expect is the step the case waits for and from whom, for the Web UI.
func (h *hostingCase) expect() string {
	open := 0
	for _, r := range h.Requests {
		if r.CompletedAt == nil {
			open++
		}
	}
	if h.Stage != StageHosted {
		return ""
	}
	if open > 0 {
		return fmt.Sprintf("partner %s: complete %d open request(s) (%s); the term ends %s", h.PartnerID, open, StepComplete, h.termEndDate())
	}
	return "customer, through the marketplace: requests within the quotas, or a renewal; the term ends " + h.termEndDate()
}

// slaStatus: a hosting year has no clocks; its next deadline is the term's end, met once the case ends.
func (h *hostingCase) slaStatus(time.Time) (string, *time.Time) {
	if h.IsClosed() {
		return workflows.SLAMet, nil
	}
	end := h.TermEnd
	return workflows.SLAOnTrack, &end
}

// view is the case view with the term as its one SLA line; it only reads.
func (h *hostingCase) view(now time.Time) workflows.CaseView {
	v := h.BaseView(now, Details{Runs: h.Runs, Year: h.Year.clone()})
	end := h.TermEnd
	term := workflows.SLAEntry{Clause: sla.ClauseTerm, DueAt: &end}
	if h.IsClosed() {
		term.CompletedAt = h.Closed
	}
	v.SLA = append(v.SLA, workflows.Judge(term, false, now))
	return v
}
