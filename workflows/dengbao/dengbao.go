// Package dengbao runs 等保整改 (compliance rectification) cases on the case kernel (SPEC.md
// "Compliance rectification"): partner assignment, kickoff, work items, deliverables and assessment
// attempts, until a pass or one year after purchase.
package dengbao

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// WorkflowName is the type name the case workflow is registered, started and continued by.
const WorkflowName = "DengbaoWorkflow"

// 等保整改 stages, besides the kernel's StageAssignment, StageClosed, StageExpired and StageCancelled.
const (
	// StageKickoff: a partner accepted; the service has not formally started, so it can still be cancelled
	// for a full refund.
	StageKickoff = "kickoff"
	// StageRectification: the service started; work items, deliverables and assessments.
	StageRectification = "rectification"
	// StageClosing: the customer passed the formal assessment, which ends the term; the partner delivers
	// the service report and closes.
	StageClosing = "closing"
)

// 等保整改 steps, besides the kernel's StepAccept, StepDecline, StepDeliverable, StepClose and StepCancel
// (the marketplace's).
const (
	// StepKickoff formally starts the service; no refund is possible afterwards.
	StepKickoff = "kickoff"
	// StepWorkItem updates a work item (WorkItemInput).
	StepWorkItem = "workitem"
	// StepAssessment records a formal assessment attempt (AssessmentInput).
	StepAssessment = "assessment"
)

// Steps lists the steps partner engineers send to a 等保整改 case.
var Steps = []string{workflows.StepAccept, workflows.StepDecline, StepKickoff, StepWorkItem, workflows.StepDeliverable, StepAssessment, workflows.StepClose}

// Updates lists every step the case takes, each its own Workflow Update: the partners' and those the
// marketplace relays from the customer.
var Updates = append(slices.Clone(Steps), workflows.StepCancel)

// Work items of a rectification (SPEC.md "Compliance rectification").
const (
	WorkGapPlan             = "gap_plan"             // 差距报告解读与整改方案
	WorkProductGuidance     = "product_guidance"     // 产品选型与部署指导
	WorkSystemRectification = "system_rectification" // 系统整改（网络、主机、数据库）
	WorkPolicyGuidance      = "policy_guidance"      // 安全管理制度指导
)

// WorkItems lists the work items in their usual order.
var WorkItems = []string{WorkGapPlan, WorkProductGuidance, WorkSystemRectification, WorkPolicyGuidance}

// Work item statuses.
const (
	WorkPending    = "pending"
	WorkInProgress = "in_progress"
	WorkDone       = "done"
)

// Deliverable kinds (the stored documents' kinds).
const (
	DeliverableProposal      = activities.KindRectificationProposal // 《安全整改建议书》
	DeliverableServiceReport = activities.KindServiceReport         // 《等保整改服务报告》
)

// Assessment results.
const (
	AssessmentPassed = "passed"
	AssessmentFailed = "failed"
)

const label = "等保整改"

// Rectification is a 等保整改 case's own facts: its start, term, work items, assessments, deliverables
// and the reminders already due.
type Rectification struct {
	KickoffAt    *time.Time    `json:"kickoff_at,omitempty"`
	TermEnd      time.Time     `json:"term_end"`
	PassedAt     *time.Time    `json:"passed_at,omitempty"`
	WorkItems    []WorkItem    `json:"work_items"`
	Assessments  []Assessment  `json:"assessments"`
	Deliverables []Deliverable `json:"deliverables"`
	// Reminded lists the term reminders already due, by days before the term ends.
	Reminded []int `json:"reminded,omitempty"`
}

// State is what continue-as-new carries into a case's next run: the kernel's core and the rectification.
type State struct {
	Core workflows.CoreState `json:"core"`
	Rectification
}

// Input starts or continues a 等保整改 case. It marshals like a CaseInput, which is what the API starts it
// with; State is set only when a run continues as new.
type Input = workflows.Continued[State]

// Result is how a 等保整改 case ended, with its final state.
type Result struct {
	CaseID string           `json:"case_id"`
	Stage  string           `json:"stage"`
	Refund workflows.Refund `json:"refund"`
	State  State            `json:"state"`
}

// Details is the case view's details of a 等保整改 case: its rectification, term and runs.
type Details struct {
	Rectification
	Runs int `json:"runs"`
}

// Lifecycle is how the worker registers 等保整改 cases and the API starts them.
var Lifecycle = workflows.Lifecycle{
	Workflows: []workflows.Registration{{Name: WorkflowName, Workflow: Workflow}},
	Input:     func(in workflows.CaseInput) any { return Input{CaseInput: in} },
	Steps:     Steps,
	Updates:   Updates,
}

// Workflow runs one compliance-rectification case: partner assignment, kickoff, work items, deliverables
// and assessment attempts, until a pass or one year after purchase; cancellation refunds in full before
// kickoff only. It continues as new before its history grows large, carrying its state in Input.State.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	d := &dengbaoCase{Case: workflows.NewCase(in.CaseInput, label)}
	d.SLAStatus, d.Expect = d.slaStatus, d.expect
	ctx, err := d.setup(ctx, in.State)
	if err != nil {
		return Result{}, err
	}
	return d.run(ctx)
}

type dengbaoCase struct {
	*workflows.Case
	// st is the rectification's own state. Its Core is not read while the run goes (Case.CoreState is
	// the live core); carried fills it in.
	st State
}

func (d *dengbaoCase) setup(ctx workflow.Context, resume *State) (workflow.Context, error) {
	var core *workflows.CoreState
	if resume != nil {
		d.st, core = *resume, &resume.Core
	} else {
		d.st = State{Rectification: Rectification{TermEnd: sla.DengbaoTermEnd(d.In.PaidAt)}}
		for _, item := range WorkItems {
			d.st.WorkItems = append(d.st.WorkItems, WorkItem{Item: item, Status: WorkPending})
		}
	}
	return d.Setup(ctx, core, d.view, Updates, d.step, d.validate)
}

// carried is the state to end or continue the run with.
func (d *dengbaoCase) carried() State {
	st := d.st
	st.Core = d.CoreState
	return st
}

func (d *dengbaoCase) run(ctx workflow.Context) (Result, error) {
	if err := d.RecordOpened(ctx, fmt.Sprintf("order %s paid at %s for %d ECS; the term ends at a pass or on %s",
		d.In.OrderID, workflows.When(d.In.PaidAt), d.In.Quantity, sla.ChinaDate(d.st.TermEnd))); err != nil {
		return Result{}, err
	}
	d.StartAssignment(ctx)
	workflow.Go(ctx, d.watchTerm)
	cont, err := d.AwaitEndOrContinue(ctx)
	if err != nil {
		return Result{}, err
	}
	st := d.carried()
	if cont {
		return Result{}, workflow.NewContinueAsNewError(ctx, WorkflowName, Input{CaseInput: d.In, State: &st})
	}
	return Result{CaseID: d.In.CaseID, Stage: d.Stage, Refund: d.Refund, State: st}, nil
}

// watchTerm sends the reminders before the year ends and closes the case at the end of the term.
func (d *dengbaoCase) watchTerm(ctx workflow.Context) {
	for _, days := range sla.TermReminderDays {
		if slices.Contains(d.st.Reminded, days) {
			continue
		}
		at := d.st.TermEnd.AddDate(0, 0, -days)
		if _, err := workflows.AwaitUntil(ctx, at, fmt.Sprintf("term reminder, %d days before the year ends", days), d.termDone); err != nil || d.termDone() {
			return
		}
		d.st.Reminded = append(d.st.Reminded, days)
		if workflow.Now(ctx).After(at.Add(sla.ReminderTooLate)) {
			continue // a run resumed after the reminder's day: too late to remind
		}
		release := d.Hold()
		detail := fmt.Sprintf("%d days left in the term (ends %s) and no pass yet", days, sla.ChinaDate(d.st.TermEnd))
		ev := workflows.Tell(d.NewEvent(ctx, workflows.EventTermReminder, workflows.ActorSystem, detail), workflows.NoticeTermReminder,
			"days", fmt.Sprint(days), "end", sla.ChinaDate(d.st.TermEnd))
		if err := d.Record(ctx, ev); err != nil {
			d.Logger.Error("record reminder", "Error", err)
		}
		d.Notify(ctx, fmt.Sprintf("term-reminder/%d", days), notifications.SeverityWarning, true,
			fmt.Sprintf("%s term ends in %d days", label, days), detail)
		release()
	}
	if _, err := workflows.AwaitUntil(ctx, d.st.TermEnd, "term end (one year after purchase)", d.termDone); err != nil || d.termDone() {
		return
	}
	defer d.Hold()()
	d.EndAs(ctx, workflows.StageExpired)
	detail := "the term ended one year after purchase without a pass of the formal assessment"
	if err := d.Record(ctx, d.NewEvent(ctx, workflows.EventTermEnded, workflows.ActorSystem, detail)); err != nil {
		d.Logger.Error("record term end", "Error", err)
	}
	d.Notify(ctx, "term-ended", notifications.SeverityWarning, true, label+" term ended without a pass", detail)
}

// termDone: the term cannot lapse any more (passed, cancelled or closed).
func (d *dengbaoCase) termDone() bool { return d.st.PassedAt != nil || d.IsClosed() }

func (d *dengbaoCase) validate(ctx workflow.Context, in workflows.StepInput) error {
	if err := d.RefuseClosed(); err != nil {
		return err
	}
	switch in.Step {
	case workflows.StepCancel:
		if in.Actor != workflows.ActorMarketplace && in.Actor != workflows.ActorManager {
			return workflows.Conflictf("cancellation comes from the customer, through the marketplace or a manager")
		}
		if _, err := sla.CancelRefund(d.In.Service, d.st.KickoffAt != nil, d.In.AmountCents); err != nil {
			if d.st.KickoffAt != nil {
				return workflows.Conflictf("the service formally started at %s; %s is not refundable once work has begun", workflows.When(*d.st.KickoffAt), label)
			}
			return workflows.Conflictf("%v", err)
		}
		return workflows.DecodeValid[workflows.CancelInput](in.Payload)
	case workflows.StepAccept, workflows.StepDecline:
		return d.ValidateOffer(in)
	}
	if err := d.RequirePartner(in); err != nil {
		return err
	}
	switch in.Step {
	case StepKickoff:
		if d.Stage != StageKickoff {
			return workflows.Conflictf("the service already started at %s", workflows.When(*d.st.KickoffAt))
		}
		return nil
	case StepWorkItem, workflows.StepDeliverable, StepAssessment:
		if d.Stage != StageRectification && !(d.Stage == StageClosing && in.Step == workflows.StepDeliverable) {
			return workflows.Conflictf("step %s is for stage %s; the case is in stage %s", in.Step, StageRectification, d.Stage)
		}
		switch in.Step {
		case StepWorkItem:
			return workflows.DecodeValid[WorkItemInput](in.Payload)
		case workflows.StepDeliverable:
			return workflows.DecodeValid[DeliverableInput](in.Payload)
		}
		if err := workflows.DecodeValid[AssessmentInput](in.Payload); err != nil {
			return err
		}
		a := workflows.MustDecode[AssessmentInput](in.Payload)
		earliest := d.In.PaidAt.In(sla.China).Truncate(24 * time.Hour).Add(-24 * time.Hour)
		if day, _ := a.Day(); day.After(workflow.Now(ctx)) || day.Before(earliest) {
			return workflows.Invalidf("date: %s is not between the purchase and today", a.Date)
		}
		return nil
	case workflows.StepClose:
		if d.Stage != StageClosing {
			return workflows.Conflictf("the case closes after a pass of the formal assessment; it is in stage %s", d.Stage)
		}
		if !slices.ContainsFunc(d.st.Deliverables, func(x Deliverable) bool { return x.Kind == DeliverableServiceReport }) {
			return workflows.Conflictf("deliver the 等保整改服务报告 (kind %s) before closing", DeliverableServiceReport)
		}
		return workflows.DecodeValid[workflows.CloseInput](in.Payload)
	}
	return workflows.Conflictf("unknown step %q", in.Step)
}

func (d *dengbaoCase) step(ctx workflow.Context, in workflows.StepInput) (workflows.CaseView, error) {
	now := workflow.Now(ctx)
	var events []activities.Event
	var refunds []activities.RefundRow
	var notify func() // after the step is recorded
	add := func(name workflows.Event, actor, detail string) {
		events = append(events, d.NewEvent(ctx, name, actor, detail))
	}
	switch in.Step {
	case workflows.StepAccept:
		events = append(events, d.Accept(ctx, in, StageKickoff, ""))
	case workflows.StepDecline:
		d.Decline(in)
		return d.view(now), nil
	case workflows.StepCancel:
		r, err := sla.CancelRefund(d.In.Service, d.st.KickoffAt != nil, d.In.AmountCents)
		if err != nil {
			return workflows.CaseView{}, workflows.Conflictf("%v", err)
		}
		d.Refund = r
		d.EndAs(ctx, workflows.StageCancelled)
		detail := fmt.Sprintf("cancelled before the service started: full refund of %s", workflows.Money(r.AmountCents, d.In.Currency))
		if reason := workflows.MustDecode[workflows.CancelInput](in.Payload).Reason; reason != "" {
			detail += "; reason: " + reason
		}
		add(workflows.EventCaseCancelled, in.Actor, detail)
		refunds = append(refunds, activities.RefundRow{Key: d.In.CaseID + "/refund/" + sla.ClauseCancellation, Clause: sla.ClauseCancellation,
			Percent: r.Percent, AmountCents: r.AmountCents, Reason: detail, At: now})
		notify = func() {
			d.Notify(ctx, "cancelled", notifications.SeverityInfo, d.PartnerID != "", label+" case cancelled before kickoff",
				fmt.Sprintf("Full refund of %s recorded.", workflows.Money(r.AmountCents, d.In.Currency)))
		}
	case StepKickoff:
		d.st.KickoffAt, d.Stage = &now, StageRectification
		add(workflows.EventServiceStarted, workflows.ActorPartner, "the service formally started; no refund is possible from now on")
	case StepWorkItem:
		w := workflows.MustDecode[WorkItemInput](in.Payload)
		for i := range d.st.WorkItems {
			if d.st.WorkItems[i].Item == w.Item {
				d.st.WorkItems[i] = WorkItem{Item: w.Item, Owner: w.Owner, Status: w.Status, Evidence: w.Evidence, UpdatedAt: now}
			}
		}
		add(workflows.EventWorkItemUpdated, workflows.ActorPartner, fmt.Sprintf("%s: %s", w.Item, w.Status)) // no owner's name: the line reaches the customer
	case workflows.StepDeliverable:
		x := workflows.MustDecode[DeliverableInput](in.Payload)
		version := 1
		for _, prev := range d.st.Deliverables {
			if prev.Kind == x.Kind {
				version = prev.Version + 1
			}
		}
		d.st.Deliverables = append(d.st.Deliverables, Deliverable{Kind: x.Kind, Version: version, DeliveredAt: now})
		add(workflows.EventDocumentDelivered, workflows.ActorPartner, fmt.Sprintf("%s v%d delivered", x.Kind, version))
		if err := d.render(ctx, x, version, now); err != nil {
			return workflows.CaseView{}, err
		}
	case StepAssessment:
		a := workflows.MustDecode[AssessmentInput](in.Payload)
		d.st.Assessments = append(d.st.Assessments, Assessment{AssessmentInput: a, RecordedAt: now})
		detail := fmt.Sprintf("attempt %d on %s by %s: %s", len(d.st.Assessments), a.Date, a.Assessor, a.Result)
		if len(a.Findings) > 0 {
			detail += "; findings: " + workflows.JoinList(a.Findings)
		}
		add(workflows.EventAssessmentRecorded, workflows.ActorPartner, detail)
		pass := "no"
		if a.Result == AssessmentPassed {
			pass = "yes"
		}
		events[len(events)-1] = workflows.Tell(events[len(events)-1], workflows.NoticeAssessmentRecorded,
			"attempt", fmt.Sprint(len(d.st.Assessments)), "passed", pass)
		if a.Result == AssessmentPassed {
			day, _ := a.Day()
			passed := day.UTC()
			d.st.PassedAt, d.st.TermEnd, d.Stage = &passed, passed, StageClosing
			add(workflows.EventTermEnded, workflows.ActorSystem, "passed the formal assessment on "+a.Date+": the term ends; deliver the service report and close")
		}
	case workflows.StepClose:
		d.EndAs(ctx, workflows.StageClosed)
		add(workflows.EventCaseClosed, workflows.ActorPartner, "follow-up: "+workflows.MustDecode[workflows.CloseInput](in.Payload).FollowUp)
	}
	view := d.view(now) // the step's outcome, before another step can run while this one records
	if err := d.RecordWith(ctx, events, refunds); err != nil {
		return workflows.CaseView{}, err
	}
	if notify != nil {
		notify()
	}
	return view, nil
}

// render stores the deliverable's document, with the work items and assessments as they stand.
func (d *dengbaoCase) render(ctx workflow.Context, x DeliverableInput, version int, now time.Time) error {
	title := "安全整改建议书"
	if x.Kind == DeliverableServiceReport {
		title = "等保整改服务报告"
	}
	doc := activities.Document{
		Key: fmt.Sprintf("%s/%s/%d", d.In.CaseID, x.Kind, version), CaseID: d.In.CaseID, Kind: x.Kind, Version: version,
		Title: title, GeneratedAt: now,
		Meta: []activities.DocField{
			{Label: "案件 Case", Value: d.In.CaseID}, {Label: "订单 Order", Value: d.In.OrderID},
			{Label: "客户 Customer", Value: d.In.CustomerID}, {Label: "合作伙伴 Partner", Value: d.PartnerID},
			{Label: "定级系统 ECS", Value: fmt.Sprint(d.In.Quantity)},
		},
		Sections: []activities.DocSection{{Heading: "概述 Summary", Paragraphs: []string{x.Summary}, Items: x.Items}},
	}
	work := &activities.DocTable{Header: []string{"工作项 Item", "负责人 Owner", "状态 Status", "证据 Evidence"}}
	for _, w := range d.st.WorkItems {
		work.Rows = append(work.Rows, []string{w.Item, w.Owner, w.Status, w.Evidence})
	}
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "整改工作项 Work items", Table: work})
	if len(d.st.Assessments) > 0 {
		tests := &activities.DocTable{Header: []string{"日期 Date", "测评机构 Assessor", "结果 Result", "问题 Findings"}}
		for _, a := range d.st.Assessments {
			tests.Rows = append(tests.Rows, []string{a.Date, a.Assessor, a.Result, workflows.JoinList(a.Findings)})
		}
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "等保测评 Assessments", Table: tests})
	}
	term := fmt.Sprintf("服务期至 %s（通过测评或购买满一年，以先到者为准）", sla.ChinaDate(d.st.TermEnd))
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "服务期限 Term", Paragraphs: []string{term}})
	var a *activities.Activities
	return workflows.RunLocal(ctx, time.Minute, fmt.Sprintf("render %s v%d", x.Kind, version), a.RenderDocument, doc, nil)
}

// expect is the step the case waits for and from whom, for the Web UI.
func (d *dengbaoCase) expect() string {
	p := "partner " + d.PartnerID + ": "
	switch d.Stage {
	case StageKickoff:
		return p + "the formal start (" + StepKickoff + "); until then the customer may cancel for a full refund"
	case StageRectification:
		return p + "work items, deliverables and assessment attempts (" + StepWorkItem + ", " + workflows.StepDeliverable + ", " +
			StepAssessment + "); the term ends " + sla.ChinaDate(d.st.TermEnd)
	case StageClosing:
		return p + "the 等保整改服务报告 (" + workflows.StepDeliverable + "), then " + workflows.StepClose
	}
	return ""
}

// slaStatus: a 等保整改 case has no clocks; its next deadline is the term's end while the term can lapse.
// A pass of the formal assessment meets the term; a case ended without one (cancelled, lapsed) stopped it.
func (d *dengbaoCase) slaStatus(time.Time) (string, *time.Time) {
	switch {
	case d.st.PassedAt != nil:
		return workflows.SLAMet, nil
	case d.IsClosed():
		return workflows.SLAStopped, nil
	}
	end := d.st.TermEnd
	return workflows.SLAOnTrack, &end
}

// view is the case view, with the term as its one SLA entry; it only reads.
func (d *dengbaoCase) view(now time.Time) workflows.CaseView {
	r := d.st.Rectification
	r.WorkItems, r.Assessments = slices.Clone(r.WorkItems), slices.Clone(r.Assessments)
	r.Deliverables, r.Reminded = slices.Clone(r.Deliverables), slices.Clone(r.Reminded)
	v := d.BaseView(now, Details{Rectification: r, Runs: d.Runs})
	end := d.st.TermEnd
	term := workflows.Judge(workflows.SLAEntry{Clause: sla.ClauseTerm, DueAt: &end, CompletedAt: d.st.PassedAt}, false, now)
	if d.st.PassedAt == nil && d.IsClosed() {
		term.Status, term.Margin = workflows.SLAStopped, ""
	}
	v.SLA = append(v.SLA, term)
	return v
}
