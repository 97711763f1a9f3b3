package butler

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// Messages between a Security Butler case and its requests.
const (
	// SignalRequestEvent carries a RequestEvent from a request to its case, which records it: the case is
	// the only writer of its projection and timeline.
	SignalRequestEvent = "request_event"
	// SignalRequestPartner tells a request which partner holds the case (PartnerSignal), when it was opened
	// before a partner accepted.
	SignalRequestPartner = "request_partner"
	// QueryRequestView returns a request's RequestView.
	QueryRequestView = "request_view"
)

// Request stages: the last step done, or one of these.
const (
	RequestReceived = "received"
	RequestDone     = "done"
)

// Outcomes of a request: how it ended.
const (
	// OutcomeResolved: an incident was followed up after its handling.
	OutcomeResolved = "resolved"
	// OutcomeNotPresent: verification found the vulnerability does not exist.
	OutcomeNotPresent = "not_present"
	// OutcomeFixed: the retest found the vulnerability fixed.
	OutcomeFixed = "fixed"
	// OutcomeAnswered: the consultation was answered.
	OutcomeAnswered = "answered"
	// OutcomeCancelled: the request was still open when the term ended.
	OutcomeCancelled = "cancelled at the end of the term"
	// OutcomeFailed: the request's workflow stopped on an error; operations look at it.
	OutcomeFailed = "failed"
)

// RequestWorkflowID is the workflow ID of a request of a case: the API sends the request's steps there.
func RequestWorkflowID(caseID, requestID string) string { return caseID + "/" + requestID }

// RequestInput starts a request's workflow.
type RequestInput struct {
	CaseID    string `json:"case_id"`
	RequestID string `json:"request_id"`
	// Number is the request's number in the case (inc-3 → 3); its report's version.
	Number    int    `json:"number"`
	Kind      string `json:"kind"`
	Edition   string `json:"edition"`
	PartnerID string `json:"partner_id,omitempty"`
	Summary   string `json:"summary"`
	Urgency   string `json:"urgency,omitempty"`
	Severity  string `json:"severity,omitempty"`
	// RecurrenceOf and Cause link a recurrence to the incident it recurs and that incident's cause.
	RecurrenceOf string    `json:"recurrence_of,omitempty"`
	Cause        string    `json:"cause,omitempty"`
	ReceivedAt   time.Time `json:"received_at"`
}

// RequestEvent is what a request tells its case on each transition: the timeline lines to record (keys
// prefixed by the request's workflow ID) and the request's state after it. The last one has Status closed.
type RequestEvent struct {
	RequestID string               `json:"request_id"`
	Events    []activities.Event   `json:"events"`
	Stage     string               `json:"stage"`
	Status    string               `json:"status"`
	Urgency   string               `json:"urgency,omitempty"`
	Severity  string               `json:"severity,omitempty"`
	Cause     string               `json:"cause,omitempty"`
	Outcome   string               `json:"outcome,omitempty"`
	SLA       []workflows.SLAEntry `json:"sla"`
	Breached  bool                 `json:"breached"`
}

// PartnerSignal is the partner now holding the case.
type PartnerSignal struct {
	PartnerID string `json:"partner_id"`
}

// RequestStep is one step of a request, as its report lists it.
type RequestStep struct {
	At     time.Time `json:"at"`
	Step   string    `json:"step"`
	Detail string    `json:"detail,omitempty"`
}

// RequestView is a request's state, what its query and step updates return.
type RequestView struct {
	RequestInput
	WorkflowID string               `json:"workflow_id"`
	Stage      string               `json:"stage"`
	Status     string               `json:"status"`
	NextSteps  []string             `json:"next_steps"`
	Outcome    string               `json:"outcome,omitempty"`
	SLA        []workflows.SLAEntry `json:"sla"`
	Steps      []RequestStep        `json:"steps"`
}

// RequestResult is how a request ended.
type RequestResult struct {
	RequestID string               `json:"request_id"`
	Stage     string               `json:"stage"`
	Outcome   string               `json:"outcome"`
	Cause     string               `json:"cause,omitempty"`
	SLA       []workflows.SLAEntry `json:"sla"`
	Breached  bool                 `json:"breached"`
}

// RequestWorkflow handles one request inside a Security Butler subscription: an incident (respond →
// classify → contain → eliminate → restore → harden → reassess → report → follow-up), a vulnerability
// (respond → identify → impact → verify → fix plan → retest) or an architecture consultation (respond →
// answer), each with its own response clock in 7x24 time from the request's receipt. Partner engineers
// send its steps, each the Workflow Update named for it (RequestUpdates), to RequestWorkflowID. It tells its case each transition by signal to the
// case's workflow ID (SignalRequestEvent; it reaches whichever run is current) and records nothing itself,
// so the case's projection has one writer. Cancelled (the term ended), it reports so and stops.
func RequestWorkflow(ctx workflow.Context, in RequestInput) (RequestResult, error) {
	r := &request{in: in, partnerID: in.PartnerID, urgency: in.Urgency, severity: in.Severity, cause: in.Cause}
	res, err := r.run(ctx)
	if err != nil && !temporal.IsCanceledError(err) && r.status != workflows.StatusClosed {
		r.stage, r.status, r.outcome = RequestDone, workflows.StatusClosed, OutcomeFailed
		r.emit(ctx, r.event(ctx, workflows.EventRequestFailed, workflows.ActorSystem, "stopped unexpectedly: "+err.Error()))
	}
	return res, err
}

type request struct {
	in        RequestInput
	logger    log.Logger
	wfID      string
	partnerID string
	seq       int
	stage     string
	status    string
	outcome   string
	urgency   string
	severity  string
	cause     string
	class     string
	steps     []RequestStep
	recs      []string
	clocks    workflows.Clocks
	pending   int // signals and notifications in flight
}

func (r *request) setup(ctx workflow.Context) error {
	in := r.in
	r.wfID = workflow.GetInfo(ctx).WorkflowExecution.ID
	r.logger = log.With(workflow.GetLogger(ctx), "CaseID", in.CaseID, "RequestID", in.RequestID)
	r.stage, r.status = RequestReceived, workflows.StatusOpen
	invalid := func(msg string) error {
		return temporal.NewNonRetryableApplicationError(msg, workflows.RejectInvalid, nil)
	}
	switch {
	case in.CaseID == "" || in.RequestID == "" || in.Number < 1:
		return invalid("case_id, request_id and number: required")
	case !slices.Contains(RequestKinds, in.Kind):
		return invalid(fmt.Sprintf("kind: %q is not a request kind", in.Kind))
	case !slices.Contains(Editions, in.Edition):
		return invalid(fmt.Sprintf("edition: %q is not a butler edition", in.Edition))
	case in.Kind == sla.RequestVulnerability && !slices.Contains(Severities, in.Severity):
		return invalid("severity: high, medium or low")
	case in.ReceivedAt.IsZero():
		return invalid("received_at: required")
	}
	if err := workflow.SetQueryHandler(ctx, QueryRequestView, func() (RequestView, error) { return r.view(workflow.Now(ctx)), nil }); err != nil {
		return err
	}
	partner := workflow.GetSignalChannel(ctx, SignalRequestPartner)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var p PartnerSignal
			if !partner.Receive(ctx, &p) {
				return
			}
			r.partnerID = p.PartnerID
		}
	})
	return workflows.RegisterSteps(ctx, RequestUpdates, r.step, r.validateStep)
}

func (r *request) closed() bool { return r.status == workflows.StatusClosed }

func (r *request) hold() (release func()) {
	r.pending++
	return func() { r.pending-- }
}

func (r *request) run(ctx workflow.Context) (RequestResult, error) {
	if err := r.setup(ctx); err != nil {
		return RequestResult{}, err
	}
	ctx = workflow.WithActivityOptions(ctx, workflows.ActivityOptions)
	at := r.in.ReceivedAt
	clause, err := sla.ResponseClause(r.in.Kind, r.in.Edition, r.urgency, r.severity)
	if err != nil {
		return RequestResult{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.RejectInvalid, nil)
	}
	response, err := workflows.StartClock(ctx, sla.ServiceButler, clause, sla.Inputs{}, at)
	if err != nil {
		return RequestResult{}, err
	}
	r.clocks.Add(response)
	detail := fmt.Sprintf("%s %s: %s; respond by %s (%s, 7x24)", r.in.Kind, r.in.RequestID, r.in.Summary,
		workflows.When(response.DueAt()), workflows.Span(response.Target))
	if r.in.Kind == sla.RequestIncident && r.in.Edition == sla.EditionEmergency {
		resolve, err := workflows.StartClock(ctx, sla.ServiceButler, sla.ClauseIncidentResolve, sla.Inputs{}, at)
		if err != nil {
			return RequestResult{}, err
		}
		r.clocks.Add(resolve)
		detail += "; resolve by " + workflows.When(resolve.DueAt()) + " (5 natural days)"
	}
	if r.in.RecurrenceOf != "" {
		detail += "; recurrence of " + r.in.RecurrenceOf
		if r.cause != "" {
			detail += " (cause: " + r.cause + ")"
		}
	}
	r.emit(ctx, r.event(ctx, workflows.EventRequestOpened, workflows.ActorMarketplace, detail))
	workflow.Go(ctx, workflows.Watch{Clocks: &r.clocks, Done: r.closed, Hold: r.hold, Label: r.in.RequestID + " ", Warn: r.warn, Breach: r.breach}.Run)

	if err := workflow.Await(ctx, r.closed); err != nil {
		return RequestResult{}, r.cancelled(ctx, err)
	}
	if err := workflow.Await(ctx, func() bool { return r.pending == 0 && workflow.AllHandlersFinished(ctx) }); err != nil {
		return RequestResult{}, err
	}
	sl := r.clocks.Entries(sla.ServiceButler, workflow.Now(ctx))
	return RequestResult{RequestID: r.in.RequestID, Stage: r.stage, Outcome: r.outcome, Cause: r.cause, SLA: sl, Breached: r.breached(sl)}, nil
}

// cancelled reports a cancelled request to the case as closed, its clocks stopped, and returns err.
func (r *request) cancelled(ctx workflow.Context, err error) error {
	if !temporal.IsCanceledError(err) {
		return err
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	r.stage, r.status, r.outcome = RequestDone, workflows.StatusClosed, OutcomeCancelled
	r.clocks.StopAll(workflow.Now(dctx))
	r.emit(dctx)
	_ = workflow.Await(dctx, func() bool { return r.pending == 0 })
	return err
}

func (r *request) breached(entries []workflows.SLAEntry) bool {
	return len(r.clocks.Breached) > 0 || slices.ContainsFunc(entries, func(e workflows.SLAEntry) bool { return e.Breached })
}

// nextSteps are the steps the request takes in its stage.
func (r *request) nextSteps() []string {
	if r.closed() {
		return []string{}
	}
	switch r.in.Kind {
	case sla.RequestIncident:
		return map[string][]string{
			RequestReceived: {StepRespond}, StepRespond: {StepClassify}, StepClassify: {workflows.StepContain, StepEliminate},
			workflows.StepContain: {StepEliminate}, StepEliminate: {StepRestore}, StepRestore: {StepHarden}, StepHarden: {StepReassess},
			StepReassess: {workflows.StepReport}, workflows.StepReport: {StepFollowUp},
		}[r.stage]
	case sla.RequestVulnerability:
		return map[string][]string{
			RequestReceived: {StepRespond}, StepRespond: {StepIdentify}, StepIdentify: {StepImpact}, StepImpact: {StepVerify},
			StepVerify: {StepFixPlan}, StepFixPlan: {StepRetest}, StepRetest: {StepFixPlan},
		}[r.stage]
	}
	return map[string][]string{RequestReceived: {StepRespond}, StepRespond: {StepAnswer}}[r.stage]
}

func (r *request) validateStep(ctx workflow.Context, in workflows.StepInput) error {
	if r.closed() {
		return workflows.Conflictf("request %s is closed (%s)", r.in.RequestID, r.outcome)
	}
	if in.Step == StepUrgency {
		if in.Actor != workflows.ActorMarketplace {
			return workflows.Conflictf("the urgency comes from the customer through the marketplace")
		}
		if r.in.Kind != sla.RequestIncident {
			return workflows.Conflictf("only an incident has an urgency; %s is a %s", r.in.RequestID, r.in.Kind)
		}
		if r.in.Edition == sla.EditionEmergency {
			return workflows.Conflictf("the emergency edition responds within 15 minutes whatever the urgency")
		}
		if err := workflows.DecodeValid[UrgencyInput](in.Payload); err != nil {
			return err
		}
		if u := workflows.MustDecode[UrgencyInput](in.Payload).Urgency; u == r.urgency {
			return workflows.Conflictf("the urgency of %s is already %s", r.in.RequestID, u)
		}
		return nil
	}
	if in.Actor != workflows.ActorPartner {
		return workflows.Conflictf("step %q is a partner engineer's", in.Step)
	}
	if r.partnerID == "" || in.PartnerID != r.partnerID {
		return workflows.Conflictf("the case is not assigned to partner %s", in.PartnerID)
	}
	next := r.nextSteps()
	if !slices.Contains(next, in.Step) {
		if !slices.Contains(RequestSteps, in.Step) {
			return workflows.Conflictf("unknown step %q", in.Step)
		}
		return workflows.Conflictf("%s %s is at %s; next: %s", r.in.Kind, r.in.RequestID, r.stage, strings.Join(next, " or "))
	}
	switch in.Step {
	case StepRespond:
		return workflows.DecodeValid[RespondInput](in.Payload)
	case StepClassify:
		return workflows.DecodeValid[ClassifyInput](in.Payload)
	case workflows.StepContain, StepEliminate:
		return workflows.DecodeValid[ActionsInput](in.Payload)
	case StepHarden:
		return workflows.DecodeValid[HardenInput](in.Payload)
	case StepFollowUp:
		return workflows.DecodeValid[FollowUpInput](in.Payload)
	case StepImpact:
		return workflows.DecodeValid[ImpactInput](in.Payload)
	case StepVerify:
		return workflows.DecodeValid[VerifyInput](in.Payload)
	case StepFixPlan:
		return workflows.DecodeValid[FixPlanInput](in.Payload)
	case StepRetest:
		return workflows.DecodeValid[RetestInput](in.Payload)
	}
	return workflows.DecodeValid[SummaryInput](in.Payload) // restore, reassess, report, identify, answer
}

func (r *request) step(ctx workflow.Context, in workflows.StepInput) (RequestView, error) {
	now := workflow.Now(ctx)
	at := workflows.StepInstant(in, now)
	var events []activities.Event
	add := func(event workflows.Event, actor, detail string) {
		events = append(events, r.event(ctx, event, actor, detail))
		if in.Step != StepUrgency {
			r.steps = append(r.steps, RequestStep{At: now, Step: in.Step, Detail: detail})
		}
	}
	partner := func(event workflows.Event, detail string) { add(event, workflows.ActorPartner, detail) }
	done := func(outcome string) { r.stage, r.status, r.outcome = RequestDone, workflows.StatusClosed, outcome }
	if in.Step != StepUrgency {
		r.stage = in.Step
	}
	var report *activities.Document
	switch in.Step {
	case StepUrgency:
		u := workflows.MustDecode[UrgencyInput](in.Payload)
		clause, _ := sla.ResponseClause(sla.RequestIncident, r.in.Edition, u.Urgency, "")
		detail, err := r.clocks.Retarget(ctx, 0, sla.ServiceButler, clause, now)
		if err != nil {
			return RequestView{}, err
		}
		add(workflows.EventUrgencyChanged, workflows.ActorMarketplace, fmt.Sprintf("urgency %s → %s; %s", r.urgency, u.Urgency, detail))
		r.urgency = u.Urgency
	case StepRespond:
		detail := "response " + r.clocks.CompleteAt(0, at, now)
		if note := workflows.MustDecode[RespondInput](in.Payload).Note; note != "" {
			detail += ": " + note
		}
		partner(workflows.EventResponded, detail)
	case StepClassify:
		c := workflows.MustDecode[ClassifyInput](in.Payload)
		r.class, r.cause = c.IncidentClass, c.Summary
		partner(workflows.EventClassified, c.IncidentClass+": "+c.Summary)
	case workflows.StepContain:
		partner(workflows.EventContained, workflows.JoinList(workflows.MustDecode[ActionsInput](in.Payload).Actions))
	case StepEliminate:
		partner(workflows.EventEliminated, workflows.JoinList(workflows.MustDecode[ActionsInput](in.Payload).Actions))
	case StepRestore:
		detail := workflows.MustDecode[SummaryInput](in.Payload).Summary
		if i := r.clocks.Index(sla.ClauseIncidentResolve); i >= 0 {
			detail += "; resolve " + r.clocks.CompleteAt(i, at, now)
		}
		partner(workflows.EventRestored, detail)
	case StepHarden:
		r.recs = workflows.MustDecode[HardenInput](in.Payload).Recommendations
		partner(workflows.EventHardeningAdvised, workflows.JoinList(r.recs))
	case StepReassess:
		partner(workflows.EventReassessed, workflows.MustDecode[SummaryInput](in.Payload).Summary)
	case workflows.StepReport:
		summary := workflows.MustDecode[SummaryInput](in.Payload).Summary
		partner(workflows.EventReportSubmitted, fmt.Sprintf("《应急报告》 v%d: %s", r.in.Number, summary))
		doc := r.incidentReport(summary, now)
		report = &doc
	case StepFollowUp:
		partner(workflows.EventFollowedUp, workflows.MustDecode[FollowUpInput](in.Payload).Note)
		done(OutcomeResolved)
	case StepIdentify:
		partner(workflows.EventVulnIdentified, workflows.MustDecode[SummaryInput](in.Payload).Summary)
	case StepImpact:
		i := workflows.MustDecode[ImpactInput](in.Payload)
		detail := "scope: " + i.Scope
		if i.ZeroDay {
			detail += "; 0day"
		}
		partner(workflows.EventImpactAssessed, detail)
	case StepVerify:
		v := workflows.MustDecode[VerifyInput](in.Payload)
		if !*v.Exists {
			partner(workflows.EventVulnNotPresent, "verified: the vulnerability does not exist")
			done(OutcomeNotPresent)
			break
		}
		detail := "verified: exists, severity " + v.Severity
		if v.Severity != r.severity {
			clause, _ := sla.ResponseClause(sla.RequestVulnerability, r.in.Edition, "", v.Severity)
			d, err := r.clocks.Retarget(ctx, 0, sla.ServiceButler, clause, now)
			if err != nil {
				return RequestView{}, err
			}
			detail += fmt.Sprintf(" (was %s); %s", r.severity, d)
			r.severity = v.Severity
		}
		partner(workflows.EventVulnVerified, detail)
	case StepFixPlan:
		partner(workflows.EventFixPlanned, workflows.JoinList(workflows.MustDecode[FixPlanInput](in.Payload).Steps))
	case StepRetest:
		t := workflows.MustDecode[RetestInput](in.Payload)
		if *t.Fixed {
			partner(workflows.EventRetestPassed, "fixed"+suffix(t.Note))
			done(OutcomeFixed)
		} else {
			partner(workflows.EventRetestFailed, "not fixed; back to the fix plan"+suffix(t.Note))
		}
	case StepAnswer:
		partner(workflows.EventAnswered, workflows.MustDecode[SummaryInput](in.Payload).Summary)
		done(OutcomeAnswered)
	}
	// A clock stopped or re-targeted past its due instant is a breach the watch will not see.
	for _, i := range r.clocks.Late(now) {
		events = append(events, r.breachEvent(ctx, r.clocks.Clocks[i]))
		r.notifyBreach(ctx, r.clocks.Clocks[i])
	}
	if report != nil {
		var a *activities.Activities
		if err := workflows.RunLocal(ctx, time.Minute, "render 《应急报告》 "+r.in.RequestID, a.RenderDocument, *report, nil); err != nil {
			return RequestView{}, err
		}
	}
	r.emit(ctx, events...)
	return r.view(now), nil
}

func suffix(note string) string {
	if note == "" {
		return ""
	}
	return ": " + note
}

// event is a timeline line of the request, keyed by its workflow ID, sequence and name.
func (r *request) event(ctx workflow.Context, name workflows.Event, actor, detail string) activities.Event {
	r.seq++
	hook, _ := workflows.WebhookType(name)
	return workflows.Authored(ctx, activities.Event{Key: fmt.Sprintf("%s/%03d/%s", r.wfID, r.seq, name), At: workflow.Now(ctx).UTC(), Actor: actor,
		Event: string(name), Detail: r.in.RequestID + " " + detail, Webhook: hook})
}

// emit tells the case about a transition, by signal to its workflow ID (the current run); it waits until
// the signal is delivered, so the case records the request's events in order and before the request ends.
func (r *request) emit(ctx workflow.Context, events ...activities.Event) {
	sl := r.clocks.Entries(sla.ServiceButler, workflow.Now(ctx))
	ev := RequestEvent{RequestID: r.in.RequestID, Events: events, Stage: r.stage, Status: r.status, Urgency: r.urgency,
		Severity: r.severity, Cause: r.cause, Outcome: r.outcome, SLA: sl, Breached: r.breached(sl)}
	defer r.hold()()
	if err := workflow.SignalExternalWorkflow(ctx, r.in.CaseID, "", SignalRequestEvent, ev).Get(ctx, nil); err != nil {
		r.logger.Warn("tell the case", "Error", err)
	}
}

func (r *request) warn(ctx workflow.Context, _ int, c sla.Clock, th float64) {
	detail := fmt.Sprintf("%s clock %.0f%% elapsed; due %s", c.Clause, th*100, workflows.When(c.DueAt()))
	r.emit(ctx, r.event(ctx, workflows.EventSLAAtRisk, workflows.ActorSystem, detail))
	r.notify(ctx, workflows.WarnKey(c.Clause, th), notifications.SeverityWarning,
		fmt.Sprintf("Butler %s %s clock at %.0f%%", r.in.RequestID, c.Clause, th*100), detail)
}

func (r *request) breach(ctx workflow.Context, _ int, c sla.Clock) {
	r.emit(ctx, r.breachEvent(ctx, c))
	r.notifyBreach(ctx, c)
}

func (r *request) breachEvent(ctx workflow.Context, c sla.Clock) activities.Event {
	why := "not met by " + workflows.When(c.DueAt())
	if c.CompletedAt != nil {
		why = "completed after its due time"
	}
	ev := r.event(ctx, workflows.EventSLABreached, workflows.ActorSystem, fmt.Sprintf("%s clause breached: %s; no compensation applies", c.Clause, why))
	ev.Key = r.wfID + "/" + workflows.BreachKey(c.Clause)
	return ev
}

func (r *request) notifyBreach(ctx workflow.Context, c sla.Clock) {
	r.notify(ctx, workflows.BreachKey(c.Clause), notifications.SeverityCritical, fmt.Sprintf("Butler %s %s clause breached", r.in.RequestID, c.Clause),
		fmt.Sprintf("%s %s: %s", r.in.Kind, r.in.RequestID, r.in.Summary))
}

// notify alerts the service desk and the partner without holding up the request.
func (r *request) notify(ctx workflow.Context, key string, sev notifications.Severity, title, text string) {
	in := activities.NotifyInput{PartnerID: r.partnerID, Message: notifications.Message{
		Key: r.wfID + "/" + key, CaseID: r.in.CaseID, WorkflowID: r.wfID, Service: sla.ServiceButler,
		Severity: sev, Title: title, Text: text,
		Fields: []notifications.Field{{Name: "Request", Value: r.in.RequestID}, {Name: "Stage", Value: r.stage}, {Name: "Partner", Value: workflows.OrDash(r.partnerID)}},
	}}
	workflows.SendNotification(ctx, r.logger, in, r.hold())
}

// incidentReport is the 《应急报告》: the incident, the steps taken, hardening advice, the clocks.
func (r *request) incidentReport(summary string, now time.Time) activities.Document {
	doc := activities.Document{
		Key: r.wfID + "/" + activities.KindIncidentReport, CaseID: r.in.CaseID, Kind: activities.KindIncidentReport, Version: r.in.Number,
		Title: "应急报告", GeneratedAt: now,
		Meta: []activities.DocField{
			{Label: "案件 Case", Value: r.in.CaseID}, {Label: "事件 Incident", Value: r.in.RequestID},
			{Label: "版本 Edition", Value: r.in.Edition}, {Label: "合作伙伴 Partner", Value: workflows.OrDash(r.partnerID)},
			{Label: "事件类别 Class", Value: workflows.OrDash(r.class)},
		},
		Sections: []activities.DocSection{{Heading: "概述 Summary", Paragraphs: []string{r.in.Summary, summary}}},
	}
	if r.in.RecurrenceOf != "" {
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "复发 Recurrence",
			Paragraphs: []string{"复发自 recurrence of " + r.in.RecurrenceOf + "; 原因 cause: " + workflows.OrDash(r.in.Cause)}})
	}
	const minute = "2006-01-02 15:04"
	process := &activities.DocTable{Header: []string{"时间 At", "步骤 Step", "说明 Detail"}}
	for _, s := range r.steps {
		process.Rows = append(process.Rows, []string{s.At.In(sla.China).Format(minute), s.Step, s.Detail})
	}
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "处理过程 Process", Table: process},
		activities.DocSection{Heading: "加固建议 Hardening", Items: r.recs})
	clocks := &activities.DocTable{Header: []string{"条款 Clause", "时限 Due", "完成 Completed", "状态 Status"}}
	for _, e := range r.clocks.Entries(sla.ServiceButler, now) {
		due, done := "", ""
		if e.DueAt != nil {
			due = e.DueAt.In(sla.China).Format(minute)
		}
		if e.CompletedAt != nil {
			done = e.CompletedAt.In(sla.China).Format(minute)
		}
		clocks.Rows = append(clocks.Rows, []string{e.Clause, due, done, e.Status})
	}
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "服务时限 SLA", Table: clocks})
	if r.in.Edition == sla.EditionEmergency {
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "保障期 Guarantee",
			Paragraphs: []string{"服务有效期 15 天内同一原因复发可再次处理，无需重新购买。A recurrence from this cause inside the 15 days is handled again without a new purchase."}})
	}
	return doc
}

func (r *request) view(now time.Time) RequestView {
	v := RequestView{RequestInput: r.in, WorkflowID: r.wfID, Stage: r.stage, Status: r.status, NextSteps: r.nextSteps(),
		Outcome: r.outcome, SLA: r.clocks.Entries(sla.ServiceButler, now), Steps: slices.Clone(r.steps)}
	v.PartnerID, v.Urgency, v.Severity, v.Cause = r.partnerID, r.urgency, r.severity, r.cause
	if v.NextSteps == nil {
		v.NextSteps = []string{}
	}
	if v.Steps == nil {
		v.Steps = []RequestStep{}
	}
	return v
}
