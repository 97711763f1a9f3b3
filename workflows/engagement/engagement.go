// Package engagement runs the services of the catalogue billed per engagement (or, for code audit, by
// code volume) — consulting, training, assessment, code audit and product onboarding — on the case
// kernel: partner assignment (skill = the service), schedule, delivery, the deliverable rendered as a
// service report, then the customer's verdict. A schedule still missing sla.ScheduleDeadline (5 working
// days) after acceptance alerts operations and the partner; a rejection sends the case back to delivery;
// without a verdict within the service's verdict window (sla.Verdict, 7 natural days) the delivery is
// deemed accepted.
package engagement

import (
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

// WorkflowName is the type name Workflow is registered by, which histories and the API know.
const WorkflowName = "EngagementWorkflow"

// DocumentKind is the report kind of the deliverable an engagement renders: its service report.
const DocumentKind = activities.KindServiceReport

// Services are the services Workflow runs.
var Services = []string{sla.ServiceConsulting, sla.ServiceTraining, sla.ServiceAssessment, sla.ServiceCodeAudit, sla.ServiceOnboarding}

// Engagement stages, besides the kernel's StageAssignment, StageReport (the deliverable is due) and
// StageClosed.
const (
	// StageScheduling: a partner accepted; the engagement's dates are due.
	StageScheduling = "scheduling"
	// StageDelivery: scheduled; the work is being delivered (again, after a rejection).
	StageDelivery = "delivery"
	// StageAcceptance: the deliverable is with the customer for a verdict.
	StageAcceptance = "acceptance"
)

// Engagement steps, besides the kernel's StepAccept, StepDecline and StepDeliverable (DeliverableInput).
const (
	// StepSchedule sets or moves the dates (ScheduleInput); the assigned partner's.
	StepSchedule = "schedule"
	// StepDeliver reports a round of work delivered (DeliverInput); the assigned partner's.
	StepDeliver = "deliver"
	// StepAcceptDelivery is the customer's acceptance (AcceptDeliveryInput), through the marketplace.
	StepAcceptDelivery = "accept_delivery"
	// StepRejectDelivery is the customer's rejection (RejectDeliveryInput), through the marketplace.
	StepRejectDelivery = "reject_delivery"
)

// Steps lists the steps partner engineers send to an engagement case.
var Steps = []string{workflows.StepAccept, workflows.StepDecline, StepSchedule, StepDeliver, workflows.StepDeliverable}

// Updates lists every step the case takes, each its own Workflow Update: the partners' and those the
// marketplace relays from the customer.
var Updates = append(slices.Clone(Steps), StepAcceptDelivery, StepRejectDelivery)

// ClauseAcceptance names the verdict window's line in the case view's SLA list; it carries no refund.
const ClauseAcceptance = "acceptance"

// ClauseSchedule names the schedule's deadline (sla.ScheduleDeadline) in the case view's SLA list: breached
// once it passed without a schedule, and carrying no refund.
const ClauseSchedule = "schedule"

// Lifecycle is how the worker and the API run engagement cases.
var Lifecycle = workflows.Lifecycle{
	Workflows: []workflows.Registration{{Name: WorkflowName, Workflow: Workflow}},
	Input:     func(c workflows.CaseInput) any { return Input{CaseInput: c} },
	Steps:     Steps,
	Updates:   Updates,
}

var labels = map[string]string{
	sla.ServiceConsulting: "安全咨询", sla.ServiceTraining: "安全培训", sla.ServiceAssessment: "安全评估",
	sla.ServiceCodeAudit: "代码审计", sla.ServiceOnboarding: "产品接入服务",
}

// Label names an engagement service as the provider's catalogue does.
func Label(service string) string {
	if l, ok := labels[service]; ok {
		return l
	}
	return service
}

// Schedule is the engagement's dates in force.
type Schedule struct {
	ScheduleInput
	Version int       `json:"version"`
	SetAt   time.Time `json:"set_at"`
	// FirstSetAt is when the first version was set, which met (or missed) the schedule's deadline.
	FirstSetAt time.Time `json:"first_set_at"`
}

// Delivery is one round of delivered work.
type Delivery struct {
	Round       int       `json:"round"`
	Summary     string    `json:"summary"`
	DeliveredAt time.Time `json:"delivered_at"`
}

// Document is a delivered document (a DocumentKind version).
type Document struct {
	Title       string    `json:"title"`
	Version     int       `json:"version"`
	DeliveredAt time.Time `json:"delivered_at"`
}

// Verdict is the customer's rejection of a deliverable.
type Verdict struct {
	Version int       `json:"version"`
	Comment string    `json:"comment"`
	At      time.Time `json:"at"`
}

// Work is what the engagement has done so far: its volume, schedule, deliveries, documents and the
// customer's verdicts. State carries it and Details shows it.
type Work struct {
	// KLOC is a code audit's volume, thousands of lines of code (the order's quantity).
	KLOC       int        `json:"kloc,omitempty"`
	Schedule   *Schedule  `json:"schedule,omitempty"`
	Deliveries []Delivery `json:"deliveries"`
	Documents  []Document `json:"documents"`
	Rejections []Verdict  `json:"rejections"`
	// ScheduleDue is when the schedule is due (sla.ScheduleDeadline from the partner's acceptance);
	// ScheduleOverdue says operations and the partner were alerted that it passed without one.
	ScheduleDue     *time.Time `json:"schedule_due,omitempty"`
	ScheduleOverdue bool       `json:"schedule_overdue,omitempty"`
	AcceptedAt      *time.Time `json:"accepted_at,omitempty"`
	DeemedAccept    bool       `json:"deemed_accepted,omitempty"`
	Rating          int        `json:"rating,omitempty"`
	Comment         string     `json:"comment,omitempty"`
}

// State is what continue-as-new carries into the next run.
type State struct {
	Core workflows.CoreState `json:"core"`
	Work
}

// Details is the case view's details: the engagement's work and the case's runs.
type Details struct {
	Runs int `json:"runs"`
	Work
}

// Input starts or continues an engagement case. It marshals like a CaseInput, which is what the API
// starts it with; State is set only when a run continues as new.
type Input struct {
	workflows.CaseInput
	// VerdictWindow is how long, from a deliverable's delivery, the customer has for a verdict before it is
	// deemed accepted; zero means the service's (sla.Verdict: 7 natural days). The purchase API does not set
	// it; a run that continues as new carries the window it started with.
	VerdictWindow time.Duration `json:"verdict_window,omitempty"`
	State         *State        `json:"state,omitempty"`
}

// Result is how an engagement case ended.
type Result = workflows.Ended[State]

// Workflow runs one case of any of Services.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	if !slices.Contains(Services, in.Service) {
		return Result{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("service: %q is not one of %s",
			in.Service, strings.Join(Services, ", ")), workflows.RejectInvalid, nil)
	}
	terms, err := sla.Verdict(in.Service)
	if err == nil {
		terms, err = terms.Override(in.VerdictWindow, 0)
	}
	if err != nil {
		return Result{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.RejectInvalid, nil)
	}
	e := &engagementCase{Case: workflows.NewCase(in.CaseInput, Label(in.Service)), window: terms.Window}
	e.SLAStatus, e.Expect = e.slaStatus, e.expect
	ctx, err = e.setup(ctx, in.State)
	if err != nil {
		return Result{}, err
	}
	return e.run(ctx)
}

type engagementCase struct {
	*workflows.Case
	Work
	window time.Duration // the verdict window
}

func (e *engagementCase) setup(ctx workflow.Context, resume *State) (workflow.Context, error) {
	var core *workflows.CoreState
	if resume != nil {
		core, e.Work = &resume.Core, resume.Work
	} else {
		e.Work = Work{Deliveries: []Delivery{}, Documents: []Document{}, Rejections: []Verdict{}}
		if e.In.Service == sla.ServiceCodeAudit {
			e.KLOC = e.In.Quantity
		}
	}
	return e.Setup(ctx, core, e.view, Updates, e.step, e.validate)
}

func (e *engagementCase) run(ctx workflow.Context) (Result, error) {
	ctx = workflow.WithActivityOptions(ctx, workflows.ActivityOptions)
	paid := workflows.When(e.In.PaidAt)
	detail := fmt.Sprintf("order %s paid at %s: %s, quantity %d", e.In.OrderID, paid, e.Label, e.In.Quantity)
	if e.In.Service == sla.ServiceCodeAudit {
		detail = fmt.Sprintf("order %s paid at %s: %s of %d KLOC", e.In.OrderID, paid, e.Label, e.KLOC)
	}
	if err := e.RecordOpened(ctx, detail); err != nil {
		return Result{}, err
	}
	e.StartAssignment(ctx)
	workflow.Go(ctx, e.watchSchedule)
	workflow.Go(ctx, e.watchVerdict)
	cont, err := e.AwaitEndOrContinue(ctx)
	if err != nil {
		return Result{}, err
	}
	st := State{Core: e.CoreState, Work: e.Work}
	if cont {
		return Result{}, workflow.NewContinueAsNewError(ctx, WorkflowName, Input{CaseInput: e.In, VerdictWindow: e.window, State: &st})
	}
	return Result{CaseID: e.In.CaseID, Stage: e.Stage, State: st}, nil
}

// watchSchedule alerts operations and the partner, once, when the schedule is still missing at its due
// instant (sla.ScheduleDeadline after acceptance). The case goes on waiting for it.
func (e *engagementCase) watchSchedule(ctx workflow.Context) {
	if err := workflow.Await(ctx, func() bool { return e.IsClosed() || e.ScheduleDue != nil }); err != nil || e.IsClosed() {
		return
	}
	if e.ScheduleOverdue {
		return // alerted in an earlier run
	}
	due := *e.ScheduleDue
	set := func() bool { return e.IsClosed() || e.Schedule != nil }
	if ok, err := workflows.AwaitUntil(ctx, due, "schedule due ("+sla.ScheduleDeadline.String()+" after acceptance)", set); err != nil || ok {
		return
	}
	defer e.Hold()()
	e.ScheduleOverdue = true
	detail := fmt.Sprintf("no schedule %s after the partner accepted (due %s); operations and the partner were alerted",
		sla.ScheduleDeadline, workflows.When(due))
	if err := e.Record(ctx, e.NewEvent(ctx, workflows.EventScheduleOverdue, workflows.ActorSystem, detail)); err != nil {
		e.Logger.Error("record overdue schedule", "Error", err)
	}
	e.Notify(ctx, "schedule-overdue", notifications.SeverityWarning, true, e.Label+" schedule overdue",
		fmt.Sprintf("No schedule %s after %s accepted (due %s). The partner agrees the dates with the customer and sends POST /v1/cases/%s/steps/%s.",
			sla.ScheduleDeadline, e.PartnerID, workflows.When(due), e.In.CaseID, StepSchedule))
}

// verdictDue is when the open deliverable is deemed accepted; zero outside stage acceptance.
func (e *engagementCase) verdictDue() time.Time {
	if e.Stage != StageAcceptance || len(e.Documents) == 0 {
		return time.Time{}
	}
	return e.Documents[len(e.Documents)-1].DeliveredAt.Add(e.window)
}

// watchVerdict deems a deliverable accepted when the customer gives no verdict within the verdict window.
func (e *engagementCase) watchVerdict(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return e.IsClosed() || e.Stage == StageAcceptance }); err != nil || e.IsClosed() {
			return
		}
		version := len(e.Documents)
		answered := func() bool { return e.IsClosed() || e.Stage != StageAcceptance || len(e.Documents) != version }
		ok, err := workflows.AwaitUntil(ctx, e.verdictDue(), fmt.Sprintf("customer's verdict on deliverable v%d", version), answered)
		if err != nil {
			return
		}
		if ok {
			continue // a verdict came (or the case closed): wait for the next deliverable
		}
		release := e.Hold()
		now := workflow.Now(ctx)
		e.AcceptedAt, e.DeemedAccept = &now, true
		e.EndAs(ctx, workflows.StageClosed)
		detail := fmt.Sprintf("no verdict on deliverable v%d within %s: deemed accepted", version, windowText(e.window))
		if err := e.Record(ctx, e.NewEvent(ctx, workflows.EventDeliveryDeemedAccepted, workflows.ActorSystem, detail)); err != nil {
			e.Logger.Error("record deemed acceptance", "Error", err)
		}
		e.Notify(ctx, "deemed-accepted", notifications.SeverityInfo, true, e.Label+" delivery deemed accepted", detail)
		release()
		return
	}
}

func (e *engagementCase) validate(_ workflow.Context, in workflows.StepInput) error {
	if err := e.RefuseClosed(); err != nil {
		return err
	}
	switch in.Step {
	case workflows.StepAccept, workflows.StepDecline:
		return e.ValidateOffer(in)
	case StepAcceptDelivery, StepRejectDelivery:
		if in.Actor != workflows.ActorMarketplace {
			return workflows.Conflictf("step %q is the customer's, through the marketplace", in.Step)
		}
		if err := e.inStage(in, StageAcceptance); err != nil {
			return err
		}
		if in.Step == StepAcceptDelivery {
			return workflows.DecodeValid[AcceptDeliveryInput](in.Payload)
		}
		return workflows.DecodeValid[RejectDeliveryInput](in.Payload)
	case StepSchedule, StepDeliver, workflows.StepDeliverable:
		if err := e.RequirePartner(in); err != nil {
			return err
		}
	default:
		return workflows.Conflictf("unknown step %q", in.Step)
	}
	switch in.Step {
	case StepSchedule:
		return e.validateSchedule(in)
	case StepDeliver:
		if err := e.inStage(in, StageDelivery); err != nil {
			return err
		}
		return workflows.DecodeValid[DeliverInput](in.Payload)
	}
	if err := e.inStage(in, workflows.StageReport); err != nil {
		return err
	}
	return workflows.DecodeValid[DeliverableInput](in.Payload)
}

func (e *engagementCase) inStage(in workflows.StepInput, want ...string) error {
	if !slices.Contains(want, e.Stage) {
		return workflows.Conflictf("step %s is for stage %s; the case is in stage %s", in.Step, strings.Join(want, " or "), e.Stage)
	}
	return nil
}

// validateSchedule lets the dates move until the work is first delivered, never to before the purchase.
func (e *engagementCase) validateSchedule(in workflows.StepInput) error {
	if err := e.inStage(in, StageScheduling, StageDelivery); err != nil {
		return err
	}
	if len(e.Deliveries) > 0 {
		return workflows.Conflictf("the work was delivered on %s; the schedule can no longer change", sla.ChinaDate(e.Deliveries[0].DeliveredAt))
	}
	if err := workflows.DecodeValid[ScheduleInput](in.Payload); err != nil {
		return err
	}
	s := workflows.MustDecode[ScheduleInput](in.Payload)
	if paid := sla.ChinaDate(e.In.PaidAt); s.StartsOn < paid {
		return workflows.Invalidf("starts_on: %s is before the purchase on %s", s.StartsOn, paid)
	}
	return nil
}

func (e *engagementCase) step(ctx workflow.Context, in workflows.StepInput) (workflows.CaseView, error) {
	now := workflow.Now(ctx)
	var ev activities.Event
	var note func()
	switch in.Step {
	case workflows.StepAccept:
		due, err := workflows.DeadlineFrom(ctx, sla.ScheduleDeadline, workflows.StepInstant(in, now))
		if err != nil {
			return workflows.CaseView{}, err
		}
		e.ScheduleDue = &due
		ev = e.Accept(ctx, in, StageScheduling, "schedule due by "+workflows.When(due))
	case workflows.StepDecline:
		e.Decline(in)
		return e.view(now), nil
	case StepSchedule:
		s := workflows.MustDecode[ScheduleInput](in.Payload)
		version, detail, first := 1, fmt.Sprintf("%s to %s: %s", s.StartsOn, s.EndsOn, s.Summary), now
		if e.Schedule != nil {
			version, detail, first = e.Schedule.Version+1, "rescheduled, "+detail, e.Schedule.FirstSetAt
		} else if e.ScheduleDue != nil && now.After(*e.ScheduleDue) {
			detail += fmt.Sprintf(" (late: due %s)", workflows.When(*e.ScheduleDue))
		}
		e.Schedule = &Schedule{ScheduleInput: s, Version: version, SetAt: now, FirstSetAt: first}
		e.Stage = StageDelivery
		ev = e.NewEvent(ctx, workflows.EventScheduleSet, workflows.ActorPartner, detail)
	case StepDeliver:
		d := workflows.MustDecode[DeliverInput](in.Payload)
		round := len(e.Deliveries) + 1
		e.Deliveries = append(e.Deliveries, Delivery{Round: round, Summary: d.Summary, DeliveredAt: now})
		e.Stage = workflows.StageReport
		ev = e.NewEvent(ctx, workflows.EventWorkDelivered, workflows.ActorPartner, fmt.Sprintf("round %d: %s", round, d.Summary))
	case workflows.StepDeliverable:
		x := workflows.MustDecode[DeliverableInput](in.Payload)
		version := len(e.Documents) + 1
		doc := e.document(x, version, now)
		// The stage moves before the render blocks, so a repeated deliverable is refused meanwhile.
		e.Documents = append(e.Documents, Document{Title: x.Title, Version: version, DeliveredAt: now})
		e.Stage = StageAcceptance
		var a *activities.Activities
		if err := workflows.RunLocal(ctx, time.Minute, fmt.Sprintf("render %s v%d", DocumentKind, version), a.RenderDocument, doc, nil); err != nil {
			return workflows.CaseView{}, err
		}
		ev = e.NewEvent(ctx, workflows.EventDocumentDelivered, workflows.ActorPartner, fmt.Sprintf("《%s》 v%d delivered; awaiting the customer's acceptance by %s",
			x.Title, version, workflows.When(now.Add(e.window))))
	case StepAcceptDelivery:
		a := workflows.MustDecode[AcceptDeliveryInput](in.Payload)
		e.AcceptedAt, e.Rating, e.Comment = &now, a.Rating, a.Comment
		e.Case.Rating = a.Rating
		e.EndAs(ctx, workflows.StageClosed)
		detail := fmt.Sprintf("the customer accepted deliverable v%d", len(e.Documents))
		if a.Rating > 0 {
			detail += fmt.Sprintf(", rating %d/5", a.Rating)
		}
		if a.Comment != "" {
			detail += ": " + a.Comment
		}
		ev = e.NewEvent(ctx, workflows.EventDeliveryAccepted, workflows.ActorMarketplace, detail)
		note = func() {
			e.Notify(ctx, "accepted", notifications.SeverityInfo, true, e.Label+" delivery accepted", detail)
		}
	case StepRejectDelivery:
		r := workflows.MustDecode[RejectDeliveryInput](in.Payload)
		version := len(e.Documents)
		e.Rejections = append(e.Rejections, Verdict{Version: version, Comment: r.Comment, At: now})
		e.Stage = StageDelivery
		detail := fmt.Sprintf("the customer rejected deliverable v%d: %s; back to delivery", version, r.Comment)
		ev = e.NewEvent(ctx, workflows.EventDeliveryRejected, workflows.ActorMarketplace, detail)
		note = func() {
			e.Notify(ctx, fmt.Sprintf("rejected/%d", version), notifications.SeverityWarning, true, e.Label+" delivery rejected by the customer", detail)
		}
	}
	if err := e.Record(ctx, ev); err != nil {
		return workflows.CaseView{}, err
	}
	if note != nil {
		note()
	}
	return e.view(workflow.Now(ctx)), nil
}

// document is version of the case's service report: the deliverable with the schedule, the rounds
// delivered and the customer's feedback so far.
func (e *engagementCase) document(x DeliverableInput, version int, now time.Time) activities.Document {
	doc := activities.Document{
		Key: fmt.Sprintf("%s/%s/%d", e.In.CaseID, DocumentKind, version), CaseID: e.In.CaseID, Kind: DocumentKind,
		Version: version, Title: x.Title, GeneratedAt: now,
		Meta: []activities.DocField{
			{Label: "服务 Service", Value: e.Label}, {Label: "案件 Case", Value: e.In.CaseID}, {Label: "订单 Order", Value: e.In.OrderID},
			{Label: "客户 Customer", Value: e.In.CustomerID}, {Label: "合作伙伴 Partner", Value: e.PartnerID},
		},
		Sections: []activities.DocSection{{Heading: "概述 Summary", Paragraphs: []string{x.Summary}, Items: x.Items}},
	}
	if e.In.Service == sla.ServiceCodeAudit {
		doc.Meta = append(doc.Meta, activities.DocField{Label: "代码量 Code volume", Value: fmt.Sprintf("%d KLOC", e.KLOC)})
	}
	if s := e.Schedule; s != nil {
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "服务安排 Schedule",
			Paragraphs: []string{fmt.Sprintf("%s 至 %s：%s", s.StartsOn, s.EndsOn, s.Summary)}})
	}
	rounds := &activities.DocTable{Header: []string{"轮次 Round", "日期 Date", "交付内容 Delivered"}}
	for _, d := range e.Deliveries {
		rounds.Rows = append(rounds.Rows, []string{fmt.Sprint(d.Round), sla.ChinaDate(d.DeliveredAt), d.Summary})
	}
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "交付记录 Delivery", Table: rounds})
	if len(e.Rejections) > 0 {
		fb := &activities.DocTable{Header: []string{"版本 Version", "日期 Date", "客户意见 Customer feedback"}}
		for _, r := range e.Rejections {
			fb.Rows = append(fb.Rows, []string{fmt.Sprintf("v%d", r.Version), sla.ChinaDate(r.At), r.Comment})
		}
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "客户意见 Feedback", Table: fb})
	}
	return doc
}

// expect is the step the case waits for and from whom, for the Web UI.
func (e *engagementCase) expect() string {
	p := "partner " + e.PartnerID + ": "
	switch e.Stage {
	case StageScheduling:
		if e.ScheduleDue != nil {
			return p + "the agreed schedule (" + StepSchedule + ") by " + workflows.When(*e.ScheduleDue)
		}
		return p + "the agreed schedule (" + StepSchedule + ")"
	case StageDelivery:
		return p + "the delivery (" + StepDeliver + ")"
	case workflows.StageReport:
		return p + "the deliverable document (" + workflows.StepDeliverable + ")"
	case StageAcceptance:
		return "customer, through the marketplace: accept or reject the delivery (" + StepAcceptDelivery + ", " + StepRejectDelivery +
			"); deemed accepted at " + workflows.When(e.verdictDue())
	}
	return ""
}

// slaStatus is breached once the schedule went overdue, met once the delivery was accepted, on track
// otherwise (no clause here carries a refund); the next deadline is the schedule's while it is awaited,
// then the verdict's.
func (e *engagementCase) slaStatus(time.Time) (string, *time.Time) {
	status := workflows.SLAOnTrack
	if e.AcceptedAt != nil {
		status = workflows.SLAMet
	}
	if e.ScheduleOverdue {
		status = workflows.SLABreached
	}
	if due := e.verdictDue(); !due.IsZero() {
		return status, &due
	}
	if e.Schedule == nil && e.ScheduleDue != nil && !e.ScheduleOverdue && !e.IsClosed() {
		due := *e.ScheduleDue
		return status, &due
	}
	return status, nil
}

func (e *engagementCase) view(now time.Time) workflows.CaseView {
	v := e.BaseView(now, Details{Runs: e.Runs, Work: e.Work})
	if e.ScheduleDue != nil {
		due := *e.ScheduleDue
		var set *time.Time
		if e.Schedule != nil {
			first := e.Schedule.FirstSetAt
			set = &first
		}
		entry := workflows.Judge(workflows.SLAEntry{Clause: ClauseSchedule, DueAt: &due, CompletedAt: set}, true, now)
		if set == nil && e.IsClosed() {
			entry.Status, entry.Breached, entry.Margin = workflows.SLAStopped, false, ""
		}
		v.SLA = append(v.SLA, entry)
	}
	if n := len(e.Documents); n > 0 {
		due := e.Documents[n-1].DeliveredAt.Add(e.window)
		v.SLA = append(v.SLA, workflows.Judge(workflows.SLAEntry{Clause: ClauseAcceptance, DueAt: &due, CompletedAt: e.AcceptedAt}, false, now))
	}
	return v
}

// windowText writes a verdict window in days when it is whole days, e.g. "7 days".
func windowText(d time.Duration) string {
	if d%sla.Day == 0 {
		return fmt.Sprintf("%d days", d/sla.Day)
	}
	return d.String()
}
