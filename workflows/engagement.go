package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
)

// EngagementServices are the services billed per engagement (or, for code audit, by code volume) that
// EngagementWorkflow runs.
var EngagementServices = []string{ServiceConsulting, ServiceTraining, ServiceAssessment, ServiceCodeAudit, ServiceOnboarding}

// Engagement stages, besides StageAssignment, StageReport (the deliverable is due) and StageClosed.
const (
	// StageScheduling: a partner accepted; the engagement's dates are due.
	StageScheduling = "scheduling"
	// StageDelivery: scheduled; the work is being delivered (again, after a rejection).
	StageDelivery = "delivery"
	// StageAcceptance: the deliverable is with the customer for acceptance.
	StageAcceptance = "acceptance"
)

// Engagement steps. StepAcceptDelivery and StepRejectDelivery come from the marketplace (the customer's
// verdict); the others from the assigned partner. The deliverable is StepDeliverable.
const (
	StepSchedule       = "schedule"
	StepDeliver        = "deliver"
	StepAcceptDelivery = "accept_delivery"
	StepRejectDelivery = "reject_delivery"
)

// EngagementSteps lists the steps partner engineers send to an engagement case.
var EngagementSteps = []string{StepAccept, StepDecline, StepSchedule, StepDeliver, StepDeliverable}

// AcceptanceWindow is how long the customer has to accept or reject a deliverable; without a verdict in
// that time the delivery is deemed accepted, as a provider's service agreement usually says.
const AcceptanceWindow = 7 * 24 * time.Hour

// EngagementLabel names an engagement service as the provider's catalogue does.
func EngagementLabel(service string) string {
	switch service {
	case ServiceConsulting:
		return "安全咨询"
	case ServiceTraining:
		return "安全培训"
	case ServiceAssessment:
		return "安全评估"
	case ServiceCodeAudit:
		return "代码审计"
	case ServiceOnboarding:
		return "产品接入服务"
	}
	return service
}

// ScheduleInput sets (or, before delivery, moves) the engagement's dates, China time.
type ScheduleInput struct {
	StartsOn string `json:"starts_on"`
	EndsOn   string `json:"ends_on"`
	Summary  string `json:"summary"`
}

// Validate checks the schedule's fields.
func (s ScheduleInput) Validate() error {
	start, err := time.ParseInLocation(time.DateOnly, s.StartsOn, chinaZone)
	if err != nil {
		return errors.New("starts_on: YYYY-MM-DD")
	}
	end, err := time.ParseInLocation(time.DateOnly, s.EndsOn, chinaZone)
	if err != nil {
		return errors.New("ends_on: YYYY-MM-DD")
	}
	if end.Before(start) {
		return errors.New("ends_on: not before starts_on")
	}
	if end.After(start.AddDate(1, 0, 0)) {
		return errors.New("ends_on: at most a year after starts_on")
	}
	return checkText("summary", s.Summary, true)
}

// DeliverInput reports the engagement's work delivered.
type DeliverInput struct {
	Summary string `json:"summary"`
}

// Validate checks the delivery's fields.
func (d DeliverInput) Validate() error { return checkText("summary", d.Summary, true) }

// EngagementDeliverableInput is the engagement's document: its title, summary and items (findings,
// fixes, advice, course outline…).
type EngagementDeliverableInput struct {
	Title   string   `json:"title"`
	Summary string   `json:"summary"`
	Items   []string `json:"items"`
}

// Validate checks the deliverable's fields.
func (d EngagementDeliverableInput) Validate() error {
	if strings.TrimSpace(d.Title) == "" {
		return errors.New("title: required")
	}
	if utf8.RuneCountInString(d.Title) > 200 {
		return errors.New("title: at most 200 characters")
	}
	if err := checkText("summary", d.Summary, true); err != nil {
		return err
	}
	return checkList("items", d.Items, false)
}

// AcceptDeliveryInput is the customer's acceptance, with an optional rating (1-5) and comment.
type AcceptDeliveryInput struct {
	Rating  int    `json:"rating,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// Validate checks the acceptance's fields.
func (a AcceptDeliveryInput) Validate() error {
	if a.Rating < 0 || a.Rating > 5 {
		return errors.New("rating: 1 to 5")
	}
	return checkText("comment", a.Comment, false)
}

// RejectDeliveryInput is the customer's rejection; the comment says what is missing.
type RejectDeliveryInput struct {
	Comment string `json:"comment"`
}

// Validate checks the rejection's fields.
func (r RejectDeliveryInput) Validate() error { return checkText("comment", r.Comment, true) }

// EngagementSchedule is the engagement's dates in force.
type EngagementSchedule struct {
	ScheduleInput
	Version int       `json:"version"`
	SetAt   time.Time `json:"set_at"`
}

// EngagementDelivery is one round of delivered work.
type EngagementDelivery struct {
	Round       int       `json:"round"`
	Summary     string    `json:"summary"`
	DeliveredAt time.Time `json:"delivered_at"`
}

// EngagementDocument is a delivered document (a service_report version).
type EngagementDocument struct {
	Title       string    `json:"title"`
	Version     int       `json:"version"`
	DeliveredAt time.Time `json:"delivered_at"`
}

// EngagementVerdict is the customer's rejection of a deliverable.
type EngagementVerdict struct {
	Version int       `json:"version"`
	Comment string    `json:"comment"`
	At      time.Time `json:"at"`
}

// EngagementState is an engagement case's state: what the case view's details show, and what
// continue-as-new carries into the next run.
type EngagementState struct {
	coreState
	// KLOC is a code audit's volume, thousands of lines of code (the order's quantity).
	KLOC         int                  `json:"kloc,omitempty"`
	Schedule     *EngagementSchedule  `json:"schedule,omitempty"`
	Deliveries   []EngagementDelivery `json:"deliveries"`
	Documents    []EngagementDocument `json:"documents"`
	Rejections   []EngagementVerdict  `json:"rejections"`
	AcceptedAt   *time.Time           `json:"accepted_at,omitempty"`
	DeemedAccept bool                 `json:"deemed_accepted,omitempty"`
	Rating       int                  `json:"rating,omitempty"`
	Comment      string               `json:"comment,omitempty"`
}

// EngagementInput starts or continues an engagement case. It marshals like a CaseInput, which is what
// the API starts it with; State is set only when a run continues as new.
type EngagementInput struct {
	CaseInput
	State *EngagementState `json:"state,omitempty"`
}

// EngagementResult is how an engagement case ended.
type EngagementResult struct {
	CaseID string          `json:"case_id"`
	Stage  string          `json:"stage"`
	State  EngagementState `json:"state"`
}

// EngagementWorkflow runs one per-engagement case of any of EngagementServices (SPEC.md catalogue:
// consulting, training, assessment, code audit, product onboarding): partner assignment (skill = the
// service), schedule, delivery, the deliverable rendered as a service report, then the customer's
// acceptance; a rejection sends it back to delivery. Without a verdict within AcceptanceWindow the
// delivery is deemed accepted.
func EngagementWorkflow(ctx workflow.Context, in EngagementInput) (EngagementResult, error) {
	e := &engagementCase{caseCore: caseCore{in: in.CaseInput, label: EngagementLabel(in.Service)}, resume: in.State}
	e.slaFn = e.slaStatus
	if err := e.setup(ctx); err != nil {
		return EngagementResult{}, err
	}
	return e.run(ctx)
}

type engagementCase struct {
	caseCore
	st     EngagementState
	resume *EngagementState
}

func (e *engagementCase) setup(ctx workflow.Context) error {
	if err := e.prepare(ctx); err != nil {
		return err
	}
	if !slices.Contains(EngagementServices, e.in.Service) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("service: %q is not one of %s", e.in.Service, strings.Join(EngagementServices, ", ")), RejectInvalid, nil)
	}
	if e.resume != nil {
		e.st = *e.resume
		e.st.Runs++
	} else {
		e.st = EngagementState{coreState: coreState{Stage: StageAssignment, Status: StatusOpen, Opened: workflow.Now(ctx), Runs: 1},
			Deliveries: []EngagementDelivery{}, Documents: []EngagementDocument{}, Rejections: []EngagementVerdict{}}
		if e.in.Service == ServiceCodeAudit {
			e.st.KLOC = e.in.Quantity
		}
	}
	e.loadCore(e.st.coreState)
	if err := workflow.SetQueryHandler(ctx, QueryCaseView, func() (CaseView, error) { return e.view(), nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateStep, e.step, workflow.UpdateHandlerOptions{Validator: e.validateStep})
}

func (e *engagementCase) save() EngagementState {
	e.st.coreState = e.saveCore(e.st.Runs)
	return e.st
}

func (e *engagementCase) run(ctx workflow.Context) (EngagementResult, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	if e.st.Runs == 1 {
		detail := fmt.Sprintf("order %s paid at %s: %s, quantity %d", e.in.OrderID, e.in.PaidAt.Format(time.RFC3339), e.label, e.in.Quantity)
		if e.in.Service == ServiceCodeAudit {
			detail = fmt.Sprintf("order %s paid at %s: %s of %d KLOC", e.in.OrderID, e.in.PaidAt.Format(time.RFC3339), e.label, e.st.KLOC)
		}
		if err := e.record(ctx, e.event(ctx, "opened", ActorMarketplace, detail)); err != nil {
			return EngagementResult{}, err
		}
	}
	e.startAssignment(ctx)
	workflow.Go(ctx, e.watchAcceptance)
	cont, err := e.awaitEndOrContinue(ctx)
	if err != nil {
		return EngagementResult{}, err
	}
	if cont {
		st := e.save()
		return EngagementResult{}, workflow.NewContinueAsNewError(ctx, EngagementWorkflow, EngagementInput{CaseInput: e.in, State: &st})
	}
	return EngagementResult{CaseID: e.in.CaseID, Stage: e.stage, State: e.save()}, nil
}

// acceptanceDue is when the open deliverable is deemed accepted; zero outside stage acceptance.
func (e *engagementCase) acceptanceDue() time.Time {
	if e.stage != StageAcceptance || len(e.st.Documents) == 0 {
		return time.Time{}
	}
	return e.st.Documents[len(e.st.Documents)-1].DeliveredAt.Add(AcceptanceWindow)
}

// watchAcceptance deems a deliverable accepted when the customer gives no verdict within AcceptanceWindow.
func (e *engagementCase) watchAcceptance(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return e.status == StatusClosed || e.stage == StageAcceptance }); err != nil || e.status == StatusClosed {
			return
		}
		version := len(e.st.Documents)
		answered := func() bool {
			return e.status == StatusClosed || e.stage != StageAcceptance || len(e.st.Documents) != version
		}
		if _, err := e.awaitUntil(ctx, e.acceptanceDue(), fmt.Sprintf("customer's verdict on deliverable v%d", version), answered); err != nil {
			return
		}
		if answered() {
			if e.status == StatusClosed {
				return
			}
			// A verdict came: wait for the next deliverable.
			if err := workflow.Await(ctx, func() bool { return e.status == StatusClosed || e.stage != StageAcceptance }); err != nil {
				return
			}
			continue
		}
		e.pending++
		now := workflow.Now(ctx)
		e.st.AcceptedAt, e.st.DeemedAccept = &now, true
		e.endAs(ctx, StageClosed)
		detail := fmt.Sprintf("no verdict on deliverable v%d within %s: deemed accepted", version, AcceptanceWindow)
		if err := e.record(ctx, e.event(ctx, "delivery_deemed_accepted", ActorSystem, detail)); err != nil {
			e.logger.Error("record deemed acceptance", "Error", err)
		}
		e.notify(ctx, "deemed-accepted", notifications.SeverityInfo, true, e.label+" delivery deemed accepted", detail)
		e.pending--
		return
	}
}

func (e *engagementCase) validateStep(ctx workflow.Context, in StepInput) error {
	if e.status == StatusClosed {
		return conflictf("the case is closed (stage %s)", e.stage)
	}
	stageFor := func(want ...string) error {
		if !slices.Contains(want, e.stage) {
			return conflictf("step %s is for stage %s; the case is in stage %s", in.Step, strings.Join(want, " or "), e.stage)
		}
		return nil
	}
	switch in.Step {
	case StepAccept, StepDecline:
		if in.Actor != ActorPartner {
			return conflictf("step %q is a partner engineer's", in.Step)
		}
		return e.validateOffer(in)
	case StepAcceptDelivery, StepRejectDelivery:
		if in.Actor != ActorMarketplace {
			return conflictf("step %q is the customer's, through the marketplace", in.Step)
		}
		if err := stageFor(StageAcceptance); err != nil {
			return err
		}
		if in.Step == StepAcceptDelivery {
			return decodeValid[AcceptDeliveryInput](in.Payload)
		}
		return decodeValid[RejectDeliveryInput](in.Payload)
	case StepSchedule, StepDeliver, StepDeliverable:
	default:
		return conflictf("unknown step %q", in.Step)
	}
	if err := e.requirePartner(in); err != nil {
		return err
	}
	switch in.Step {
	case StepSchedule:
		if err := stageFor(StageScheduling, StageDelivery); err != nil {
			return err
		}
		if len(e.st.Deliveries) > 0 {
			return conflictf("the work was delivered on %s; the schedule can no longer change", e.st.Deliveries[0].DeliveredAt.In(chinaZone).Format(time.DateOnly))
		}
		if err := decodeValid[ScheduleInput](in.Payload); err != nil {
			return err
		}
		s := mustDecode[ScheduleInput](in.Payload)
		if paid := e.in.PaidAt.In(chinaZone).Format(time.DateOnly); s.StartsOn < paid {
			return invalidf("starts_on: %s is before the purchase on %s", s.StartsOn, paid)
		}
		return nil
	case StepDeliver:
		if err := stageFor(StageDelivery); err != nil {
			return err
		}
		return decodeValid[DeliverInput](in.Payload)
	default:
		if err := stageFor(StageReport); err != nil {
			return err
		}
		return decodeValid[EngagementDeliverableInput](in.Payload)
	}
}

func (e *engagementCase) step(ctx workflow.Context, in StepInput) (CaseView, error) {
	now := workflow.Now(ctx)
	var events []activities.Event
	add := func(event, actor, detail string) { events = append(events, e.event(ctx, event, actor, detail)) }
	var note func()
	switch in.Step {
	case StepAccept:
		e.accepted, e.answer, e.stage = true, StepAccept, StageScheduling
		add("partner_accepted", ActorPartner, e.partnerID+" accepted ("+in.ActorName+")")
	case StepDecline:
		e.answer, e.declineReason = StepDecline, mustDecode[DeclineInput](in.Payload).Reason
		return e.view(), nil
	case StepSchedule:
		s := mustDecode[ScheduleInput](in.Payload)
		version, event := 1, "scheduled"
		if e.st.Schedule != nil {
			version, event = e.st.Schedule.Version+1, "rescheduled"
		}
		e.st.Schedule = &EngagementSchedule{ScheduleInput: s, Version: version, SetAt: now}
		e.stage = StageDelivery
		add(event, ActorPartner, fmt.Sprintf("%s to %s: %s", s.StartsOn, s.EndsOn, s.Summary))
	case StepDeliver:
		d := mustDecode[DeliverInput](in.Payload)
		round := len(e.st.Deliveries) + 1
		e.st.Deliveries = append(e.st.Deliveries, EngagementDelivery{Round: round, Summary: d.Summary, DeliveredAt: now})
		e.stage = StageReport
		add("delivered", ActorPartner, fmt.Sprintf("round %d: %s", round, d.Summary))
	case StepDeliverable:
		x := mustDecode[EngagementDeliverableInput](in.Payload)
		version := len(e.st.Documents) + 1
		// The stage moves before the render blocks, so a repeated deliverable is refused meanwhile.
		e.st.Documents = append(e.st.Documents, EngagementDocument{Title: x.Title, Version: version, DeliveredAt: now})
		e.stage = StageAcceptance
		if err := e.render(ctx, x, version, now); err != nil {
			return CaseView{}, err
		}
		due := now.Add(AcceptanceWindow)
		add("deliverable", ActorPartner, fmt.Sprintf("《%s》 v%d delivered; awaiting the customer's acceptance by %s", x.Title, version, due.Format(time.RFC3339)))
	case StepAcceptDelivery:
		a := mustDecode[AcceptDeliveryInput](in.Payload)
		e.st.AcceptedAt, e.st.Rating, e.st.Comment = &now, a.Rating, a.Comment
		e.endAs(ctx, StageClosed)
		detail := fmt.Sprintf("the customer accepted deliverable v%d", len(e.st.Documents))
		if a.Rating > 0 {
			detail += fmt.Sprintf(", rating %d/5", a.Rating)
		}
		if a.Comment != "" {
			detail += ": " + a.Comment
		}
		add("delivery_accepted", ActorMarketplace, detail)
		note = func() {
			e.notify(ctx, "accepted", notifications.SeverityInfo, true, e.label+" delivery accepted", detail)
		}
	case StepRejectDelivery:
		r := mustDecode[RejectDeliveryInput](in.Payload)
		version := len(e.st.Documents)
		e.st.Rejections = append(e.st.Rejections, EngagementVerdict{Version: version, Comment: r.Comment, At: now})
		e.stage = StageDelivery
		detail := fmt.Sprintf("the customer rejected deliverable v%d: %s; back to delivery", version, r.Comment)
		add("delivery_rejected", ActorMarketplace, detail)
		note = func() {
			e.notify(ctx, fmt.Sprintf("rejected/%d", version), notifications.SeverityWarning, true, e.label+" delivery rejected by the customer", detail)
		}
	}
	if err := e.record(ctx, events...); err != nil {
		return CaseView{}, err
	}
	if note != nil {
		note()
	}
	return e.view(), nil
}

// render stores the deliverable as version of the case's service report.
func (e *engagementCase) render(ctx workflow.Context, x EngagementDeliverableInput, version int, now time.Time) error {
	doc := activities.Document{
		Key: fmt.Sprintf("%s/%s/%d", e.in.CaseID, DeliverableServiceReport, version), CaseID: e.in.CaseID, Kind: DeliverableServiceReport,
		Version: version, Title: x.Title, GeneratedAt: now,
		Meta: []activities.DocField{
			{Label: "服务 Service", Value: e.label}, {Label: "案件 Case", Value: e.in.CaseID}, {Label: "订单 Order", Value: e.in.OrderID},
			{Label: "客户 Customer", Value: e.in.CustomerID}, {Label: "合作伙伴 Partner", Value: e.partnerID},
		},
		Sections: []activities.DocSection{{Heading: "概述 Summary", Paragraphs: []string{x.Summary}, Items: x.Items}},
	}
	if e.in.Service == ServiceCodeAudit {
		doc.Meta = append(doc.Meta, activities.DocField{Label: "代码量 Code volume", Value: fmt.Sprintf("%d KLOC", e.st.KLOC)})
	}
	if s := e.st.Schedule; s != nil {
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "服务安排 Schedule",
			Paragraphs: []string{fmt.Sprintf("%s 至 %s：%s", s.StartsOn, s.EndsOn, s.Summary)}})
	}
	rounds := &activities.DocTable{Header: []string{"轮次 Round", "日期 Date", "交付内容 Delivered"}}
	for _, d := range e.st.Deliveries {
		rounds.Rows = append(rounds.Rows, []string{fmt.Sprint(d.Round), d.DeliveredAt.In(chinaZone).Format(time.DateOnly), d.Summary})
	}
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "交付记录 Delivery", Table: rounds})
	if len(e.st.Rejections) > 0 {
		fb := &activities.DocTable{Header: []string{"版本 Version", "日期 Date", "客户意见 Customer feedback"}}
		for _, r := range e.st.Rejections {
			fb.Rows = append(fb.Rows, []string{fmt.Sprintf("v%d", r.Version), r.At.In(chinaZone).Format(time.DateOnly), r.Comment})
		}
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "客户意见 Feedback", Table: fb})
	}
	var a *activities.Activities
	return e.runLocal(ctx, time.Minute, fmt.Sprintf("render %s v%d", DeliverableServiceReport, version), a.RenderDocument, doc, nil)
}

func (e *engagementCase) slaStatus(time.Time) (string, *time.Time) {
	if due := e.acceptanceDue(); !due.IsZero() && e.status == StatusOpen {
		return SLAOnTrack, &due
	}
	return SLAOnTrack, nil
}

func (e *engagementCase) view() CaseView {
	st := e.save()
	v := e.baseView(st)
	if len(st.Documents) > 0 {
		due := st.Documents[len(st.Documents)-1].DeliveredAt.Add(AcceptanceWindow)
		entry := SLAEntry{Clause: "acceptance", DueAt: &due, Status: SLAOnTrack}
		if st.AcceptedAt != nil {
			entry.CompletedAt = st.AcceptedAt
		}
		v.SLA = append(v.SLA, entry)
	}
	return v
}
