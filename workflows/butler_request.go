package workflows

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
)

// Messages between a Security Butler case and its requests.
const (
	// SignalRequestEvent carries a ButlerRequestEvent from a request to its case, which records it: the
	// case is the only writer of its projection and timeline.
	SignalRequestEvent = "request_event"
	// SignalRequestPartner tells a request which partner holds the case (ButlerPartnerSignal), when it
	// was opened before a partner accepted.
	SignalRequestPartner = "request_partner"
	// QueryRequestView returns a request's ButlerRequestView.
	QueryRequestView = "request_view"
)

// Request stages: the last step done, or one of these.
const (
	RequestReceived = "received"
	RequestDone     = "done"
)

// RequestWorkflowID is the workflow ID of a request of a case: the API sends the request's steps there.
func RequestWorkflowID(caseID, requestID string) string { return caseID + "/" + requestID }

// ButlerRequestInput starts a request's workflow, a child of its Security Butler case.
type ButlerRequestInput struct {
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

// ButlerRequestEvent is what a request tells its case on each transition: the timeline entries to record
// (keys prefixed by the request's workflow ID) and the request's state after it.
type ButlerRequestEvent struct {
	RequestID string             `json:"request_id"`
	Events    []activities.Event `json:"events"`
	Stage     string             `json:"stage"`
	Status    string             `json:"status"`
	Urgency   string             `json:"urgency,omitempty"`
	Severity  string             `json:"severity,omitempty"`
	Cause     string             `json:"cause,omitempty"`
	Outcome   string             `json:"outcome,omitempty"`
	SLA       []SLAEntry         `json:"sla"`
	Breached  bool               `json:"breached"`
}

// ButlerPartnerSignal is the partner now holding the case.
type ButlerPartnerSignal struct {
	PartnerID string `json:"partner_id"`
}

// ButlerRequestStep is one step of a request, as its report lists it.
type ButlerRequestStep struct {
	At     time.Time `json:"at"`
	Step   string    `json:"step"`
	Detail string    `json:"detail,omitempty"`
}

// ButlerRequestView is a request's state, what its query and step updates return.
type ButlerRequestView struct {
	ButlerRequestInput
	WorkflowID string              `json:"workflow_id"`
	Stage      string              `json:"stage"`
	Status     string              `json:"status"`
	NextSteps  []string            `json:"next_steps"`
	Outcome    string              `json:"outcome,omitempty"`
	SLA        []SLAEntry          `json:"sla"`
	Steps      []ButlerRequestStep `json:"steps"`
}

// ButlerRequestResult is how a request ended.
type ButlerRequestResult struct {
	RequestID string     `json:"request_id"`
	Stage     string     `json:"stage"`
	Outcome   string     `json:"outcome"`
	Cause     string     `json:"cause,omitempty"`
	SLA       []SLAEntry `json:"sla"`
	Breached  bool       `json:"breached"`
}

// ButlerRequestWorkflow handles one request inside a Security Butler subscription (SPEC.md "Security
// Butler"): an incident (respond → classify → contain → eliminate → restore → harden → reassess →
// report → follow-up), a vulnerability (respond → identify → impact → verify → fix plan → retest) or an
// architecture consultation (respond → answer), each with its own response clock in 7x24 time from the
// request's receipt. Partner engineers send its steps as UpdateStep to RequestWorkflowID. It tells its
// case each transition (SignalRequestEvent) and records nothing itself, so the case's projection has one
// writer.
func ButlerRequestWorkflow(ctx workflow.Context, in ButlerRequestInput) (ButlerRequestResult, error) {
	r := &butlerRequest{in: in, partnerID: in.PartnerID, urgency: in.Urgency, severity: in.Severity, cause: in.Cause}
	if err := r.setup(ctx); err != nil {
		return ButlerRequestResult{}, err
	}
	return r.run(ctx)
}

type butlerRequest struct {
	in        ButlerRequestInput
	logger    log.Logger
	wfID      string
	parentID  string
	partnerID string
	seq       int
	stage     string
	status    string
	outcome   string
	urgency   string
	severity  string
	cause     string
	class     string
	steps     []ButlerRequestStep
	recs      []string
	clocks    ButlerClocks
	clockRev  int
	pending   int
}

func (r *butlerRequest) setup(ctx workflow.Context) error {
	in := r.in
	switch {
	case in.CaseID == "" || in.RequestID == "" || in.Number < 1:
		return temporal.NewNonRetryableApplicationError("case_id, request_id and number: required", RejectInvalid, nil)
	case !slices.Contains(RequestKinds, in.Kind):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("kind: %q is not a request kind", in.Kind), RejectInvalid, nil)
	case !slices.Contains(ButlerEditions, in.Edition):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("edition: %q is not a butler edition", in.Edition), RejectInvalid, nil)
	case in.Kind == RequestVulnerability && !slices.Contains(Severities, in.Severity):
		return temporal.NewNonRetryableApplicationError("severity: high, medium or low", RejectInvalid, nil)
	case in.ReceivedAt.IsZero():
		return temporal.NewNonRetryableApplicationError("received_at: required", RejectInvalid, nil)
	}
	info := workflow.GetInfo(ctx)
	r.wfID = info.WorkflowExecution.ID
	if p := info.ParentWorkflowExecution; p != nil {
		r.parentID = p.ID
	}
	r.logger = log.With(workflow.GetLogger(ctx), "CaseID", in.CaseID, "RequestID", in.RequestID)
	r.stage, r.status = RequestReceived, StatusOpen
	if err := workflow.SetQueryHandler(ctx, QueryRequestView, func() (ButlerRequestView, error) { return r.view(workflow.Now(ctx)), nil }); err != nil {
		return err
	}
	partner := workflow.GetSignalChannel(ctx, SignalRequestPartner)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var p ButlerPartnerSignal
			if !partner.Receive(ctx, &p) {
				return
			}
			r.partnerID = p.PartnerID
		}
	})
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateStep, r.step, workflow.UpdateHandlerOptions{Validator: r.validateStep})
}

func (r *butlerRequest) run(ctx workflow.Context) (ButlerRequestResult, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	at := r.in.ReceivedAt
	response, err := startClock(ctx, ServiceButler, responseClause(r.in.Kind, r.in.Edition, r.urgency, r.severity), sla.Inputs{}, at)
	if err != nil {
		return ButlerRequestResult{}, err
	}
	r.clocks.Clocks = append(r.clocks.Clocks, response)
	detail := fmt.Sprintf("%s %s: %s; respond by %s (%s, 7x24)", r.in.Kind, r.in.RequestID, r.in.Summary,
		response.DueAt().Format(time.RFC3339), response.Target)
	if r.in.Kind == RequestIncident && r.in.Edition == ButlerEmergency {
		resolve, err := startClock(ctx, ServiceButler, ClauseIncidentResolve, sla.Inputs{}, at)
		if err != nil {
			return ButlerRequestResult{}, err
		}
		r.clocks.Clocks = append(r.clocks.Clocks, resolve)
		detail += "; resolve by " + resolve.DueAt().Format(time.RFC3339) + " (5 natural days)"
	}
	if r.in.RecurrenceOf != "" {
		detail += "; recurrence of " + r.in.RecurrenceOf
		if r.cause != "" {
			detail += " (cause: " + r.cause + ")"
		}
	}
	r.emit(ctx, r.event(ctx, "request_opened", ActorMarketplace, detail))
	workflow.Go(ctx, clockWatch{
		book: &r.clocks, rev: &r.clockRev, pending: &r.pending, label: r.in.RequestID + " ",
		done: func() bool { return r.status == StatusClosed }, warn: r.warn, breach: r.breach,
	}.run)

	err = workflow.Await(ctx, func() bool { return r.status == StatusClosed })
	if err != nil {
		// Cancelled by the case (its term ended): the case notes it on the timeline.
		return ButlerRequestResult{}, err
	}
	if err := workflow.Await(ctx, func() bool { return r.pending == 0 && workflow.AllHandlersFinished(ctx) }); err != nil {
		return ButlerRequestResult{}, err
	}
	now := workflow.Now(ctx)
	return ButlerRequestResult{RequestID: r.in.RequestID, Stage: r.stage, Outcome: r.outcome, Cause: r.cause,
		SLA: r.clocks.entries(now), Breached: len(r.clocks.Breached) > 0 || slaBreached(r.clocks.entries(now))}, nil
}

func slaBreached(entries []SLAEntry) bool {
	return slices.ContainsFunc(entries, func(e SLAEntry) bool { return e.Breached })
}

// nextSteps are the steps the request takes in its stage.
func (r *butlerRequest) nextSteps() []string {
	if r.status == StatusClosed {
		return []string{}
	}
	switch r.in.Kind {
	case RequestIncident:
		return map[string][]string{
			RequestReceived: {StepRespond}, StepRespond: {StepClassify}, StepClassify: {StepContain, StepEliminate},
			StepContain: {StepEliminate}, StepEliminate: {StepRestore}, StepRestore: {StepHarden}, StepHarden: {StepReassess},
			StepReassess: {StepReport}, StepReport: {StepFollowUp},
		}[r.stage]
	case RequestVulnerability:
		return map[string][]string{
			RequestReceived: {StepRespond}, StepRespond: {StepIdentify}, StepIdentify: {StepImpact}, StepImpact: {StepVerify},
			StepVerify: {StepFixPlan}, StepFixPlan: {StepRetest}, StepRetest: {StepFixPlan},
		}[r.stage]
	}
	return map[string][]string{RequestReceived: {StepRespond}, StepRespond: {StepAnswer}}[r.stage]
}

func (r *butlerRequest) validateStep(ctx workflow.Context, in StepInput) error {
	if r.status == StatusClosed {
		return conflictf("request %s is closed (%s)", r.in.RequestID, r.outcome)
	}
	if in.Step == StepUrgency {
		if in.Actor != ActorMarketplace {
			return conflictf("the urgency comes from the customer through the marketplace")
		}
		if r.in.Kind != RequestIncident {
			return conflictf("only an incident has an urgency; %s is a %s", r.in.RequestID, r.in.Kind)
		}
		if r.in.Edition == ButlerEmergency {
			return conflictf("the emergency edition responds within 15 minutes whatever the urgency")
		}
		if err := decodeValid[UrgencyInput](in.Payload); err != nil {
			return err
		}
		if u := mustDecode[UrgencyInput](in.Payload).Urgency; u == r.urgency {
			return conflictf("the urgency of %s is already %s", r.in.RequestID, u)
		}
		return nil
	}
	if in.Actor != ActorPartner {
		return conflictf("step %q is a partner engineer's", in.Step)
	}
	if r.partnerID == "" || in.PartnerID != r.partnerID {
		return conflictf("the case is not assigned to partner %s", in.PartnerID)
	}
	next := r.nextSteps()
	if !slices.Contains(next, in.Step) {
		if !slices.Contains(ButlerRequestSteps, in.Step) {
			return conflictf("unknown step %q", in.Step)
		}
		return conflictf("%s %s is at %s; next: %s", r.in.Kind, r.in.RequestID, r.stage, strings.Join(next, " or "))
	}
	switch in.Step {
	case StepRespond:
		return decodeValid[RespondInput](in.Payload)
	case StepClassify:
		return decodeValid[ClassifyInput](in.Payload)
	case StepContain:
		return decodeValid[ContainInput](in.Payload)
	case StepEliminate:
		return decodeValid[ActionsInput](in.Payload)
	case StepHarden:
		return decodeValid[HardenInput](in.Payload)
	case StepFollowUp:
		return decodeValid[FollowUpInput](in.Payload)
	case StepImpact:
		return decodeValid[ImpactInput](in.Payload)
	case StepVerify:
		return decodeValid[VerifyInput](in.Payload)
	case StepFixPlan:
		return decodeValid[FixPlanInput](in.Payload)
	case StepRetest:
		return decodeValid[RetestInput](in.Payload)
	}
	return decodeValid[SummaryInput](in.Payload) // restore, reassess, report, identify, answer
}

func (r *butlerRequest) step(ctx workflow.Context, in StepInput) (ButlerRequestView, error) {
	now := workflow.Now(ctx)
	at := stepInstant(in, now)
	var events []activities.Event
	add := func(event, actor, detail string) {
		events = append(events, r.event(ctx, event, actor, detail))
		if in.Step != StepUrgency {
			r.steps = append(r.steps, ButlerRequestStep{At: now, Step: in.Step, Detail: detail})
		}
	}
	done := func(outcome string) { r.stage, r.status, r.outcome = RequestDone, StatusClosed, outcome; r.clockRev++ }
	if in.Step != StepUrgency {
		r.stage = in.Step
	}
	var report *activities.Document
	switch in.Step {
	case StepUrgency:
		u := mustDecode[UrgencyInput](in.Payload)
		detail, err := r.retarget(ctx, 0, responseClause(RequestIncident, r.in.Edition, u.Urgency, ""), now)
		if err != nil {
			return ButlerRequestView{}, err
		}
		add("urgency_changed", ActorMarketplace, fmt.Sprintf("urgency %s → %s; %s", r.urgency, u.Urgency, detail))
		r.urgency = u.Urgency
	case StepRespond:
		note := mustDecode[RespondInput](in.Payload).Note
		detail := "response " + r.clocks.complete(0, at)
		r.clockRev++
		if note != "" {
			detail += ": " + note
		}
		add("responded", ActorPartner, detail)
	case StepClassify:
		c := mustDecode[ClassifyInput](in.Payload)
		r.class, r.cause = c.IncidentClass, c.Summary
		add("classified", ActorPartner, c.IncidentClass+": "+c.Summary)
	case StepContain:
		add("contained", ActorPartner, joinList(mustDecode[ContainInput](in.Payload).Actions))
	case StepEliminate:
		add("eliminated", ActorPartner, joinList(mustDecode[ActionsInput](in.Payload).Actions))
	case StepRestore:
		detail := mustDecode[SummaryInput](in.Payload).Summary
		if i := r.clocks.index(ClauseIncidentResolve); i >= 0 {
			detail += "; resolve " + r.clocks.complete(i, at)
			r.clockRev++
		}
		add("restored", ActorPartner, detail)
	case StepHarden:
		r.recs = mustDecode[HardenInput](in.Payload).Recommendations
		add("hardening_advised", ActorPartner, joinList(r.recs))
	case StepReassess:
		add("reassessed", ActorPartner, mustDecode[SummaryInput](in.Payload).Summary)
	case StepReport:
		summary := mustDecode[SummaryInput](in.Payload).Summary
		add("report_submitted", ActorPartner, fmt.Sprintf("《应急报告》 v%d: %s", r.in.Number, summary))
		doc := r.incidentReport(summary, now)
		report = &doc
	case StepFollowUp:
		add("followed_up", ActorPartner, mustDecode[FollowUpInput](in.Payload).Note)
		done("resolved")
	case StepIdentify:
		add("identified", ActorPartner, mustDecode[SummaryInput](in.Payload).Summary)
	case StepImpact:
		i := mustDecode[ImpactInput](in.Payload)
		detail := "scope: " + i.Scope
		if i.ZeroDay {
			detail += "; 0day"
		}
		add("impact_assessed", ActorPartner, detail)
	case StepVerify:
		v := mustDecode[VerifyInput](in.Payload)
		if !*v.Exists {
			add("not_present", ActorPartner, "verified: the vulnerability does not exist")
			done("not_present")
			break
		}
		detail := "verified: exists, severity " + v.Severity
		if v.Severity != r.severity {
			d, err := r.retarget(ctx, 0, responseClause(RequestVulnerability, r.in.Edition, "", v.Severity), now)
			if err != nil {
				return ButlerRequestView{}, err
			}
			detail += fmt.Sprintf(" (was %s); %s", r.severity, d)
			r.severity = v.Severity
		}
		add("verified", ActorPartner, detail)
	case StepFixPlan:
		add("fix_planned", ActorPartner, joinList(mustDecode[FixPlanInput](in.Payload).Steps))
	case StepRetest:
		t := mustDecode[RetestInput](in.Payload)
		if *t.Fixed {
			add("retested", ActorPartner, "fixed"+suffix(t.Note))
			done("fixed")
		} else {
			add("retest_failed", ActorPartner, "not fixed; back to the fix plan"+suffix(t.Note))
		}
	case StepAnswer:
		add("answered", ActorPartner, mustDecode[SummaryInput](in.Payload).Summary)
		done("answered")
	}
	// A clock stopped or re-targeted past its due instant is a breach the watch will not see.
	for i, c := range r.clocks.Clocks {
		if c.Status(now) == sla.StatusBreached && !slices.Contains(r.clocks.Breached, i) {
			r.clocks.Breached = append(r.clocks.Breached, i)
			events = append(events, r.breachEvent(ctx, c, now))
			r.notifyBreach(ctx, c)
		}
	}
	if report != nil {
		if err := r.render(ctx, *report); err != nil {
			return ButlerRequestView{}, err
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

// retarget moves the clock at i to clause, keeping the time elapsed, and describes the result.
func (r *butlerRequest) retarget(ctx workflow.Context, i int, clause string, now time.Time) (string, error) {
	c, err := retargetClock(ctx, r.clocks.Clocks[i], clause, now)
	if err != nil {
		return "", err
	}
	r.clocks.Clocks[i] = c
	r.clocks.forgetWarnings(i)
	r.clockRev++
	switch {
	case c.Status(now) == sla.StatusBreached && c.State == sla.ClockCompleted:
		return fmt.Sprintf("%s clock: the response took longer than %s", clause, c.Target), nil
	case c.Status(now) == sla.StatusBreached:
		return fmt.Sprintf("%s clock: %s already elapsed, breached at once", clause, c.Target), nil
	case c.State == sla.ClockCompleted:
		return fmt.Sprintf("%s clock: response within %s", clause, c.Target), nil
	}
	return fmt.Sprintf("%s clock re-targeted to %s with the elapsed time carried; now due %s", clause, c.Target, c.DueAt().Format(time.RFC3339)), nil
}

func (r *butlerRequest) event(ctx workflow.Context, name, actor, detail string) activities.Event {
	r.seq++
	return activities.Event{Key: fmt.Sprintf("%s/%03d/%s", r.wfID, r.seq, name), At: workflow.Now(ctx).UTC(), Actor: actor,
		Event: name, Detail: r.in.RequestID + " " + detail}
}

// emit tells the case about a transition; it waits until the signal is delivered, so the case records the
// request's events in order and before the request ends.
func (r *butlerRequest) emit(ctx workflow.Context, events ...activities.Event) {
	if r.parentID == "" {
		return // started on its own (tests, repairs): nobody to tell
	}
	now := workflow.Now(ctx)
	sl := r.clocks.entries(now)
	ev := ButlerRequestEvent{RequestID: r.in.RequestID, Events: events, Stage: r.stage, Status: r.status,
		Urgency: r.urgency, Severity: r.severity, Cause: r.cause, Outcome: r.outcome, SLA: sl,
		Breached: len(r.clocks.Breached) > 0 || slaBreached(sl)}
	r.pending++
	defer func() { r.pending-- }()
	if err := workflow.SignalExternalWorkflow(ctx, r.parentID, "", SignalRequestEvent, ev).Get(ctx, nil); err != nil {
		r.logger.Warn("tell the case", "Error", err)
	}
}

func (r *butlerRequest) warn(ctx workflow.Context, c sla.Clock, th float64) {
	detail := fmt.Sprintf("%s clock %.0f%% elapsed; due %s", c.Clause, th*100, c.DueAt().Format(time.RFC3339))
	r.emit(ctx, r.event(ctx, "sla_at_risk", ActorSystem, detail))
	r.notify(ctx, fmt.Sprintf("warn/%s@%.0f", c.Clause, th*100), notifications.SeverityWarning,
		fmt.Sprintf("Butler %s %s clock at %.0f%%", r.in.RequestID, c.Clause, th*100), detail)
}

func (r *butlerRequest) breach(ctx workflow.Context, c sla.Clock) {
	r.emit(ctx, r.breachEvent(ctx, c, workflow.Now(ctx)))
	r.notifyBreach(ctx, c)
}

func (r *butlerRequest) breachEvent(ctx workflow.Context, c sla.Clock, now time.Time) activities.Event {
	why := "not met by " + c.DueAt().Format(time.RFC3339)
	if c.CompletedAt != nil {
		why = "completed after its due time"
	}
	ev := r.event(ctx, "sla_breached", ActorSystem, fmt.Sprintf("%s clause breached: %s; no compensation applies", c.Clause, why))
	ev.Key = r.wfID + "/breach/" + c.Clause
	return ev
}

func (r *butlerRequest) notifyBreach(ctx workflow.Context, c sla.Clock) {
	r.notify(ctx, "breach/"+c.Clause, notifications.SeverityCritical, fmt.Sprintf("Butler %s %s clause breached", r.in.RequestID, c.Clause),
		fmt.Sprintf("%s %s: %s", r.in.Kind, r.in.RequestID, r.in.Summary))
}

// notify alerts the service desk and the partner without holding up the request.
func (r *butlerRequest) notify(ctx workflow.Context, key string, sev notifications.Severity, title, text string) {
	in := activities.NotifyInput{PartnerID: r.partnerID, Message: notifications.Message{
		Key: r.wfID + "/" + key, CaseID: r.in.CaseID, WorkflowID: r.wfID, Service: ServiceButler,
		Severity: sev, Title: title, Text: text,
		Fields: []notifications.Field{{Name: "Request", Value: r.in.RequestID}, {Name: "Stage", Value: r.stage}, {Name: "Partner", Value: orDash(r.partnerID)}},
	}}
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: activityOptions.RetryPolicy, Summary: "notify: " + title})
	f := workflow.ExecuteActivity(actx, a.Notify, in)
	r.pending++
	workflow.Go(ctx, func(gctx workflow.Context) {
		defer func() { r.pending-- }()
		if err := f.Get(gctx, nil); err != nil {
			r.logger.Warn("notification failed", "Key", key, "Error", err)
		}
	})
}

// incidentReport is the 《应急报告》: the incident, the steps taken, hardening advice, the clocks.
func (r *butlerRequest) incidentReport(summary string, now time.Time) activities.Document {
	doc := activities.Document{
		Key: r.wfID + "/incident_report", CaseID: r.in.CaseID, Kind: "incident_report", Version: r.in.Number,
		Title: "应急报告", GeneratedAt: now,
		Meta: []activities.DocField{
			{Label: "案件 Case", Value: r.in.CaseID}, {Label: "事件 Incident", Value: r.in.RequestID},
			{Label: "版本 Edition", Value: r.in.Edition}, {Label: "合作伙伴 Partner", Value: orDash(r.partnerID)},
			{Label: "事件类别 Class", Value: orDash(r.class)},
		},
		Sections: []activities.DocSection{{Heading: "概述 Summary", Paragraphs: []string{r.in.Summary, summary}}},
	}
	if r.in.RecurrenceOf != "" {
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "复发 Recurrence",
			Paragraphs: []string{"复发自 recurrence of " + r.in.RecurrenceOf + "; 原因 cause: " + orDash(r.in.Cause)}})
	}
	process := &activities.DocTable{Header: []string{"时间 At", "步骤 Step", "说明 Detail"}}
	for _, s := range r.steps {
		process.Rows = append(process.Rows, []string{s.At.In(chinaZone).Format("2006-01-02 15:04"), s.Step, s.Detail})
	}
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "处理过程 Process", Table: process},
		activities.DocSection{Heading: "加固建议 Hardening", Items: r.recs})
	clocks := &activities.DocTable{Header: []string{"条款 Clause", "时限 Due", "完成 Completed", "状态 Status"}}
	for _, e := range r.clocks.entries(now) {
		due, done := "", ""
		if e.DueAt != nil {
			due = e.DueAt.In(chinaZone).Format("2006-01-02 15:04")
		}
		if e.CompletedAt != nil {
			done = e.CompletedAt.In(chinaZone).Format("2006-01-02 15:04")
		}
		clocks.Rows = append(clocks.Rows, []string{e.Clause, due, done, e.Status})
	}
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "服务时限 SLA", Table: clocks})
	if r.in.Edition == ButlerEmergency {
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "保障期 Guarantee",
			Paragraphs: []string{"服务有效期 15 天内同一原因复发可再次处理，无需重新购买。A recurrence from this cause inside the 15 days is handled again without a new purchase."}})
	}
	return doc
}

func (r *butlerRequest) render(ctx workflow.Context, doc activities.Document) error {
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: activityOptions.RetryPolicy,
		Summary: "render 《应急报告》 " + r.in.RequestID})
	return workflow.ExecuteActivity(actx, a.RenderDocument, doc).Get(ctx, nil)
}

func (r *butlerRequest) view(now time.Time) ButlerRequestView {
	v := ButlerRequestView{ButlerRequestInput: r.in, WorkflowID: r.wfID, Stage: r.stage, Status: r.status, NextSteps: r.nextSteps(),
		Outcome: r.outcome, SLA: r.clocks.entries(now), Steps: slices.Clone(r.steps)}
	v.PartnerID, v.Urgency, v.Severity, v.Cause = r.partnerID, r.urgency, r.severity, r.cause
	if v.NextSteps == nil {
		v.NextSteps = []string{}
	}
	if v.Steps == nil {
		v.Steps = []ButlerRequestStep{}
	}
	return v
}
