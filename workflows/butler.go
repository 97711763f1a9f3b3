package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
)

// Security Butler stages, besides StageAssignment, StagePlanning and StageClosed.
const (
	// StageOnboarding: a partner accepted; it contacts the customer and opens the service channel within
	// 1 working day of payment.
	StageOnboarding = "onboarding"
	// StageService: the plan is agreed; reports, inspections and requests for the rest of the term.
	StageService = "service"
)

// Security Butler steps besides StepAccept, StepDecline, StepContact, StepPlan, StepReport (partner) and
// StepRequest (marketplace).
const (
	// StepInspection is a daily inspection round (escort, enterprise and professional editions).
	StepInspection = "inspection"
	// StepServers binds servers to a professional edition (marketplace).
	StepServers = "servers"
	// StepRecipients sets the professional edition's report e-mail recipients (marketplace).
	StepRecipients = "recipients"
)

// ButlerSteps lists the steps partner engineers send to a Security Butler case; a request's own steps
// (ButlerRequestSteps) go to its workflow.
var ButlerSteps = []string{StepAccept, StepDecline, StepContact, StepPlan, StepReport, StepInspection}

// ReportOverdueAfter is how long after its due date a missing monthly report alerts operations.
const ReportOverdueAfter = 3 * 24 * time.Hour

// ButlerTermEnd is when a Security Butler subscription ends: 15 days after payment for the emergency
// edition, one year by the calendar date in China for the others.
func ButlerTermEnd(edition string, paidAt time.Time) time.Time {
	if edition == ButlerEmergency {
		return paidAt.In(chinaZone).AddDate(0, 0, 15).UTC()
	}
	return paidAt.In(chinaZone).AddDate(1, 0, 0).UTC()
}

// ReportDue is when the n-th monthly report (from 1) falls due: n calendar months after the plan, in China.
func ReportDue(planAt time.Time, n int) time.Time { return planAt.In(chinaZone).AddDate(0, n, 0).UTC() }

// ButlerPlan is the agreed service plan.
type ButlerPlan struct {
	ButlerPlanInput
	AgreedAt time.Time `json:"agreed_at"`
}

// ButlerReport is a submitted periodic report.
type ButlerReport struct {
	ButlerReportInput
	Number      int       `json:"number"`
	SubmittedAt time.Time `json:"submitted_at"`
	EmailedTo   []string  `json:"emailed_to,omitempty"`
}

// ButlerInspection is a recorded daily inspection.
type ButlerInspection struct {
	InspectionInput
	RecordedAt time.Time `json:"recorded_at"`
	// Opened are the vulnerability requests its findings opened.
	Opened []string `json:"opened,omitempty"`
}

// ButlerRequest is a request of the subscription as the case's details show it; its workflow
// (RequestWorkflowID) holds the rest.
type ButlerRequest struct {
	ID           string     `json:"id"`
	WorkflowID   string     `json:"workflow_id"`
	Kind         string     `json:"kind"`
	Summary      string     `json:"summary"`
	Urgency      string     `json:"urgency,omitempty"`
	Severity     string     `json:"severity,omitempty"`
	RecurrenceOf string     `json:"recurrence_of,omitempty"`
	ReceivedAt   time.Time  `json:"received_at"`
	Stage        string     `json:"stage"`
	Status       string     `json:"status"`
	Outcome      string     `json:"outcome,omitempty"`
	Cause        string     `json:"cause,omitempty"`
	SLA          []SLAEntry `json:"sla"`
	Breached     bool       `json:"breached"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
}

// maxInspectionsKept bounds the inspections the state carries; the timeline keeps them all.
const maxInspectionsKept = 31

// ButlerState is a Security Butler case's state: what the case view's details show, and what
// continue-as-new carries into the next run.
type ButlerState struct {
	coreState
	Edition   string         `json:"edition"`
	TermEnd   time.Time      `json:"term_end"`
	Clocks    ButlerClocks   `json:"clocks"`
	ContactAt *time.Time     `json:"contact_at,omitempty"`
	Plan      *ButlerPlan    `json:"plan,omitempty"`
	Reports   []ButlerReport `json:"reports"`
	// ReportsChecked is the last monthly report whose overdue check has run.
	ReportsChecked int   `json:"reports_checked"`
	Overdue        []int `json:"overdue,omitempty"`
	// Inspections are the latest daily inspections; InspectedDates every day inspected.
	Inspections    []ButlerInspection `json:"inspections"`
	InspectedDates []string           `json:"inspected_dates,omitempty"`
	Requests       []ButlerRequest    `json:"requests"`
	NextRequest    int                `json:"next_request"`
	Servers        []string           `json:"servers,omitempty"`
	Recipients     []string           `json:"recipients,omitempty"`
}

// ButlerInput starts or continues a Security Butler case. It marshals like a CaseInput, which is what the
// API starts it with; State is set only when a run continues as new.
type ButlerInput struct {
	CaseInput
	State *ButlerState `json:"state,omitempty"`
}

// ButlerResult is how a Security Butler case ended.
type ButlerResult struct {
	CaseID string      `json:"case_id"`
	Stage  string      `json:"stage"`
	State  ButlerState `json:"state"`
}

// ButlerWorkflow runs one Security Butler (安全管家) subscription (SPEC.md "Security Butler"): partner
// assignment, first contact within 1 working day, an agreed plan, then for the term (15 days for the
// emergency edition, a year for the others) monthly reports, daily inspections and the customer's
// requests, each a child ButlerRequestWorkflow with its own clock. It continues as new before its
// history grows large, carrying its state in ButlerInput.State. Butler clauses owe no refund: breaches
// are recorded, alerted and shown.
func ButlerWorkflow(ctx workflow.Context, in ButlerInput) (ButlerResult, error) {
	b := &butlerCase{caseCore: caseCore{in: in.CaseInput, label: "安全管家"}, resume: in.State}
	b.slaFn = b.slaStatus
	if err := b.setup(ctx); err != nil {
		return ButlerResult{}, err
	}
	return b.run(ctx)
}

type butlerCase struct {
	caseCore
	st       ButlerState
	resume   *ButlerState
	clockRev int
	children []*butlerChild // running requests, in start order
	events   workflow.ReceiveChannel
	termOver bool // the term ended: requests still running are being cancelled
}

type butlerChild struct {
	id     string
	cancel workflow.CancelFunc
	future workflow.ChildWorkflowFuture
}

func (b *butlerCase) setup(ctx workflow.Context) error {
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if b.in.Service != ServiceButler {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("service: %q is not %s", b.in.Service, ServiceButler), RejectInvalid, nil)
	}
	if !slices.Contains(ButlerEditions, b.in.Spec) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("spec: %q is not a Security Butler edition; one of %s",
			b.in.Spec, strings.Join(ButlerEditions, ", ")), RejectInvalid, nil)
	}
	if b.resume != nil {
		b.st = *b.resume
		b.st.Runs++
	} else {
		b.st = ButlerState{coreState: coreState{Stage: StageAssignment, Status: StatusOpen, Opened: workflow.Now(ctx), Runs: 1},
			Edition: b.in.Spec, TermEnd: ButlerTermEnd(b.in.Spec, b.in.PaidAt), NextRequest: 1}
	}
	b.loadCore(b.st.coreState)
	b.events = workflow.GetSignalChannel(ctx, SignalRequestEvent)
	if err := workflow.SetQueryHandler(ctx, QueryCaseView, func() (CaseView, error) { return b.view(workflow.Now(ctx)), nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateStep, b.step, workflow.UpdateHandlerOptions{Validator: b.validateStep})
}

func (b *butlerCase) save() ButlerState {
	b.st.coreState = b.saveCore(b.st.Runs)
	return b.st
}

func (b *butlerCase) termEndDate() string { return b.st.TermEnd.In(chinaZone).Format(time.DateOnly) }

func (b *butlerCase) run(ctx workflow.Context) (ButlerResult, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	if b.st.Runs == 1 {
		contact, err := startClock(ctx, ServiceButler, ClauseOnboardingContact, sla.Inputs{}, b.in.PaidAt)
		if err != nil {
			return ButlerResult{}, err
		}
		b.st.Clocks.Clocks = append(b.st.Clocks.Clocks, contact)
		if err := b.record(ctx, b.event(ctx, "opened", ActorMarketplace, fmt.Sprintf(
			"order %s paid at %s; %s edition; first contact due by %s (1 working day); the term ends on %s",
			b.in.OrderID, b.in.PaidAt.Format(time.RFC3339), b.st.Edition, contact.DueAt().Format(time.RFC3339), b.termEndDate()))); err != nil {
			return ButlerResult{}, err
		}
	}
	b.startAssignment(ctx)
	workflow.Go(ctx, b.receiveEvents)
	workflow.Go(ctx, clockWatch{
		book: &b.st.Clocks, rev: &b.clockRev, pending: &b.pending,
		done: func() bool { return b.status == StatusClosed }, warn: b.warn, breach: b.breach, await: b.awaitFor,
	}.run)
	workflow.Go(ctx, b.watchReports)
	workflow.Go(ctx, b.watchTerm)

	continueAsNew := func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= b.in.HistoryLimit
	}
	// A run ends only with no request running (they are its children) and every request event recorded.
	settled := func() bool { return len(b.children) == 0 && b.events.Len() == 0 && b.pending == 0 }
	if err := workflow.Await(ctx, func() bool { return (b.status == StatusClosed || continueAsNew()) && settled() }); err != nil {
		return ButlerResult{}, err
	}
	if err := workflow.Await(ctx, func() bool { return settled() && workflow.AllHandlersFinished(ctx) }); err != nil {
		return ButlerResult{}, err
	}
	if b.status != StatusClosed {
		st := b.save()
		return ButlerResult{}, workflow.NewContinueAsNewError(ctx, ButlerWorkflow, ButlerInput{CaseInput: b.in, State: &st})
	}
	return ButlerResult{CaseID: b.in.CaseID, Stage: b.stage, State: b.save()}, nil
}

// receiveEvents records what the requests report, in the order they report it.
func (b *butlerCase) receiveEvents(ctx workflow.Context) {
	for {
		var ev ButlerRequestEvent
		b.events.Receive(ctx, &ev)
		b.pending++
		if r := b.request(ev.RequestID); r != nil {
			r.Stage, r.Status, r.Urgency, r.Severity, r.Cause, r.Outcome, r.SLA = ev.Stage, ev.Status, ev.Urgency, ev.Severity, ev.Cause, ev.Outcome, ev.SLA
			r.Breached = r.Breached || ev.Breached
			if ev.Status == StatusClosed && r.ClosedAt == nil {
				now := workflow.Now(ctx)
				r.ClosedAt = &now
			}
		}
		if err := b.recordWith(ctx, ev.Events, nil); err != nil {
			b.logger.Error("record request event", "RequestID", ev.RequestID, "Error", err)
		}
		b.pending--
	}
}

func (b *butlerCase) request(id string) *ButlerRequest {
	for i := range b.st.Requests {
		if b.st.Requests[i].ID == id {
			return &b.st.Requests[i]
		}
	}
	return nil
}

// watchReports alerts operations when a monthly report is still missing 3 days after it fell due.
func (b *butlerCase) watchReports(ctx workflow.Context) {
	if err := workflow.Await(ctx, func() bool { return b.st.Plan != nil || b.status == StatusClosed }); err != nil || b.status == StatusClosed {
		return
	}
	for n := b.st.ReportsChecked + 1; ; n++ {
		due := ReportDue(b.st.Plan.AgreedAt, n)
		if !due.Before(b.st.TermEnd) {
			return
		}
		check := due.Add(ReportOverdueAfter)
		if _, err := b.awaitUntil(ctx, check, fmt.Sprintf("monthly report %d overdue check", n), func() bool { return b.status == StatusClosed }); err != nil || b.status == StatusClosed {
			return
		}
		b.st.ReportsChecked = n
		if len(b.st.Reports) >= n {
			continue
		}
		b.st.Overdue = append(b.st.Overdue, n)
		b.pending++
		detail := fmt.Sprintf("monthly report %d was due on %s and is still missing %s later (%d submitted)", n,
			due.In(chinaZone).Format(time.DateOnly), ReportOverdueAfter, len(b.st.Reports))
		if err := b.record(ctx, b.event(ctx, "report_overdue", ActorSystem, detail)); err != nil {
			b.logger.Error("record overdue report", "Error", err)
		}
		b.notify(ctx, fmt.Sprintf("report-overdue/%d", n), notifications.SeverityWarning, true, "安全管家 monthly report overdue", detail)
		b.pending--
	}
}

// watchTerm ends the subscription at the end of its term: requests still running are cancelled with a
// note, and the case closes once they have stopped.
func (b *butlerCase) watchTerm(ctx workflow.Context) {
	if _, err := b.awaitUntil(ctx, b.st.TermEnd, "term end ("+b.termEndDate()+")", func() bool { return b.status == StatusClosed }); err != nil || b.status == StatusClosed {
		return
	}
	b.pending++
	defer func() { b.pending-- }()
	b.termOver = true
	var events []activities.Event
	for _, c := range b.children {
		c.cancel()
		events = append(events, b.event(ctx, "request_cancelled", ActorSystem, c.id+" was still open at the end of the term and is cancelled"))
	}
	// Let the cancelled requests stop (their completions are noted by the goroutines that started them).
	if err := workflow.Await(ctx, func() bool { return len(b.children) == 0 && b.events.Len() == 0 }); err != nil {
		return
	}
	now := workflow.Now(ctx)
	for i := range b.st.Clocks.Clocks {
		if b.st.Clocks.Clocks[i].State != sla.ClockCompleted {
			_ = b.st.Clocks.Clocks[i].Complete(now) // a running clock can always complete at now
		}
	}
	b.clockRev++
	b.endAs(ctx, StageClosed)
	events = append(events, b.event(ctx, "term_ended", ActorSystem, "term ended on "+b.termEndDate()))
	if err := b.record(ctx, events...); err != nil {
		b.logger.Error("record term end", "Error", err)
	}
	b.notify(ctx, "term-ended", notifications.SeverityInfo, true, "安全管家 term ended", "The subscription's term ended on "+b.termEndDate()+"; the case is closed.")
}

func (b *butlerCase) openRequests() int {
	n := 0
	for _, r := range b.st.Requests {
		if r.Status != StatusClosed {
			n++
		}
	}
	return n
}

func (b *butlerCase) validateStep(ctx workflow.Context, in StepInput) error {
	now := workflow.Now(ctx)
	if b.st.Edition == ButlerEmergency && in.Step == StepRequest && (b.status == StatusClosed || b.termOver || !now.Before(b.st.TermEnd)) {
		return conflictf("the 15-day guarantee ended on %s; a new purchase is needed", b.termEndDate())
	}
	if b.status == StatusClosed || b.termOver {
		return conflictf("the case is closed (stage %s; the term ended on %s)", b.stage, b.termEndDate())
	}
	switch in.Step {
	case StepRequest:
		if in.Actor != ActorMarketplace {
			return conflictf("requests come from the customer through the marketplace")
		}
		if err := decodeValid[ButlerRequestStepInput](in.Payload); err != nil {
			return err
		}
		return b.checkRequest(mustDecode[ButlerRequestStepInput](in.Payload))
	case StepServers:
		if in.Actor != ActorMarketplace {
			return conflictf("servers are bound by the customer through the marketplace")
		}
		if b.st.Edition != ButlerProfessional {
			return conflictf("binding servers is a feature of the professional edition; this is the %s edition", b.st.Edition)
		}
		if err := decodeValid[ServersInput](in.Payload); err != nil {
			return err
		}
		s := mustDecode[ServersInput](in.Payload)
		if len(s.Unbind) > 0 {
			return conflictf("server binding cannot be undone (SPEC): %s stay bound", joinList(s.Unbind))
		}
		added := 0
		for _, id := range s.Bind {
			if !slices.Contains(b.st.Servers, id) {
				added++
			}
		}
		if len(b.st.Servers)+added > MaxBoundServers {
			return conflictf("at most %d servers can be bound", MaxBoundServers)
		}
		return nil
	case StepRecipients:
		if in.Actor != ActorMarketplace {
			return conflictf("report recipients are set by the customer through the marketplace")
		}
		if b.st.Edition != ButlerProfessional {
			return conflictf("report e-mail is a feature of the professional edition; this is the %s edition", b.st.Edition)
		}
		return decodeValid[RecipientsInput](in.Payload)
	case StepAccept, StepDecline:
		if in.Actor != ActorPartner {
			return conflictf("step %q is a partner engineer's", in.Step)
		}
		return b.validateOffer(in)
	}
	if err := b.requirePartner(in); err != nil {
		return err
	}
	switch in.Step {
	case StepContact:
		if b.st.ContactAt != nil {
			return conflictf("the customer was already contacted at %s", b.st.ContactAt.Format(time.RFC3339))
		}
		return decodeValid[ButlerContactInput](in.Payload)
	case StepPlan:
		if b.st.ContactAt == nil {
			return conflictf("contact the customer and open the service channel first")
		}
		if b.st.Plan != nil {
			return conflictf("the plan was agreed at %s", b.st.Plan.AgreedAt.Format(time.RFC3339))
		}
		return decodeValid[ButlerPlanInput](in.Payload)
	case StepReport:
		if b.stage != StageService {
			return conflictf("reports start once the plan is agreed; the case is in stage %s", b.stage)
		}
		return decodeValid[ButlerReportInput](in.Payload)
	case StepInspection:
		if b.st.Edition == ButlerEmergency {
			return conflictf("the emergency edition has no daily inspection: its checks are tied to the incident")
		}
		if b.stage != StageService {
			return conflictf("daily inspections start once the plan is agreed; the case is in stage %s", b.stage)
		}
		if err := decodeValid[InspectionInput](in.Payload); err != nil {
			return err
		}
		x := mustDecode[InspectionInput](in.Payload)
		if slices.Contains(b.st.InspectedDates, x.Date) {
			return conflictf("the inspection of %s is already recorded", x.Date)
		}
		date, _ := time.ParseInLocation(time.DateOnly, x.Date, chinaZone)
		if date.After(now) || !date.Add(24*time.Hour).After(b.in.PaidAt) {
			return invalidf("date: %s is not a day of the term up to today", x.Date)
		}
		opens := 0
		for _, f := range x.Findings {
			if f.OpenVuln {
				opens++
			}
		}
		if b.openRequests()+opens > MaxOpenRequests {
			return conflictf("%d requests are open; at most %d at once", b.openRequests(), MaxOpenRequests)
		}
		return nil
	}
	return conflictf("unknown step %q", in.Step)
}

// checkRequest applies the edition's rules to a request (SPEC.md's table: "–" is refused).
func (b *butlerCase) checkRequest(r ButlerRequestStepInput) error {
	if b.st.Edition == ButlerEmergency {
		switch r.Kind {
		case RequestVulnerability:
			return conflictf("the emergency edition has no vulnerability handling (SPEC: –); the escort and enterprise editions do")
		case RequestConsulting:
			return conflictf("the emergency edition has no architecture consulting (SPEC: –); the escort and enterprise editions do")
		}
		if r.RecurrenceOf == "" && slices.ContainsFunc(b.st.Requests, func(x ButlerRequest) bool { return x.Kind == RequestIncident }) {
			return conflictf("the emergency edition covers one incident and its recurrences within 15 days; a new incident needs a new purchase")
		}
	} else if r.Kind == RequestIncident && r.Urgency == "" {
		return invalidf("urgency: urgent or normal")
	}
	if r.RecurrenceOf != "" {
		orig := b.request(r.RecurrenceOf)
		if orig == nil || orig.Kind != RequestIncident {
			return conflictf("recurrence_of: no incident %s in this case", r.RecurrenceOf)
		}
		if orig.Status != StatusClosed {
			return conflictf("%s is still being handled (stage %s)", orig.ID, orig.Stage)
		}
	}
	if b.openRequests() >= MaxOpenRequests {
		return conflictf("%d requests are open; at most %d at once", b.openRequests(), MaxOpenRequests)
	}
	return nil
}

func (b *butlerCase) step(ctx workflow.Context, in StepInput) (CaseView, error) {
	now := workflow.Now(ctx)
	at := stepInstant(in, now)
	var events []activities.Event
	add := func(event, actor, detail string) { events = append(events, b.event(ctx, event, actor, detail)) }
	var report *ButlerReport
	switch in.Step {
	case StepAccept:
		b.accepted, b.answer, b.stage = true, StepAccept, StageOnboarding
		add("partner_accepted", ActorPartner, b.partnerID+" accepted ("+in.ActorName+")")
		for _, c := range b.children {
			// Requests opened before a partner held the case learn who handles them.
			c.future.SignalChildWorkflow(ctx, SignalRequestPartner, ButlerPartnerSignal{PartnerID: b.partnerID})
		}
	case StepDecline:
		b.answer, b.declineReason = StepDecline, mustDecode[DeclineInput](in.Payload).Reason
		return b.view(now), nil
	case StepContact:
		b.st.ContactAt, b.stage = &at, StagePlanning
		b.clockRev++
		add("contacted", ActorPartner, "service channel opened: "+mustDecode[ButlerContactInput](in.Payload).Note+"; contact "+b.st.Clocks.complete(0, at))
	case StepPlan:
		p := mustDecode[ButlerPlanInput](in.Payload)
		b.st.Plan, b.stage = &ButlerPlan{ButlerPlanInput: p, AgreedAt: now}, StageService
		detail := "plan agreed: " + p.Summary
		if b.st.Edition != ButlerEmergency {
			detail += "; first monthly report due " + ReportDue(now, 1).In(chinaZone).Format(time.DateOnly)
		}
		add("plan_agreed", ActorPartner, detail)
	case StepReport:
		x := mustDecode[ButlerReportInput](in.Payload)
		b.st.Reports = append(b.st.Reports, ButlerReport{ButlerReportInput: x, Number: len(b.st.Reports) + 1, SubmittedAt: now})
		report = &b.st.Reports[len(b.st.Reports)-1]
		if b.st.Edition == ButlerProfessional && len(b.st.Recipients) > 0 {
			report.EmailedTo = slices.Clone(b.st.Recipients)
		}
		add("report_submitted", ActorPartner, fmt.Sprintf("service report %d for %s: %s", report.Number, x.Period, x.Summary))
	case StepInspection:
		x := mustDecode[InspectionInput](in.Payload)
		rec := ButlerInspection{InspectionInput: x, RecordedAt: now}
		var failed []string
		for _, c := range x.Checks {
			if !c.OK {
				failed = append(failed, c.Item+": "+c.Note)
			}
		}
		detail := fmt.Sprintf("inspection of %s: %d areas checked, %d findings", x.Date, len(x.Checks), len(x.Findings))
		if len(failed) > 0 {
			detail += "; not ok: " + joinList(failed)
		}
		add("inspected", ActorPartner, detail)
		for _, f := range x.Findings {
			if !f.OpenVuln {
				continue
			}
			id, err := b.openRequest(ctx, ButlerRequestStepInput{Kind: RequestVulnerability, Summary: f.Summary, Severity: f.Severity}, at, "inspection of "+x.Date)
			if err != nil {
				return CaseView{}, err
			}
			rec.Opened = append(rec.Opened, id)
			add("request_opened", ActorSystem, fmt.Sprintf("%s: %s vulnerability from the inspection of %s: %s", id, f.Severity, x.Date, f.Summary))
		}
		b.st.Inspections = append(b.st.Inspections, rec)
		if len(b.st.Inspections) > maxInspectionsKept {
			b.st.Inspections = slices.Delete(b.st.Inspections, 0, len(b.st.Inspections)-maxInspectionsKept)
		}
		b.st.InspectedDates = append(b.st.InspectedDates, x.Date)
	case StepRequest:
		r := mustDecode[ButlerRequestStepInput](in.Payload)
		id, err := b.openRequest(ctx, r, at, "the customer")
		if err != nil {
			return CaseView{}, err
		}
		detail := fmt.Sprintf("%s: %s %s", id, r.Kind, r.Summary)
		if r.RecurrenceOf != "" {
			detail += "; recurrence of " + r.RecurrenceOf + ", handled again without a new purchase"
		}
		add("request_received", ActorMarketplace, detail)
	case StepServers:
		s := mustDecode[ServersInput](in.Payload)
		var added []string
		for _, id := range s.Bind {
			if !slices.Contains(b.st.Servers, id) && !slices.Contains(added, id) {
				added = append(added, id)
			}
		}
		b.st.Servers = append(b.st.Servers, added...)
		add("servers_bound", ActorMarketplace, fmt.Sprintf("%d servers bound (%d in all); binding cannot be undone", len(added), len(b.st.Servers)))
	case StepRecipients:
		b.st.Recipients = mustDecode[RecipientsInput](in.Payload).Emails
		add("recipients_set", ActorMarketplace, fmt.Sprintf("%d report recipients", len(b.st.Recipients)))
	}
	// A clock completed after its due instant is a breach the watch will not see.
	for i, c := range b.st.Clocks.Clocks {
		if c.Status(now) == sla.StatusBreached && !slices.Contains(b.st.Clocks.Breached, i) {
			b.st.Clocks.Breached = append(b.st.Clocks.Breached, i)
			events = append(events, b.breachEvent(ctx, c))
			b.notifyBreach(ctx, c)
		}
	}
	if err := b.record(ctx, events...); err != nil {
		return CaseView{}, err
	}
	if report != nil {
		if err := b.deliverReport(ctx, *report, now); err != nil {
			return CaseView{}, err
		}
	}
	return b.view(now), nil
}

// openRequest starts a request's workflow as a child of the case and waits until it runs, so the API
// can address it at once. It returns the request's ID.
func (b *butlerCase) openRequest(ctx workflow.Context, r ButlerRequestStepInput, at time.Time, from string) (string, error) {
	n := b.st.NextRequest
	b.st.NextRequest++
	id := fmt.Sprintf("%s-%d", map[string]string{RequestIncident: "inc", RequestVulnerability: "vul", RequestConsulting: "con"}[r.Kind], n)
	in := ButlerRequestInput{CaseID: b.in.CaseID, RequestID: id, Number: n, Kind: r.Kind, Edition: b.st.Edition, PartnerID: b.partnerID,
		Summary: r.Summary, Urgency: r.Urgency, Severity: r.Severity, RecurrenceOf: r.RecurrenceOf, ReceivedAt: at}
	if !b.accepted {
		in.PartnerID = ""
	}
	if r.RecurrenceOf != "" {
		orig := b.request(r.RecurrenceOf)
		in.Cause = orig.Cause
		if in.Summary == "" {
			in.Summary = "recurrence of " + orig.ID + ": " + orig.Summary
		}
	}
	wfID := RequestWorkflowID(b.in.CaseID, id)
	b.st.Requests = append(b.st.Requests, ButlerRequest{ID: id, WorkflowID: wfID, Kind: r.Kind, Summary: in.Summary, Urgency: r.Urgency,
		Severity: r.Severity, RecurrenceOf: r.RecurrenceOf, ReceivedAt: at, Stage: RequestReceived, Status: StatusOpen, SLA: []SLAEntry{}})
	cctx, cancel := workflow.WithCancel(ctx)
	cctx = workflow.WithChildOptions(cctx, workflow.ChildWorkflowOptions{
		WorkflowID:          wfID,
		StaticSummary:       fmt.Sprintf("%s %s (%s) from %s: %s", r.Kind, id, b.in.CaseID, from, in.Summary),
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation: true,
	})
	f := workflow.ExecuteChildWorkflow(cctx, ButlerRequestWorkflow, in)
	child := &butlerChild{id: id, cancel: cancel, future: f}
	b.children = append(b.children, child)
	workflow.Go(ctx, func(ctx workflow.Context) { b.awaitRequest(ctx, child) })
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return "", err
	}
	return id, nil
}

// awaitRequest waits for a request's workflow to end and notes how it ended.
func (b *butlerCase) awaitRequest(ctx workflow.Context, c *butlerChild) {
	var res ButlerRequestResult
	err := c.future.Get(ctx, &res)
	b.pending++
	defer func() { b.pending-- }()
	// Record what the request told the case before it ended.
	_ = workflow.Await(ctx, func() bool { return b.events.Len() == 0 })
	b.children = slices.DeleteFunc(b.children, func(x *butlerChild) bool { return x == c })
	r := b.request(c.id)
	if r == nil || err == nil {
		return
	}
	now := workflow.Now(ctx)
	r.Status, r.ClosedAt = StatusClosed, &now
	if temporal.IsCanceledError(err) {
		r.Stage, r.Outcome = RequestDone, "cancelled at the end of the term"
		return // watchTerm notes it
	}
	r.Stage, r.Outcome = RequestDone, "failed"
	detail := fmt.Sprintf("%s stopped unexpectedly: %v", c.id, err)
	if rerr := b.record(ctx, b.event(ctx, "request_failed", ActorSystem, detail)); rerr != nil {
		b.logger.Error("record request failure", "Error", rerr)
	}
	b.notify(ctx, "request-failed/"+c.id, notifications.SeverityCritical, false, "安全管家 request failed", detail)
}

// deliverReport renders a periodic report and, for the professional edition, e-mails it to the recipients.
func (b *butlerCase) deliverReport(ctx workflow.Context, r ButlerReport, now time.Time) error {
	doc := activities.Document{
		Key: fmt.Sprintf("%s/service_report/%d", b.in.CaseID, r.Number), CaseID: b.in.CaseID, Kind: "service_report", Version: r.Number,
		Title: "安全管家服务报告", GeneratedAt: now,
		Meta: []activities.DocField{
			{Label: "案件 Case", Value: b.in.CaseID}, {Label: "客户 Customer", Value: b.in.CustomerID},
			{Label: "版本 Edition", Value: b.st.Edition}, {Label: "合作伙伴 Partner", Value: orDash(b.partnerID)},
			{Label: "周期 Period", Value: r.Period},
		},
		Sections: []activities.DocSection{{Heading: "概述 Summary", Paragraphs: []string{r.Summary}, Items: r.Items}},
	}
	reqs := &activities.DocTable{Header: []string{"编号 ID", "类型 Kind", "状态 Status", "结果 Outcome", "超时 Breached"}}
	for _, q := range b.st.Requests {
		reqs.Rows = append(reqs.Rows, []string{q.ID, q.Kind, q.Stage, q.Outcome, yesNo(q.Breached)})
	}
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "服务请求 Requests", Table: reqs})
	if len(b.st.Servers) > 0 {
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "绑定服务器 Bound servers", Items: b.st.Servers})
	}
	var a *activities.Activities
	if err := b.runLocal(ctx, time.Minute, fmt.Sprintf("render service report %d", r.Number), a.RenderDocument, doc, nil); err != nil {
		return err
	}
	if len(r.EmailedTo) == 0 {
		return nil
	}
	return b.emailReport(ctx, r)
}

func yesNo(v bool) string {
	if v {
		return "是 yes"
	}
	return "否 no"
}

func (b *butlerCase) warn(ctx workflow.Context, c sla.Clock, th float64) {
	detail := fmt.Sprintf("%s clock %.0f%% elapsed; due %s", c.Clause, th*100, c.DueAt().Format(time.RFC3339))
	if err := b.record(ctx, b.event(ctx, "sla_at_risk", ActorSystem, detail)); err != nil {
		b.logger.Error("record warning", "Clause", c.Clause, "Error", err)
	}
	b.notify(ctx, fmt.Sprintf("warn/%s@%.0f", c.Clause, th*100), notifications.SeverityWarning, true,
		fmt.Sprintf("安全管家 %s clock at %.0f%%", c.Clause, th*100), detail)
}

func (b *butlerCase) breach(ctx workflow.Context, c sla.Clock) {
	if err := b.record(ctx, b.breachEvent(ctx, c)); err != nil {
		b.logger.Error("record breach", "Clause", c.Clause, "Error", err)
	}
	b.notifyBreach(ctx, c)
}

func (b *butlerCase) breachEvent(ctx workflow.Context, c sla.Clock) activities.Event {
	why := "not met by " + c.DueAt().Format(time.RFC3339)
	if c.CompletedAt != nil {
		why = "completed after its due time " + c.DueAt().Format(time.RFC3339)
	}
	ev := b.event(ctx, "sla_breached", ActorSystem, c.Clause+" clause breached: "+why+"; no compensation applies")
	ev.Key = b.in.CaseID + "/breach/" + c.Clause
	return ev
}

func (b *butlerCase) notifyBreach(ctx workflow.Context, c sla.Clock) {
	b.notify(ctx, "breach/"+c.Clause, notifications.SeverityCritical, true, "安全管家 "+c.Clause+" clause breached",
		"Recorded on the timeline; Security Butler clauses carry no compensation.")
}

// slaStatus is the worst status over the case's clocks and its open requests, and the next deadline.
func (b *butlerCase) slaStatus(now time.Time) (string, *time.Time) {
	status, next := b.st.Clocks.status(now)
	for _, r := range b.st.Requests {
		for _, e := range r.SLA {
			switch {
			case e.Breached:
				status = SLABreached
			case e.Status == SLAAtRisk && status == SLAOnTrack && r.Status != StatusClosed:
				status = SLAAtRisk
			}
			if r.Status != StatusClosed && e.CompletedAt == nil && e.DueAt != nil && (next == nil || e.DueAt.Before(*next)) {
				due := *e.DueAt
				next = &due
			}
		}
	}
	if next == nil && b.status != StatusClosed {
		end := b.st.TermEnd
		next = &end
	}
	return status, next
}

func (b *butlerCase) view(now time.Time) CaseView {
	v := b.baseView(b.save())
	v.SLA = b.st.Clocks.entries(now)
	for _, r := range b.st.Requests {
		for _, e := range r.SLA {
			e.Clause = r.ID + "/" + e.Clause
			v.SLA = append(v.SLA, e)
		}
	}
	return v
}
