// Package butler runs Security Butler (安全管家) subscriptions (SPEC.md "Security Butler"): the case
// workflow (Workflow) and one workflow per customer request inside it (RequestWorkflow, request.go).
package butler

import (
	"errors"
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
	"github.com/steward-oss/steward/workflows"
)

// Registered workflow type names: histories and the API know the workflows by them.
const (
	// WorkflowName is the case workflow's type name.
	WorkflowName = "ButlerWorkflow"
	// RequestWorkflowName is a request workflow's type name.
	RequestWorkflowName = "ButlerRequestWorkflow"
)

// Security Butler stages, besides StageAssignment, StagePlanning and StageClosed.
const (
	// StageOnboarding: a partner accepted; it contacts the customer and opens the service channel within
	// 1 working day of payment.
	StageOnboarding = "onboarding"
	// StageService: the plan is agreed; reports, inspections and requests for the rest of the term.
	StageService = "service"
	// StageTermReport: a yearly term ended without its term report; the case waits for it
	// sla.TermReportDeadline, then closes without it.
	StageTermReport = "term_report"
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

// Steps lists the steps partner engineers send to a Security Butler case; a request's own steps
// (RequestSteps) go to its workflow.
var Steps = []string{workflows.StepAccept, workflows.StepDecline, workflows.StepContact, workflows.StepPlan, workflows.StepReport, StepInspection}

// Updates lists every step the case takes, each its own Workflow Update: the partners' and those the
// marketplace relays from the customer.
var Updates = append(slices.Clone(Steps), workflows.StepRequest, StepServers, StepRecipients)

// Editions lists the Security Butler editions, the specs of a purchase.
var Editions = []string{sla.EditionEmergency, sla.EditionEscort, sla.EditionEnterprise, sla.EditionProfessional}

// Lifecycle is how Security Butler cases run.
var Lifecycle = workflows.Lifecycle{
	Workflows: []workflows.Registration{{Name: WorkflowName, Workflow: Workflow}, {Name: RequestWorkflowName, Workflow: RequestWorkflow}},
	Input:     func(in workflows.CaseInput) any { return Input{CaseInput: in} },
	Steps:     Steps,
	Updates:   Updates,
	Specs:     Editions,
}

// label names the service in notifications.
const label = "安全管家"

// maxInspectionsKept bounds the inspections the state carries; the timeline keeps them all.
const maxInspectionsKept = 31

// cancelWait bounds how long the end of the term waits for cancelled requests to report.
const cancelWait = 5 * time.Minute

// Input starts or continues a Security Butler case. It marshals like a CaseInput, which is what the API
// starts it with; State is set only when a run continues as new.
type Input = workflows.Continued[State]

// Result is how a Security Butler case ended.
type Result = workflows.Ended[State]

// State is what continue-as-new carries into the next run: the kernel's core and the subscription's own
// facts. Requests lists every request with its workflow ID; the open ones (Status open) are still running
// and report to whichever run is current.
type State struct {
	Core      workflows.CoreState `json:"core"`
	Edition   string              `json:"edition"`
	TermEnd   time.Time           `json:"term_end"`
	ContactAt *time.Time          `json:"contact_at,omitempty"`
	Plan      *Plan               `json:"plan,omitempty"`
	Reports   []Report            `json:"reports"`
	// ReportsChecked is the last monthly report whose overdue check has run.
	ReportsChecked int   `json:"reports_checked"`
	Overdue        []int `json:"overdue,omitempty"`
	// Inspections are the latest daily inspections; InspectedDates every day inspected.
	Inspections    []Inspection `json:"inspections"`
	InspectedDates []string     `json:"inspected_dates,omitempty"`
	Requests       []Request    `json:"requests"`
	NextRequest    int          `json:"next_request"`
	Servers        []string     `json:"servers,omitempty"`
	Recipients     []string     `json:"recipients,omitempty"`
	// Reminded lists the term reminders sent (days before the term ends).
	Reminded []int `json:"reminded,omitempty"`
	// InspectionsChecked is the last day (YYYY-MM-DD) whose daily inspection was checked; MissedInspections
	// the days checked without one.
	InspectionsChecked string   `json:"inspections_checked,omitempty"`
	MissedInspections  []string `json:"missed_inspections,omitempty"`
	// TermEnded is set once the end of the term was handled; TermReportDue is when the term report is due,
	// when the case waits for it; TermReport is the number of the report that is the term report.
	TermEnded     bool       `json:"term_ended,omitempty"`
	TermReportDue *time.Time `json:"term_report_due,omitempty"`
	TermReport    int        `json:"term_report,omitempty"`
}

// Details is the subscription as the case view shows it.
type Details struct {
	Runs           int          `json:"runs"`
	Edition        string       `json:"edition"`
	TermEnd        time.Time    `json:"term_end"`
	ContactAt      *time.Time   `json:"contact_at,omitempty"`
	Plan           *Plan        `json:"plan,omitempty"`
	Reports        []Report     `json:"reports"`
	Overdue        []int        `json:"overdue,omitempty"`
	Inspections    []Inspection `json:"inspections"`
	InspectedDates []string     `json:"inspected_dates,omitempty"`
	Requests       []Request    `json:"requests"`
	Servers        []string     `json:"servers,omitempty"`
	Recipients     []string     `json:"recipients,omitempty"`
	// MissedInspections are the days whose daily inspection was missing when checked.
	MissedInspections []string `json:"missed_inspections,omitempty"`
	// TermReportDue is when the term report is due, once the term ended without it; TermReport the
	// number of the report that is the term report, once submitted.
	TermReportDue *time.Time `json:"term_report_due,omitempty"`
	TermReport    int        `json:"term_report,omitempty"`
}

// Plan is the agreed service plan.
type Plan struct {
	PlanInput
	AgreedAt time.Time `json:"agreed_at"`
}

// Report is a submitted periodic report.
type Report struct {
	ReportInput
	Number      int       `json:"number"`
	SubmittedAt time.Time `json:"submitted_at"`
	EmailedTo   []string  `json:"emailed_to,omitempty"`
}

// Inspection is a recorded daily inspection.
type Inspection struct {
	InspectionInput
	RecordedAt time.Time `json:"recorded_at"`
	// Opened are the vulnerability requests its findings opened.
	Opened []string `json:"opened,omitempty"`
}

// Request is a request of the subscription as the case's details show it; its workflow (WorkflowID)
// holds the rest.
type Request struct {
	ID           string               `json:"id"`
	WorkflowID   string               `json:"workflow_id"`
	Kind         string               `json:"kind"`
	Summary      string               `json:"summary"`
	Urgency      string               `json:"urgency,omitempty"`
	Severity     string               `json:"severity,omitempty"`
	RecurrenceOf string               `json:"recurrence_of,omitempty"`
	ReceivedAt   time.Time            `json:"received_at"`
	Stage        string               `json:"stage"`
	Status       string               `json:"status"`
	Outcome      string               `json:"outcome,omitempty"`
	Cause        string               `json:"cause,omitempty"`
	SLA          []workflows.SLAEntry `json:"sla"`
	Breached     bool                 `json:"breached"`
	ClosedAt     *time.Time           `json:"closed_at,omitempty"`
}

// Workflow runs one Security Butler subscription: partner assignment, first contact within 1 working
// day, an agreed plan, then for the term (15 days for the emergency edition, a year for the others)
// monthly reports, daily inspections (a day without one is alerted at 10:00 on the next working day) and
// the customer's requests, each its own RequestWorkflow with its own clocks, reporting to the case by
// signal. A yearly edition ends with the partner's term report: the case closes when it is delivered, or
// 5 working days after the term without it, operations and the partner alerted. The case continues as
// new whenever its history is long, requests open or not. Butler clauses owe no refund: breaches are
// recorded, alerted and shown.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	b := &butlerCase{Case: workflows.NewCase(in.CaseInput, label)}
	b.SLAStatus, b.Expect, b.ExtraClocks = b.slaStatus, b.expect, b.requestClocks
	ctx, err := b.setup(ctx, in.State)
	if err != nil {
		return Result{}, err
	}
	return b.run(ctx)
}

type butlerCase struct {
	*workflows.Case
	// st holds the subscription's facts; its Core is stale during a run (the embedded Case holds the live
	// core) and is filled by carry.
	st       State
	inbox    workflow.ReceiveChannel // RequestEvents from the requests
	termOver bool                    // the term ended: open requests are being cancelled
	starting int                     // requests whose workflow is being started
}

func (b *butlerCase) setup(ctx workflow.Context, resume *State) (workflow.Context, error) {
	if b.In.Service != sla.ServiceButler {
		return ctx, temporal.NewNonRetryableApplicationError(fmt.Sprintf("service: %q is not %s", b.In.Service, sla.ServiceButler), workflows.RejectInvalid, nil)
	}
	if !slices.Contains(Editions, b.In.Spec) {
		return ctx, temporal.NewNonRetryableApplicationError(fmt.Sprintf("spec: %q is not a Security Butler edition; one of %s",
			b.In.Spec, strings.Join(Editions, ", ")), workflows.RejectInvalid, nil)
	}
	var core *workflows.CoreState
	if resume != nil {
		b.st, core = *resume, &resume.Core
	} else {
		b.st = State{Edition: b.In.Spec, TermEnd: sla.ButlerTermEnd(b.In.Spec, b.In.PaidAt), NextRequest: 1}
	}
	b.inbox = workflow.GetSignalChannel(ctx, SignalRequestEvent)
	b.termOver = b.st.TermEnded
	// Last: a step that arrived with the start is validated as soon as the handlers are registered.
	return b.Setup(ctx, core, b.view, Updates, b.step, b.validateStep)
}

// carry is the state the next run continues from.
func (b *butlerCase) carry() State {
	st := b.st
	st.Core = b.CoreState
	return st
}

func (b *butlerCase) termEndDate() string { return sla.ChinaDate(b.st.TermEnd) }

// termPeriod is the term's dates, "2026-03-02 至 2027-03-02", for the term report.
func (b *butlerCase) termPeriod() string {
	return sla.ChinaDate(b.In.PaidAt) + " 至 " + b.termEndDate()
}

func (b *butlerCase) run(ctx workflow.Context) (Result, error) {
	ctx = workflow.WithActivityOptions(ctx, workflows.ActivityOptions)
	if b.Runs == 1 {
		contact, err := b.StartClock(ctx, sla.ClauseOnboardingContact, sla.Inputs{}, b.In.PaidAt)
		if err != nil {
			return Result{}, err
		}
		if err := b.RecordOpened(ctx, fmt.Sprintf("order %s paid at %s; %s edition; first contact due by %s (1 working day); the term ends on %s",
			b.In.OrderID, workflows.When(b.In.PaidAt), b.st.Edition, workflows.When(contact.DueAt()), b.termEndDate())); err != nil {
			return Result{}, err
		}
	}
	b.StartAssignment(ctx)
	workflow.Go(ctx, b.receive)
	workflow.Go(ctx, b.WatchClocks)
	workflow.Go(ctx, b.watchReports)
	workflow.Go(ctx, b.watchInspections)
	workflow.Go(ctx, b.watchTerm)

	// Continue as new whenever the history is long, open requests or not (they report to the current run),
	// once every request event received is recorded and nothing is in flight.
	quiet := func() bool { return b.inbox.Len() == 0 && !b.termOver }
	for {
		// ctx is the kernel's: a cancellation requested of the workflow does not cancel it (Case.Setup).
		if err := workflow.Await(ctx, func() bool { return b.IsClosed() || (b.ContinueAsNewDue(ctx) && quiet()) }); err != nil {
			return Result{}, err
		}
		if err := b.Finish(ctx); err != nil {
			return Result{}, err
		}
		if b.IsClosed() {
			return Result{CaseID: b.In.CaseID, Stage: b.Stage, State: b.carry()}, nil
		}
		if quiet() {
			st := b.carry()
			return Result{}, workflow.NewContinueAsNewError(ctx, WorkflowName, Input{CaseInput: b.In, State: &st})
		}
	}
}

// receive records what the requests report, in the order they report it. It takes an event only once
// one is buffered (a Receive that blocks is handed the next signal directly, out of sight of inbox.Len,
// and the run could continue as new without it), and holds the run from then until it is recorded.
func (b *butlerCase) receive(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return b.inbox.Len() > 0 }); err != nil {
			return
		}
		var ev RequestEvent
		b.inbox.ReceiveAsync(&ev)
		release := b.Hold()
		if r := b.request(ev.RequestID); r != nil {
			r.Stage, r.Status, r.Urgency, r.Severity, r.Cause, r.Outcome, r.SLA = ev.Stage, ev.Status, ev.Urgency, ev.Severity, ev.Cause, ev.Outcome, ev.SLA
			r.Breached = r.Breached || ev.Breached
			if ev.Status == workflows.StatusClosed && r.ClosedAt == nil {
				now := workflow.Now(ctx)
				r.ClosedAt = &now
			}
		}
		if err := b.Record(ctx, ev.Events...); err != nil {
			b.Logger.Error("record request event", "RequestID", ev.RequestID, "Error", err)
		}
		if ev.Outcome == OutcomeFailed {
			b.Notify(ctx, "request-failed/"+ev.RequestID, notifications.SeverityCritical, false, label+" request failed",
				ev.RequestID+" stopped unexpectedly; see its workflow "+RequestWorkflowID(b.In.CaseID, ev.RequestID))
		}
		release()
	}
}

// watchRequest notes a request started by this run that ended on an error without reporting it (a
// request terminated or timed out reports nothing): it is closed as failed, so it no longer counts as
// open, and operations are told. A request started by an earlier run is not watched: its end reaches
// the case only through its own report.
func (b *butlerCase) watchRequest(ctx workflow.Context, id string, f workflow.ChildWorkflowFuture) {
	err := f.Get(ctx, nil)
	if err == nil || temporal.IsCanceledError(err) {
		return
	}
	release := b.Hold()
	defer release()
	// Whatever the request did report is recorded first.
	if werr := workflow.Await(ctx, func() bool { return b.inbox.Len() == 0 }); werr != nil {
		return
	}
	r := b.request(id)
	if r == nil || r.Status == workflows.StatusClosed {
		return
	}
	now := workflow.Now(ctx)
	r.Stage, r.Status, r.Outcome, r.ClosedAt = RequestDone, workflows.StatusClosed, OutcomeFailed, &now
	detail := fmt.Sprintf("%s stopped without reporting its end: %v", id, err)
	if rerr := b.Record(ctx, b.NewEvent(ctx, workflows.EventRequestFailed, workflows.ActorSystem, detail)); rerr != nil {
		b.Logger.Error("record request failure", "Error", rerr)
	}
	b.Notify(ctx, "request-failed/"+id, notifications.SeverityCritical, false, label+" request failed",
		detail+"; see its workflow "+RequestWorkflowID(b.In.CaseID, id))
}

func (b *butlerCase) request(id string) *Request {
	for i := range b.st.Requests {
		if b.st.Requests[i].ID == id {
			return &b.st.Requests[i]
		}
	}
	return nil
}

func (b *butlerCase) openRequests() []*Request {
	var open []*Request
	for i := range b.st.Requests {
		if b.st.Requests[i].Status != workflows.StatusClosed {
			open = append(open, &b.st.Requests[i])
		}
	}
	return open
}

// watchReports alerts operations when a monthly report is still missing 3 days after it fell due.
func (b *butlerCase) watchReports(ctx workflow.Context) {
	if err := workflow.Await(ctx, func() bool { return b.st.Plan != nil || b.IsClosed() }); err != nil || b.IsClosed() {
		return
	}
	for n := b.st.ReportsChecked + 1; ; n++ {
		due := sla.ReportDue(b.st.Plan.AgreedAt, n)
		if !due.Before(b.st.TermEnd) {
			return
		}
		check := due.Add(sla.ReportOverdueAfter)
		if _, err := workflows.AwaitUntil(ctx, check, fmt.Sprintf("monthly report %d overdue check", n), b.IsClosed); err != nil || b.IsClosed() {
			return
		}
		b.st.ReportsChecked = n
		if len(b.st.Reports) >= n {
			continue
		}
		release := b.Hold()
		b.st.Overdue = append(b.st.Overdue, n)
		detail := fmt.Sprintf("monthly report %d was due on %s and is still missing %s later (%d submitted)", n,
			sla.ChinaDate(due), sla.ReportOverdueAfter, len(b.st.Reports))
		if err := b.Record(ctx, b.NewEvent(ctx, workflows.EventReportOverdue, workflows.ActorSystem, detail)); err != nil {
			b.Logger.Error("record overdue report", "Error", err)
		}
		b.Notify(ctx, fmt.Sprintf("report-overdue/%d", n), notifications.SeverityWarning, true, label+" monthly report overdue", detail)
		release()
	}
}

// remindTerm tells the customer, operations and the partner 30 and 7 days before a yearly term ends
// (sla.TermReminderDays); the emergency edition's 15 days end without a renewal, so it has none.
func (b *butlerCase) remindTerm(ctx workflow.Context) {
	if b.st.Edition == sla.EditionEmergency {
		return
	}
	for _, days := range sla.TermReminderDays {
		if slices.Contains(b.st.Reminded, days) {
			continue
		}
		at := b.st.TermEnd.AddDate(0, 0, -days)
		if _, err := workflows.AwaitUntil(ctx, at, fmt.Sprintf("term reminder, %d days before the term ends", days), b.IsClosed); err != nil || b.IsClosed() {
			return
		}
		b.st.Reminded = append(b.st.Reminded, days)
		if workflow.Now(ctx).After(at.Add(sla.ReminderTooLate)) {
			continue // a run resumed after the reminder's day: too late to remind
		}
		release := b.Hold()
		detail := fmt.Sprintf("%d days left in the term (ends %s)", days, b.termEndDate())
		ev := workflows.Tell(b.NewEvent(ctx, workflows.EventTermReminder, workflows.ActorSystem, detail), workflows.NoticeTermReminder,
			"days", fmt.Sprint(days), "end", b.termEndDate())
		if err := b.Record(ctx, ev); err != nil {
			b.Logger.Error("record reminder", "Error", err)
		}
		b.Notify(ctx, fmt.Sprintf("term-reminder/%d", days), notifications.SeverityInfo, true,
			fmt.Sprintf("%s term ends in %d days", label, days), detail)
		release()
	}
}

// watchTerm ends the subscription at the end of its term: requests still open are cancelled with a note
// (the case goes on once they have reported, or cancelWait has passed). The emergency edition, a case no
// partner holds, and a yearly edition whose term report came in its last days close then; otherwise the
// case waits for the term report (awaitTermReport).
func (b *butlerCase) watchTerm(ctx workflow.Context) {
	if !b.st.TermEnded {
		b.remindTerm(ctx)
		if _, err := workflows.AwaitUntil(ctx, b.st.TermEnd, "term end ("+b.termEndDate()+")", b.IsClosed); err != nil || b.IsClosed() {
			return
		}
		if !b.endTerm(ctx) {
			return
		}
	}
	b.awaitTermReport(ctx)
}

// endTerm handles the end of the term and reports whether the case now waits for the term report.
func (b *butlerCase) endTerm(ctx workflow.Context) bool {
	release := b.Hold()
	defer release()
	b.termOver = true // refuses new requests from now on
	// A request still being started could not be cancelled yet: wait until it runs.
	if err := workflow.Await(ctx, func() bool { return b.starting == 0 }); err != nil {
		return false
	}
	var events []activities.Event
	var cancels []workflow.Future
	for _, r := range b.openRequests() {
		cancels = append(cancels, workflow.RequestCancelExternalWorkflow(ctx, r.WorkflowID, ""))
		events = append(events, b.NewEvent(ctx, workflows.EventRequestCancelled, workflows.ActorSystem, r.ID+" was still open at the end of the term and is cancelled"))
	}
	for _, f := range cancels {
		if err := f.Get(ctx, nil); err != nil {
			b.Logger.Warn("cancel request", "Error", err) // it ended meanwhile
		}
	}
	reported := func() bool { return len(b.openRequests()) == 0 && b.inbox.Len() == 0 }
	if _, err := workflows.AwaitFor(ctx, cancelWait, "cancelled requests to report", reported); err != nil {
		return false
	}
	now := workflow.Now(ctx)
	for _, r := range b.openRequests() { // never reported: it counts as cancelled all the same
		r.Stage, r.Status, r.Outcome, r.ClosedAt = RequestDone, workflows.StatusClosed, OutcomeCancelled, &now
	}
	b.st.TermEnded = true
	if b.IsClosed() {
		return false // the term report came while the requests were being cancelled
	}
	detail := "term ended on " + b.termEndDate()
	if !sla.OwesTermReport(b.st.Edition) || !b.Accepted || b.st.TermReport > 0 {
		if b.st.TermReport > 0 {
			detail += fmt.Sprintf("; the term report (service report %d) was submitted", b.st.TermReport)
		}
		events = append(events, b.finalInspections(ctx)...)
		b.EndAs(ctx, workflows.StageClosed)
		events = append(events, b.NewEvent(ctx, workflows.EventTermEnded, workflows.ActorSystem, detail))
		if err := b.Record(ctx, events...); err != nil {
			b.Logger.Error("record term end", "Error", err)
		}
		b.Notify(ctx, "term-ended", notifications.SeverityInfo, true, label+" term ended", "The subscription's term ended on "+b.termEndDate()+"; the case is closed.")
		return false
	}
	due, err := workflows.DeadlineFrom(ctx, sla.TermReportDeadline, b.st.TermEnd)
	if err != nil {
		b.Logger.Error("term report deadline", "Error", err)
		due = b.st.TermEnd.Add(7 * sla.Day) // 5 working days are at least a week; never reached with valid calendars
	}
	b.st.TermReportDue, b.Stage = &due, StageTermReport
	detail += fmt.Sprintf("; the partner's term report is due by %s (%s)", workflows.When(due), sla.TermReportDeadline)
	events = append(events, b.NewEvent(ctx, workflows.EventTermEnded, workflows.ActorSystem, detail))
	if err := b.Record(ctx, events...); err != nil {
		b.Logger.Error("record term end", "Error", err)
	}
	b.Notify(ctx, "term-ended", notifications.SeverityInfo, true, label+" term ended; term report due",
		fmt.Sprintf("The subscription's term ended on %s; partner %s owes the term report (report step, kind %s) by %s.",
			b.termEndDate(), b.PartnerID, ReportTerm, workflows.When(due)))
	return true
}

// awaitTermReport waits for the term report until it is due; without it by then operations and the
// partner are alerted and the case closes: the term is over and nothing else is owed, and a case left
// open for a report that may never come would hold the partner's capacity and wait forever. A report
// still owed after that is a matter between operations and the partner.
func (b *butlerCase) awaitTermReport(ctx workflow.Context) {
	due := *b.st.TermReportDue
	if _, err := workflows.AwaitUntil(ctx, due, "term report due ("+sla.TermReportDeadline.String()+" after the term)", b.IsClosed); err != nil || b.IsClosed() {
		return
	}
	release := b.Hold()
	defer release()
	events := b.finalInspections(ctx)
	b.EndAs(ctx, workflows.StageClosed)
	detail := fmt.Sprintf("no term report %s after the term ended on %s (due %s); operations and partner %s alerted", sla.TermReportDeadline,
		b.termEndDate(), workflows.When(due), b.PartnerID)
	events = append(events,
		b.NewEvent(ctx, workflows.EventTermReportMissed, workflows.ActorSystem, detail),
		b.NewEvent(ctx, workflows.EventCaseExpired, workflows.ActorSystem, "closed without the term report"))
	if err := b.Record(ctx, events...); err != nil {
		b.Logger.Error("record missing term report", "Error", err)
	}
	b.Notify(ctx, "term-report-missed", notifications.SeverityWarning, true, label+" term report missing", detail+"; the case is closed without it.")
}

// watchInspections alerts operations and the partner of a day whose inspection was not recorded, at
// 10:00 China time on the next working day (sla.InspectionCheck), for the editions with daily
// inspections: the days owed run from the day after the plan was agreed to the last full day of the
// term. It keeps one timer at a time, one per working day, which checks every day since the previous
// working day (Monday's checks Friday to Sunday), and writes a timeline line and an alert only when a
// check finds a day missing, so a year of inspections adds a few hundred timers to the history, spread
// over its runs. Days whose check would come after the case closed are checked when it closes
// (finalInspections).
func (b *butlerCase) watchInspections(ctx workflow.Context) {
	if !sla.DailyInspections(b.st.Edition) {
		return
	}
	if err := workflow.Await(ctx, func() bool { return b.st.Plan != nil || b.IsClosed() }); err != nil || b.IsClosed() {
		return
	}
	for next, last := b.inspectionsOwed(); next <= last; next, last = b.inspectionsOwed() {
		at, workday, err := inspectionCheck(ctx, next)
		if err != nil {
			b.Logger.Error("daily inspection check", "Day", next, "Error", err)
			return
		}
		days := dayRange(next, min(addDays(workday, -1), last))
		what := "daily inspection of " + days[0]
		if len(days) > 1 {
			what = fmt.Sprintf("daily inspections of %s to %s", days[0], days[len(days)-1])
		}
		if _, err := workflows.AwaitUntil(ctx, at, "check the "+what, b.IsClosed); err != nil || b.IsClosed() {
			return
		}
		release := b.Hold()
		if ev := b.checkInspections(ctx, days, at, workday); ev != nil {
			if err := b.Record(ctx, *ev); err != nil {
				b.Logger.Error("record missing inspection", "Error", err)
			}
		}
		release()
	}
}

// inspectionsOwed are the first day owed a daily inspection and not yet checked, and the term's last
// full day: none left when next is after last.
func (b *butlerCase) inspectionsOwed() (next, last string) {
	next, last = addDays(sla.ChinaDate(b.st.Plan.AgreedAt), 1), addDays(b.termEndDate(), -1)
	if b.st.InspectionsChecked >= next {
		next = addDays(b.st.InspectionsChecked, 1)
	}
	return next, last
}

// checkInspections checks days (ascending) at by: it marks them checked and, when some were not
// inspected, returns the timeline line to record and alerts operations and the partner (key names the
// check, once).
func (b *butlerCase) checkInspections(ctx workflow.Context, days []string, by time.Time, key string) *activities.Event {
	if len(days) == 0 {
		return nil
	}
	b.st.InspectionsChecked = days[len(days)-1]
	var missing []string
	for _, d := range days {
		if !slices.Contains(b.st.InspectedDates, d) {
			missing = append(missing, d)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	b.st.MissedInspections = append(b.st.MissedInspections, missing...)
	total := fmt.Sprintf("%d days", len(b.st.MissedInspections))
	if len(b.st.MissedInspections) == 1 {
		total = "1 day"
	}
	detail := fmt.Sprintf("no daily inspection recorded for %s by %s (%s missed this term)", workflows.JoinList(missing),
		workflows.When(by), total)
	b.Notify(ctx, "inspection-missed/"+key, notifications.SeverityWarning, true, label+" daily inspection missing", detail+".")
	ev := b.NewEvent(ctx, workflows.EventInspectionMissed, workflows.ActorSystem, detail)
	return &ev
}

// finalInspections checks, as the case closes after its term, the days owed whose check would have
// come later: their timeline line, if one is missing, to record with the close.
func (b *butlerCase) finalInspections(ctx workflow.Context) []activities.Event {
	if !sla.DailyInspections(b.st.Edition) || b.st.Plan == nil {
		return nil
	}
	next, last := b.inspectionsOwed()
	if next > last {
		return nil
	}
	if ev := b.checkInspections(ctx, dayRange(next, last), workflow.Now(ctx), "final"); ev != nil {
		return []activities.Event{*ev}
	}
	return nil
}

// dayRange lists the days from first to last (YYYY-MM-DD), inclusive.
func dayRange(first, last string) []string {
	var out []string
	for d := first; d <= last; d = addDays(d, 1) {
		out = append(out, d)
	}
	return out
}

// inspectionCheck is sla.InspectionCheck in the worker's calendars, inside a side effect: a replay reuses
// the instant computed the first time even if the holiday data has changed since.
func inspectionCheck(ctx workflow.Context, day string) (time.Time, string, error) {
	type result struct {
		At      time.Time `json:"at"`
		Workday string    `json:"workday"`
		Err     string    `json:"err,omitempty"`
	}
	var r result
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		// The calendars are read inside the side effect; the checker cannot see that.
		at, workday, err := sla.InspectionCheck(workflows.Calendars(), day) //workflowcheck:ignore
		if err != nil {
			return result{Err: err.Error()}
		}
		return result{At: at, Workday: workday}
	}).Get(&r)
	if err != nil {
		return time.Time{}, "", err
	}
	if r.Err != "" {
		return time.Time{}, "", errors.New(r.Err)
	}
	return r.At, r.Workday, nil
}

// addDays is the date n days after day (YYYY-MM-DD).
func addDays(day string, n int) string {
	t, _ := time.Parse(time.DateOnly, day)
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}

func (b *butlerCase) validateStep(ctx workflow.Context, in workflows.StepInput) error {
	now := workflow.Now(ctx)
	if b.st.Edition == sla.EditionEmergency && in.Step == workflows.StepRequest && (b.IsClosed() || b.termOver || !now.Before(b.st.TermEnd)) {
		return workflows.Conflictf("the 15-day guarantee ended on %s; a new purchase is needed", b.termEndDate())
	}
	if b.IsClosed() {
		return workflows.Conflictf("the case is closed (stage %s; the term ended on %s)", b.Stage, b.termEndDate())
	}
	// After the term: the term report, and the inspections of its last days while it is awaited.
	if b.termOver && !(in.Step == workflows.StepReport && reportKind(in) == ReportTerm) && !(in.Step == StepInspection && b.Stage == StageTermReport) {
		return workflows.Conflictf("the term ended on %s; only the term report (report, kind %s) is taken now", b.termEndDate(), ReportTerm)
	}
	switch in.Step {
	case workflows.StepRequest:
		if in.Actor != workflows.ActorMarketplace {
			return workflows.Conflictf("requests come from the customer through the marketplace")
		}
		if err := workflows.DecodeValid[RequestStepInput](in.Payload); err != nil {
			return err
		}
		return b.checkRequest(workflows.MustDecode[RequestStepInput](in.Payload))
	case StepServers:
		if in.Actor != workflows.ActorMarketplace {
			return workflows.Conflictf("servers are bound by the customer through the marketplace")
		}
		if b.st.Edition != sla.EditionProfessional {
			return workflows.Conflictf("binding servers is a feature of the professional edition; this is the %s edition", b.st.Edition)
		}
		if err := workflows.DecodeValid[ServersInput](in.Payload); err != nil {
			return err
		}
		s := workflows.MustDecode[ServersInput](in.Payload)
		if len(s.Unbind) > 0 {
			return workflows.Conflictf("server binding cannot be undone (SPEC): %s stay bound", workflows.JoinList(s.Unbind))
		}
		added := 0
		for _, id := range s.Bind {
			if !slices.Contains(b.st.Servers, id) {
				added++
			}
		}
		if len(b.st.Servers)+added > MaxBoundServers {
			return workflows.Conflictf("at most %d servers can be bound", MaxBoundServers)
		}
		return nil
	case StepRecipients:
		if in.Actor != workflows.ActorMarketplace {
			return workflows.Conflictf("report recipients are set by the customer through the marketplace")
		}
		if b.st.Edition != sla.EditionProfessional {
			return workflows.Conflictf("report e-mail is a feature of the professional edition; this is the %s edition", b.st.Edition)
		}
		return workflows.DecodeValid[RecipientsInput](in.Payload)
	case workflows.StepAccept, workflows.StepDecline:
		return b.ValidateOffer(in)
	}
	if err := b.RequirePartner(in); err != nil {
		return err
	}
	switch in.Step {
	case workflows.StepContact:
		if b.st.ContactAt != nil {
			return workflows.Conflictf("the customer was already contacted at %s", workflows.When(*b.st.ContactAt))
		}
		return workflows.DecodeValid[ContactInput](in.Payload)
	case workflows.StepPlan:
		if b.st.ContactAt == nil {
			return workflows.Conflictf("contact the customer and open the service channel first")
		}
		if b.st.Plan != nil {
			return workflows.Conflictf("the plan was agreed at %s", workflows.When(b.st.Plan.AgreedAt))
		}
		return workflows.DecodeValid[PlanInput](in.Payload)
	case workflows.StepReport:
		if err := workflows.DecodeValid[ReportInput](in.Payload); err != nil {
			return err
		}
		if reportKind(in) == ReportTerm {
			return b.checkTermReport(now)
		}
		if b.Stage != StageService {
			return workflows.Conflictf("reports start once the plan is agreed; the case is in stage %s", b.Stage)
		}
		return nil
	case StepInspection:
		return b.checkInspection(in, now)
	}
	return workflows.Conflictf("unknown step %q", in.Step)
}

// reportKind is the kind of the report a report step sends; monthly unless it says term.
func reportKind(in workflows.StepInput) string {
	if workflows.MustDecode[ReportInput](in.Payload).Kind == ReportTerm {
		return ReportTerm
	}
	return ReportMonthly
}

// checkTermReport applies the term report's rules: a yearly edition's, once, after the plan and from
// sla.TermReportOpens before the term ends.
func (b *butlerCase) checkTermReport(now time.Time) error {
	opens := b.st.TermEnd.Add(-sla.TermReportOpens)
	switch {
	case !sla.OwesTermReport(b.st.Edition):
		return workflows.Conflictf("the %s edition has no term report: its days end with the incident's 《应急报告》", b.st.Edition)
	case b.st.TermReport > 0:
		return workflows.Conflictf("the term report was submitted (service report %d)", b.st.TermReport)
	case b.Stage != StageService && b.Stage != StageTermReport:
		return workflows.Conflictf("the term report follows the agreed plan; the case is in stage %s", b.Stage)
	case now.Before(opens):
		return workflows.Conflictf("the term report is taken from %s, the last %d days of the term (it ends on %s)",
			workflows.When(opens), int(sla.TermReportOpens/sla.Day), b.termEndDate())
	}
	return nil
}

func (b *butlerCase) checkInspection(in workflows.StepInput, now time.Time) error {
	if b.st.Edition == sla.EditionEmergency {
		return workflows.Conflictf("the emergency edition has no daily inspection: its checks are tied to the incident")
	}
	if b.Stage != StageService && b.Stage != StageTermReport {
		return workflows.Conflictf("daily inspections start once the plan is agreed; the case is in stage %s", b.Stage)
	}
	if err := workflows.DecodeValid[InspectionInput](in.Payload); err != nil {
		return err
	}
	x := workflows.MustDecode[InspectionInput](in.Payload)
	if b.Stage == StageTermReport {
		if x.Date >= b.termEndDate() {
			return workflows.Invalidf("date: %s is after the term, which ended on %s", x.Date, b.termEndDate())
		}
		if slices.ContainsFunc(x.Findings, func(f InspectionFinding) bool { return f.OpenVuln }) {
			return workflows.Conflictf("the term ended on %s: a finding opens no request now (open_vuln)", b.termEndDate())
		}
	}
	if slices.Contains(b.st.InspectedDates, x.Date) {
		return workflows.Conflictf("the inspection of %s is already recorded", x.Date)
	}
	date, _ := time.ParseInLocation(time.DateOnly, x.Date, sla.China)
	if date.After(now) || !date.Add(sla.Day).After(b.In.PaidAt) {
		return workflows.Invalidf("date: %s is not a day of the term up to today", x.Date)
	}
	opens := 0
	for _, f := range x.Findings {
		if f.OpenVuln {
			opens++
		}
	}
	if open := len(b.openRequests()); open+opens > MaxOpenRequests {
		return workflows.Conflictf("%d requests are open; at most %d at once", open, MaxOpenRequests)
	}
	return nil
}

// checkRequest applies the edition's rules to a request (SPEC.md's table: "–" is refused).
func (b *butlerCase) checkRequest(r RequestStepInput) error {
	if b.st.Edition == sla.EditionEmergency {
		switch r.Kind {
		case sla.RequestVulnerability:
			return workflows.Conflictf("the emergency edition has no vulnerability handling (SPEC: –); the escort and enterprise editions do")
		case sla.RequestConsulting:
			return workflows.Conflictf("the emergency edition has no architecture consulting (SPEC: –); the escort and enterprise editions do")
		}
		if r.RecurrenceOf == "" && slices.ContainsFunc(b.st.Requests, func(x Request) bool { return x.Kind == sla.RequestIncident }) {
			return workflows.Conflictf("the emergency edition covers one incident and its recurrences within 15 days; a new incident needs a new purchase")
		}
	} else if r.Kind == sla.RequestIncident && r.Urgency == "" {
		return workflows.Invalidf("urgency: urgent or normal")
	}
	if r.RecurrenceOf != "" {
		orig := b.request(r.RecurrenceOf)
		if orig == nil || orig.Kind != sla.RequestIncident {
			return workflows.Conflictf("recurrence_of: no incident %s in this case", r.RecurrenceOf)
		}
		if orig.Status != workflows.StatusClosed {
			return workflows.Conflictf("%s is still being handled (stage %s)", orig.ID, orig.Stage)
		}
	}
	if open := len(b.openRequests()); open >= MaxOpenRequests {
		return workflows.Conflictf("%d requests are open; at most %d at once", open, MaxOpenRequests)
	}
	return nil
}

func (b *butlerCase) step(ctx workflow.Context, in workflows.StepInput) (workflows.CaseView, error) {
	now := workflow.Now(ctx)
	at := workflows.StepInstant(in, now)
	var events []activities.Event
	add := func(event workflows.Event, actor, detail string) {
		events = append(events, b.NewEvent(ctx, event, actor, detail))
	}
	var report *Report
	switch in.Step {
	case workflows.StepAccept:
		events = append(events, b.Accept(ctx, in, StageOnboarding, ""))
		b.tellPartner(ctx, b.openRequests()...)
	case workflows.StepDecline:
		b.Decline(in)
		return b.view(now), nil
	case workflows.StepContact:
		b.st.ContactAt, b.Stage = &at, workflows.StagePlanning
		add(workflows.EventCustomerContacted, workflows.ActorPartner, "service channel opened: "+workflows.MustDecode[ContactInput](in.Payload).Note+
			"; contact "+b.Clocks.Complete(sla.ClauseOnboardingContact, at, now))
		events[len(events)-1] = workflows.Tell(events[len(events)-1], workflows.NoticeOnboarding, "edition", sla.SpecTitle(b.st.Edition))
	case workflows.StepPlan:
		p := workflows.MustDecode[PlanInput](in.Payload)
		b.st.Plan, b.Stage = &Plan{PlanInput: p, AgreedAt: now}, StageService
		detail := "plan agreed: " + p.Summary
		if b.st.Edition != sla.EditionEmergency {
			detail += "; first monthly report due " + sla.ChinaDate(sla.ReportDue(now, 1))
		}
		add(workflows.EventPlanAgreed, workflows.ActorPartner, detail)
	case workflows.StepReport:
		x := workflows.MustDecode[ReportInput](in.Payload)
		r := Report{ReportInput: x, Number: len(b.st.Reports) + 1, SubmittedAt: now}
		if r.Kind == "" {
			r.Kind = ReportMonthly
		}
		if b.st.Edition == sla.EditionProfessional && len(b.st.Recipients) > 0 {
			r.EmailedTo = slices.Clone(b.st.Recipients)
		}
		b.st.Reports, report = append(b.st.Reports, r), &r
		if r.Kind != ReportTerm {
			add(workflows.EventReportSubmitted, workflows.ActorPartner, fmt.Sprintf("service report %d for %s: %s", r.Number, x.Period, x.Summary))
			events[len(events)-1] = workflows.Tell(events[len(events)-1], workflows.NoticeMonthlyReport, "number", fmt.Sprint(r.Number), "period", x.Period)
			break
		}
		b.st.TermReport = r.Number
		add(workflows.EventReportSubmitted, workflows.ActorPartner, fmt.Sprintf("term report (service report %d) for the term %s: %s", r.Number, b.termPeriod(), x.Summary))
		events[len(events)-1] = workflows.Tell(events[len(events)-1], workflows.NoticeTermReport, "period", b.termPeriod())
		if b.Stage == StageTermReport {
			detail := fmt.Sprintf("the term report came %s after the term ended on %s (due %s); the case is closed",
				workflows.Span(now.Sub(b.st.TermEnd)), b.termEndDate(), workflows.When(*b.st.TermReportDue))
			events = append(events, b.finalInspections(ctx)...)
			b.EndAs(ctx, workflows.StageClosed)
			add(workflows.EventCaseClosed, workflows.ActorSystem, detail)
			b.Notify(ctx, "term-report", notifications.SeverityInfo, true, label+" term report received; case closed", detail+".")
		}
	case StepInspection:
		x := workflows.MustDecode[InspectionInput](in.Payload)
		rec := Inspection{InspectionInput: x, RecordedAt: now}
		var failed []string
		for _, c := range x.Checks {
			if !c.OK {
				failed = append(failed, c.Item+": "+c.Note)
			}
		}
		detail := fmt.Sprintf("inspection of %s: %d areas checked, %d findings", x.Date, len(x.Checks), len(x.Findings))
		if len(failed) > 0 {
			detail += "; not ok: " + workflows.JoinList(failed)
		}
		add(workflows.EventInspected, workflows.ActorPartner, detail)
		// Taken before the requests below yield, so the same day sent again meanwhile is refused.
		b.st.InspectedDates = append(b.st.InspectedDates, x.Date)
		for _, f := range x.Findings {
			if !f.OpenVuln {
				continue
			}
			id, err := b.openRequest(ctx, RequestStepInput{Kind: sla.RequestVulnerability, Summary: f.Summary, Severity: f.Severity}, at, "inspection of "+x.Date)
			if err != nil {
				return workflows.CaseView{}, err
			}
			rec.Opened = append(rec.Opened, id)
			add(workflows.EventRequestOpened, workflows.ActorSystem, fmt.Sprintf("%s: %s vulnerability from the inspection of %s: %s", id, f.Severity, x.Date, f.Summary))
		}
		b.st.Inspections = append(b.st.Inspections, rec)
		if len(b.st.Inspections) > maxInspectionsKept {
			b.st.Inspections = slices.Delete(b.st.Inspections, 0, len(b.st.Inspections)-maxInspectionsKept)
		}
	case workflows.StepRequest:
		r := workflows.MustDecode[RequestStepInput](in.Payload)
		id, err := b.openRequest(ctx, r, at, "the customer")
		if err != nil {
			return workflows.CaseView{}, err
		}
		detail := fmt.Sprintf("%s: %s %s", id, r.Kind, r.Summary)
		if r.RecurrenceOf != "" {
			detail += "; recurrence of " + r.RecurrenceOf + ", handled again without a new purchase"
		}
		add(workflows.EventRequestReceived, workflows.ActorMarketplace, detail)
	case StepServers:
		var added []string
		for _, id := range workflows.MustDecode[ServersInput](in.Payload).Bind {
			if !slices.Contains(b.st.Servers, id) && !slices.Contains(added, id) {
				added = append(added, id)
			}
		}
		b.st.Servers = append(b.st.Servers, added...)
		add(workflows.EventServersBound, workflows.ActorMarketplace, fmt.Sprintf("%d servers bound (%d in all); binding cannot be undone", len(added), len(b.st.Servers)))
	case StepRecipients:
		b.st.Recipients = workflows.MustDecode[RecipientsInput](in.Payload).Emails
		add(workflows.EventRecipientsSet, workflows.ActorMarketplace, fmt.Sprintf("%d report recipients", len(b.st.Recipients)))
	}
	late, refunds := b.LateBreaches(ctx, now)
	if err := b.RecordWith(ctx, append(events, late...), refunds); err != nil {
		return workflows.CaseView{}, err
	}
	if report != nil {
		if err := b.deliverReport(ctx, *report, now); err != nil {
			return workflows.CaseView{}, err
		}
	}
	return b.view(now), nil
}

// tellPartner tells requests opened before a partner held the case who handles them, in the background.
func (b *butlerCase) tellPartner(ctx workflow.Context, requests ...*Request) {
	if len(requests) == 0 {
		return
	}
	var sent []workflow.Future
	for _, r := range requests {
		sent = append(sent, workflow.SignalExternalWorkflow(ctx, r.WorkflowID, "", SignalRequestPartner, PartnerSignal{PartnerID: b.PartnerID}))
	}
	release := b.Hold()
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer release()
		for _, f := range sent {
			if err := f.Get(ctx, nil); err != nil {
				b.Logger.Warn("tell a request its partner", "Error", err)
			}
		}
	})
}

// openRequest starts a request's workflow and waits until it runs, so the API can address it at once. The
// request outlives the run that started it (ParentClosePolicy ABANDON: a run that continues as new must not
// cancel it); it reports to the case by its workflow ID. It returns the request's ID.
func (b *butlerCase) openRequest(ctx workflow.Context, r RequestStepInput, at time.Time, from string) (string, error) {
	n := b.st.NextRequest
	b.st.NextRequest++
	id := fmt.Sprintf("%s-%d", map[string]string{sla.RequestIncident: "inc", sla.RequestVulnerability: "vul", sla.RequestConsulting: "con"}[r.Kind], n)
	in := RequestInput{CaseID: b.In.CaseID, RequestID: id, Number: n, Kind: r.Kind, Edition: b.st.Edition,
		Summary: r.Summary, Urgency: r.Urgency, Severity: r.Severity, RecurrenceOf: r.RecurrenceOf, ReceivedAt: at}
	if b.Accepted {
		in.PartnerID = b.PartnerID
	}
	if r.RecurrenceOf != "" {
		orig := b.request(r.RecurrenceOf)
		in.Cause = orig.Cause
		if in.Summary == "" {
			in.Summary = "recurrence of " + orig.ID + ": " + orig.Summary
		}
	}
	wfID := RequestWorkflowID(b.In.CaseID, id)
	b.st.Requests = append(b.st.Requests, Request{ID: id, WorkflowID: wfID, Kind: r.Kind, Summary: in.Summary, Urgency: r.Urgency,
		Severity: r.Severity, RecurrenceOf: r.RecurrenceOf, ReceivedAt: at, Stage: RequestReceived, Status: workflows.StatusOpen, SLA: []workflows.SLAEntry{}})
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        wfID,
		StaticSummary:     fmt.Sprintf("%s %s (%s) from %s: %s", r.Kind, id, b.In.CaseID, from, in.Summary),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		// The end of the term cancels a request by RequestCancelExternalWorkflow; it reports before it stops.
		WaitForCancellation: true,
	})
	f := workflow.ExecuteChildWorkflow(cctx, RequestWorkflowName, in)
	b.starting++
	err := f.GetChildWorkflowExecution().Get(ctx, nil)
	b.starting--
	if err != nil {
		b.st.Requests = slices.DeleteFunc(b.st.Requests, func(x Request) bool { return x.ID == id })
		return "", err
	}
	workflow.Go(ctx, func(ctx workflow.Context) { b.watchRequest(ctx, id, f) })
	if in.PartnerID == "" && b.Accepted { // a partner accepted while the request was starting
		b.tellPartner(ctx, b.request(id))
	}
	return id, nil
}

// requestClocks are the requests' clocks as the reports read them, from what each request last reported:
// each started when its request was received and counts against the partner holding the case.
func (b *butlerCase) requestClocks(time.Time) []activities.ClockRow {
	var out []activities.ClockRow
	partner := ""
	if b.Accepted {
		partner = b.PartnerID
	}
	for _, r := range b.st.Requests {
		for i, e := range r.SLA {
			state := sla.ClockRunning
			switch {
			case e.CompletedAt != nil:
				state = sla.ClockCompleted
			case e.Status == workflows.SLAPaused:
				state = sla.ClockPaused
			}
			out = append(out, activities.ClockRow{Key: fmt.Sprintf("request/%s/%d", r.ID, i), Clause: e.Clause, PartnerID: partner,
				State: state, Status: e.Status, StartedAt: r.ReceivedAt, DueAt: e.DueAt, CompletedAt: e.CompletedAt})
		}
	}
	return out
}

// expect is the step the case waits for and from whom, for the Web UI.
func (b *butlerCase) expect() string {
	p := "partner " + b.PartnerID + ": "
	switch b.Stage {
	case StageOnboarding:
		return p + "contact the customer and open the channel (" + workflows.StepContact + ") within 1 working day"
	case workflows.StagePlanning:
		return p + "the agreed service plan (" + workflows.StepPlan + ")"
	case StageService:
		daily := " and daily inspections"
		if !sla.DailyInspections(b.st.Edition) {
			daily = ""
		}
		out := fmt.Sprintf("%smonthly reports%s (%s, %s) until %s; %d request(s) open",
			p, daily, workflows.StepReport, StepInspection, b.termEndDate(), len(b.openRequests()))
		if n := len(b.st.MissedInspections); n > 0 {
			out += fmt.Sprintf("; %d daily inspection(s) missed, the latest %s", n, b.st.MissedInspections[n-1])
		}
		if sla.OwesTermReport(b.st.Edition) && b.st.TermReport == 0 {
			out += fmt.Sprintf("; then the term report (%s, kind %s) by %s after the term", workflows.StepReport, ReportTerm, sla.TermReportDeadline)
		}
		return out
	case StageTermReport:
		return fmt.Sprintf("%sthe term report (%s, kind %s) by %s; without it the case closes then", p, workflows.StepReport, ReportTerm,
			workflows.When(*b.st.TermReportDue))
	}
	return ""
}

// slaStatus is the worst status over the case's clocks and its open requests, and the next deadline.
func (b *butlerCase) slaStatus(now time.Time) (string, *time.Time) {
	status, next := b.Clocks.Status(now)
	for _, r := range b.st.Requests {
		open := r.Status != workflows.StatusClosed
		for _, e := range r.SLA {
			if open || e.Breached || e.Status == workflows.SLAMet || e.Status == workflows.SLAStopped {
				status = workflows.WorseSLA(status, e.Status) // a closed request's at-risk snapshot is stale
			}
			if open && e.CompletedAt == nil && e.DueAt != nil && !e.Breached && !now.After(*e.DueAt) && (next == nil || e.DueAt.Before(*next)) {
				due := *e.DueAt
				next = &due
			}
		}
	}
	if next == nil && !b.IsClosed() {
		end := b.st.TermEnd
		if b.st.TermReportDue != nil {
			end = *b.st.TermReportDue
		}
		next = &end
	}
	return status, next
}

// view is the case view: the case's clocks, then each request's, named "<request>/<clause>".
func (b *butlerCase) view(now time.Time) workflows.CaseView {
	st := &b.st
	v := b.BaseView(now, Details{Runs: b.Runs, Edition: st.Edition, TermEnd: st.TermEnd, ContactAt: st.ContactAt, Plan: st.Plan,
		Reports: st.Reports, Overdue: st.Overdue, Inspections: st.Inspections, InspectedDates: st.InspectedDates, Requests: st.Requests,
		Servers: st.Servers, Recipients: st.Recipients, MissedInspections: st.MissedInspections, TermReportDue: st.TermReportDue,
		TermReport: st.TermReport})
	for _, r := range st.Requests {
		for _, e := range r.SLA {
			e.Clause = r.ID + "/" + e.Clause
			v.SLA = append(v.SLA, e)
		}
	}
	return v
}
