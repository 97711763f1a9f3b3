package workflows

import (
	"errors"
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

// 等保整改 (compliance rectification) stages, besides StageAssignment, StageClosed and StageExpired.
const (
	// StageKickoff: a partner accepted; the service has not formally started, so it can still be cancelled
	// for a full refund.
	StageKickoff = "kickoff"
	// StageRectification: the service started; work items, deliverables and assessments.
	StageRectification = "rectification"
	// StageClosing: the customer passed the formal assessment, which ends the term; the partner delivers
	// the service report and closes.
	StageClosing = "closing"
	// StageCancelled: cancelled before kickoff, refunded in full.
	StageCancelled = "cancelled"
)

// 等保整改 steps. StepCancel comes from the marketplace; the others from the assigned partner.
const (
	StepKickoff     = "kickoff"
	StepWorkItem    = "workitem"
	StepDeliverable = "deliverable"
	StepAssessment  = "assessment"
	StepCancel      = "cancel"
)

// DengbaoSteps lists the steps partner engineers send to a 等保整改 case.
var DengbaoSteps = []string{StepAccept, StepDecline, StepKickoff, StepWorkItem, StepDeliverable, StepAssessment, StepClose}

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
	DeliverableProposal      = "rectification_proposal" // 《安全整改建议书》
	DeliverableServiceReport = "service_report"         // 《等保整改服务报告》
)

// Assessment results.
const (
	AssessmentPassed = "passed"
	AssessmentFailed = "failed"
)

// Term reminders: days before the year ends, while not passed.
var TermReminderDays = []int{30, 7}

// DefaultHistoryLimit is the history length at which a long case continues as new.
const DefaultHistoryLimit = 2000

// chinaZone is China Standard Time; China keeps no daylight saving, so a fixed zone is exact.
var chinaZone = time.FixedZone("CST", 8*3600)

// TermEnd is when a 等保整改 term ends without a pass: one year after purchase, by the calendar date in
// China (bought 2018-05-01 → 2019-05-01).
func TermEnd(paidAt time.Time) time.Time { return paidAt.In(chinaZone).AddDate(1, 0, 0).UTC() }

// WorkItemInput updates one work item: its owner, status and evidence.
type WorkItemInput struct {
	Item     string `json:"item"`
	Owner    string `json:"owner"`
	Status   string `json:"status"`
	Evidence string `json:"evidence"`
}

// Validate checks the work item's fields.
func (w WorkItemInput) Validate() error {
	if !slices.Contains(WorkItems, w.Item) {
		return fmt.Errorf("item: one of %s", strings.Join(WorkItems, ", "))
	}
	if !slices.Contains([]string{WorkPending, WorkInProgress, WorkDone}, w.Status) {
		return errors.New("status: pending, in_progress or done")
	}
	if err := checkText("owner", w.Owner, true); err != nil {
		return err
	}
	return checkText("evidence", w.Evidence, w.Status == WorkDone)
}

// DeliverableInput delivers a document: the rectification proposal or the final service report.
type DeliverableInput struct {
	Kind    string   `json:"kind"`
	Summary string   `json:"summary"`
	Items   []string `json:"items"`
}

// Validate checks the deliverable's fields.
func (d DeliverableInput) Validate() error {
	if d.Kind != DeliverableProposal && d.Kind != DeliverableServiceReport {
		return fmt.Errorf("kind: %s or %s", DeliverableProposal, DeliverableServiceReport)
	}
	if err := checkText("summary", d.Summary, true); err != nil {
		return err
	}
	return checkList("items", d.Items, false)
}

// AssessmentInput records one formal assessment attempt by the external assessor.
type AssessmentInput struct {
	Result   string   `json:"result"`
	Assessor string   `json:"assessor"`
	Date     string   `json:"date"` // YYYY-MM-DD, China time
	Findings []string `json:"findings"`
}

// Validate checks the assessment's fields.
func (a AssessmentInput) Validate() error {
	if a.Result != AssessmentPassed && a.Result != AssessmentFailed {
		return errors.New("result: passed or failed")
	}
	if err := checkText("assessor", a.Assessor, true); err != nil {
		return err
	}
	if _, err := time.ParseInLocation(time.DateOnly, a.Date, chinaZone); err != nil {
		return errors.New("date: YYYY-MM-DD")
	}
	return checkList("findings", a.Findings, a.Result == AssessmentFailed)
}

// CancelInput is the customer's cancellation.
type CancelInput struct {
	Reason string `json:"reason"`
}

// Validate checks the cancellation's fields.
func (c CancelInput) Validate() error { return checkText("reason", c.Reason, false) }

// WorkItem is a work item's state.
type WorkItem struct {
	Item      string    `json:"item"`
	Owner     string    `json:"owner,omitempty"`
	Status    string    `json:"status"`
	Evidence  string    `json:"evidence,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Assessment is a recorded assessment attempt.
type Assessment struct {
	AssessmentInput
	RecordedAt time.Time `json:"recorded_at"`
}

// Deliverable is a delivered document's record.
type Deliverable struct {
	Kind        string    `json:"kind"`
	Version     int       `json:"version"`
	DeliveredAt time.Time `json:"delivered_at"`
}

// DengbaoState is a 等保整改 case's state: what the case view's details show, and what continue-as-new
// carries into the next run.
type DengbaoState struct {
	Seq          int           `json:"seq"`
	Revision     int64         `json:"revision"`
	Stage        string        `json:"stage"`
	Status       string        `json:"status"`
	Opened       time.Time     `json:"opened"`
	Closed       *time.Time    `json:"closed,omitempty"`
	PartnerID    string        `json:"partner_id,omitempty"`
	PartnerName  string        `json:"partner_name,omitempty"`
	Accepted     bool          `json:"accepted"`
	KickoffAt    *time.Time    `json:"kickoff_at,omitempty"`
	TermEnd      time.Time     `json:"term_end"`
	PassedAt     *time.Time    `json:"passed_at,omitempty"`
	WorkItems    []WorkItem    `json:"work_items"`
	Assessments  []Assessment  `json:"assessments"`
	Deliverables []Deliverable `json:"deliverables"`
	Reminded     []int         `json:"reminded,omitempty"`
	Refund       Refund        `json:"refund"`
	Runs         int           `json:"runs"`
}

// DengbaoInput starts or continues a 等保整改 case. It marshals like a CaseInput, which is what the API
// starts it with; State is set only when a run continues as new.
type DengbaoInput struct {
	CaseInput
	State *DengbaoState `json:"state,omitempty"`
}

// DengbaoResult is how a 等保整改 case ended.
type DengbaoResult struct {
	CaseID string       `json:"case_id"`
	Stage  string       `json:"stage"`
	Refund Refund       `json:"refund"`
	State  DengbaoState `json:"state"`
}

// DengbaoWorkflow runs one compliance-rectification case (SPEC.md "Compliance rectification"): partner
// assignment, kickoff, work items, deliverables and assessment attempts, until a pass or one year after
// purchase; cancellation refunds in full before kickoff only. It continues as new before its history
// grows large, carrying its state in DengbaoInput.State.
func DengbaoWorkflow(ctx workflow.Context, in DengbaoInput) (DengbaoResult, error) {
	d := &dengbaoCase{caseCore: caseCore{in: in.CaseInput, label: "等保整改"}, resume: in.State}
	d.slaFn = d.slaStatus
	if err := d.setup(ctx); err != nil {
		return DengbaoResult{}, err
	}
	return d.run(ctx)
}

type dengbaoCase struct {
	caseCore
	st     DengbaoState
	resume *DengbaoState
}

func (d *dengbaoCase) setup(ctx workflow.Context) error {
	if err := ValidateCaseInput(d.in); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), RejectInvalid, nil)
	}
	if d.in.AcceptTimeout <= 0 {
		d.in.AcceptTimeout = DefaultAcceptTimeout
	}
	if d.in.HistoryLimit <= 0 {
		d.in.HistoryLimit = DefaultHistoryLimit
	}
	d.logger = log.With(workflow.GetLogger(ctx), "CaseID", d.in.CaseID, "Service", d.in.Service)
	if d.resume != nil {
		d.st = *d.resume
		d.st.Runs++
	} else {
		d.st = DengbaoState{Stage: StageAssignment, Status: StatusOpen, Opened: workflow.Now(ctx), TermEnd: TermEnd(d.in.PaidAt), Runs: 1}
		for _, item := range WorkItems {
			d.st.WorkItems = append(d.st.WorkItems, WorkItem{Item: item, Status: WorkPending})
		}
	}
	d.load()
	if err := workflow.SetQueryHandler(ctx, QueryCaseView, func() (CaseView, error) { return d.view(workflow.Now(ctx)), nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateStep, d.step, workflow.UpdateHandlerOptions{Validator: d.validateStep})
}

// load copies the carried state into the shared core; save copies it back.
func (d *dengbaoCase) load() {
	d.seq, d.revision, d.stage, d.status, d.opened, d.closed = d.st.Seq, d.st.Revision, d.st.Stage, d.st.Status, d.st.Opened, d.st.Closed
	d.partnerID, d.partnerName, d.accepted, d.refund = d.st.PartnerID, d.st.PartnerName, d.st.Accepted, d.st.Refund
}

func (d *dengbaoCase) save() DengbaoState {
	d.st.Seq, d.st.Revision, d.st.Stage, d.st.Status, d.st.Opened, d.st.Closed = d.seq, d.revision, d.stage, d.status, d.opened, d.closed
	d.st.PartnerID, d.st.PartnerName, d.st.Accepted, d.st.Refund = d.partnerID, d.partnerName, d.accepted, d.refund
	return d.st
}

func (d *dengbaoCase) run(ctx workflow.Context) (DengbaoResult, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	if d.st.Runs == 1 {
		if err := d.record(ctx, d.event(ctx, "opened", ActorMarketplace, fmt.Sprintf(
			"order %s paid at %s for %d ECS; the term ends at a pass or on %s", d.in.OrderID, d.in.PaidAt.Format(time.RFC3339),
			d.in.Quantity, d.st.TermEnd.In(chinaZone).Format(time.DateOnly)))); err != nil {
			return DengbaoResult{}, err
		}
	}
	if d.status == StatusOpen && !d.accepted {
		d.offered = nil
		workflow.Go(ctx, func(ctx workflow.Context) {
			if err := d.assign(ctx); err != nil {
				d.logger.Error("partner assignment", "Error", err)
			}
		})
	}
	workflow.Go(ctx, d.watchTerm)

	continueAsNew := func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= d.in.HistoryLimit
	}
	if err := workflow.Await(ctx, func() bool { return d.status == StatusClosed || continueAsNew() }); err != nil {
		return DengbaoResult{}, err
	}
	if err := d.finish(ctx); err != nil {
		return DengbaoResult{}, err
	}
	if d.status != StatusClosed {
		st := d.save()
		return DengbaoResult{}, workflow.NewContinueAsNewError(ctx, DengbaoWorkflow, DengbaoInput{CaseInput: d.in, State: &st})
	}
	return DengbaoResult{CaseID: d.in.CaseID, Stage: d.stage, Refund: d.refund, State: d.save()}, nil
}

// watchTerm sends the reminders before the year ends and closes the case at the end of the term.
func (d *dengbaoCase) watchTerm(ctx workflow.Context) {
	for _, days := range TermReminderDays {
		at := d.st.TermEnd.AddDate(0, 0, -days)
		if slices.Contains(d.st.Reminded, days) {
			continue
		}
		if _, err := d.awaitUntil(ctx, at, fmt.Sprintf("term reminder, %d days before the year ends", days), d.termDone); err != nil || d.termDone() {
			return
		}
		d.st.Reminded = append(d.st.Reminded, days)
		if workflow.Now(ctx).After(at.Add(24 * time.Hour)) {
			continue // a run resumed after the reminder's day: too late to remind
		}
		d.pending++
		detail := fmt.Sprintf("%d days left in the term (ends %s) and no pass yet", days, d.st.TermEnd.In(chinaZone).Format(time.DateOnly))
		if err := d.record(ctx, d.event(ctx, fmt.Sprintf("term_reminder_%dd", days), ActorSystem, detail)); err != nil {
			d.logger.Error("record reminder", "Error", err)
		}
		d.notify(ctx, fmt.Sprintf("term-reminder/%d", days), notifications.SeverityWarning, true,
			fmt.Sprintf("等保整改 term ends in %d days", days), detail)
		d.pending--
	}
	if _, err := d.awaitUntil(ctx, d.st.TermEnd, "term end (one year after purchase)", d.termDone); err != nil || d.termDone() {
		return
	}
	d.pending++
	defer func() { d.pending-- }()
	d.closeAs(ctx, StageExpired)
	detail := "the term ended one year after purchase without a pass of the formal assessment"
	if err := d.record(ctx, d.event(ctx, "term_ended", ActorSystem, detail)); err != nil {
		d.logger.Error("record term end", "Error", err)
	}
	d.notify(ctx, "term-ended", notifications.SeverityWarning, true, "等保整改 term ended without a pass", detail)
}

// termDone: the term cannot lapse any more (passed, cancelled or closed).
func (d *dengbaoCase) termDone() bool { return d.st.PassedAt != nil || d.status == StatusClosed }

func (d *dengbaoCase) closeAs(ctx workflow.Context, stage string) {
	now := workflow.Now(ctx)
	d.stage, d.status, d.closed = stage, StatusClosed, &now
}

func (d *dengbaoCase) validateStep(ctx workflow.Context, in StepInput) error {
	if d.status == StatusClosed {
		return conflictf("the case is closed (stage %s)", d.stage)
	}
	switch in.Step {
	case StepCancel:
		if in.Actor != ActorMarketplace {
			return conflictf("cancellation comes from the customer through the marketplace")
		}
		if d.st.KickoffAt != nil {
			return conflictf("the service formally started at %s; 等保整改 is not refundable once work has begun", d.st.KickoffAt.Format(time.RFC3339))
		}
		return decodeValid[CancelInput](in.Payload)
	case StepAccept, StepDecline:
		if in.Actor != ActorPartner {
			return conflictf("step %q is a partner engineer's", in.Step)
		}
		return d.validateOffer(in)
	}
	if err := d.requirePartner(in); err != nil {
		return err
	}
	switch in.Step {
	case StepKickoff:
		if d.stage != StageKickoff {
			return conflictf("the service already started at %s", d.st.KickoffAt.Format(time.RFC3339))
		}
		return nil
	case StepWorkItem, StepDeliverable, StepAssessment:
		if d.stage != StageRectification && !(d.stage == StageClosing && in.Step == StepDeliverable) {
			return conflictf("step %s is for stage %s; the case is in stage %s", in.Step, StageRectification, d.stage)
		}
		switch in.Step {
		case StepWorkItem:
			return decodeValid[WorkItemInput](in.Payload)
		case StepDeliverable:
			return decodeValid[DeliverableInput](in.Payload)
		default:
			if err := decodeValid[AssessmentInput](in.Payload); err != nil {
				return err
			}
			a := mustDecode[AssessmentInput](in.Payload)
			if date, _ := time.ParseInLocation(time.DateOnly, a.Date, chinaZone); date.After(workflow.Now(ctx)) || date.Before(d.in.PaidAt.In(chinaZone).Truncate(24*time.Hour).Add(-24*time.Hour)) {
				return invalidf("date: %s is not between the purchase and today", a.Date)
			}
			return nil
		}
	case StepClose:
		if d.stage != StageClosing {
			return conflictf("the case closes after a pass of the formal assessment; it is in stage %s", d.stage)
		}
		if !slices.ContainsFunc(d.st.Deliverables, func(x Deliverable) bool { return x.Kind == DeliverableServiceReport }) {
			return conflictf("deliver the 等保整改服务报告 (kind %s) before closing", DeliverableServiceReport)
		}
		return decodeValid[CloseInput](in.Payload)
	}
	return conflictf("unknown step %q", in.Step)
}

func (d *dengbaoCase) step(ctx workflow.Context, in StepInput) (CaseView, error) {
	now := workflow.Now(ctx)
	var events []activities.Event
	var refunds []activities.RefundRow
	add := func(event, actor, detail string) { events = append(events, d.event(ctx, event, actor, detail)) }
	switch in.Step {
	case StepAccept:
		d.accepted, d.answer, d.stage = true, StepAccept, StageKickoff
		add("partner_accepted", ActorPartner, d.partnerID+" accepted ("+in.ActorName+")")
	case StepDecline:
		d.answer, d.declineReason = StepDecline, mustDecode[DeclineInput](in.Payload).Reason
		return d.view(now), nil
	case StepCancel:
		c := mustDecode[CancelInput](in.Payload)
		r, err := sla.CancelRefund(d.in.Service, false, d.in.AmountCents)
		if err != nil {
			return CaseView{}, temporal.NewNonRetryableApplicationError(err.Error(), RejectConflict, nil)
		}
		d.refund = Refund{Percent: r.Percent, AmountCents: r.AmountCents}
		d.closeAs(ctx, StageCancelled)
		detail := fmt.Sprintf("cancelled before the service started: full refund of %d cents", r.AmountCents)
		if c.Reason != "" {
			detail += "; reason: " + c.Reason
		}
		add("cancelled", ActorMarketplace, detail)
		refunds = append(refunds, activities.RefundRow{Key: d.in.CaseID + "/refund/cancellation", Clause: "cancellation",
			Percent: r.Percent, AmountCents: r.AmountCents, Reason: detail, At: now})
	case StepKickoff:
		d.st.KickoffAt, d.stage = &now, StageRectification
		add("kickoff", ActorPartner, "the service formally started; no refund is possible from now on")
	case StepWorkItem:
		w := mustDecode[WorkItemInput](in.Payload)
		for i := range d.st.WorkItems {
			if d.st.WorkItems[i].Item == w.Item {
				d.st.WorkItems[i] = WorkItem{Item: w.Item, Owner: w.Owner, Status: w.Status, Evidence: w.Evidence, UpdatedAt: now}
			}
		}
		add("workitem", ActorPartner, fmt.Sprintf("%s: %s (owner %s)", w.Item, w.Status, w.Owner))
	case StepDeliverable:
		x := mustDecode[DeliverableInput](in.Payload)
		version := 1
		for _, prev := range d.st.Deliverables {
			if prev.Kind == x.Kind {
				version = prev.Version + 1
			}
		}
		d.st.Deliverables = append(d.st.Deliverables, Deliverable{Kind: x.Kind, Version: version, DeliveredAt: now})
		add("deliverable", ActorPartner, fmt.Sprintf("%s v%d delivered", x.Kind, version))
		if err := d.renderDeliverable(ctx, x, version, now); err != nil {
			return CaseView{}, err
		}
	case StepAssessment:
		a := mustDecode[AssessmentInput](in.Payload)
		d.st.Assessments = append(d.st.Assessments, Assessment{AssessmentInput: a, RecordedAt: now})
		detail := fmt.Sprintf("attempt %d on %s by %s: %s", len(d.st.Assessments), a.Date, a.Assessor, a.Result)
		if len(a.Findings) > 0 {
			detail += "; findings: " + joinList(a.Findings)
		}
		add("assessment", ActorPartner, detail)
		if a.Result == AssessmentPassed {
			passed, _ := time.ParseInLocation(time.DateOnly, a.Date, chinaZone)
			passed = passed.UTC()
			d.st.PassedAt, d.st.TermEnd, d.stage = &passed, passed, StageClosing
			add("term_ended", ActorSystem, "passed the formal assessment on "+a.Date+": the term ends; deliver the service report and close")
		}
	case StepClose:
		c := mustDecode[CloseInput](in.Payload)
		d.closeAs(ctx, StageClosed)
		add("closed", ActorPartner, "follow-up: "+c.FollowUp)
	}
	if err := d.recordWith(ctx, events, refunds); err != nil {
		return CaseView{}, err
	}
	if in.Step == StepCancel {
		d.notify(ctx, "cancelled", notifications.SeverityInfo, d.partnerID != "", "等保整改 case cancelled before kickoff",
			fmt.Sprintf("Full refund of %d cents recorded.", d.refund.AmountCents))
	}
	return d.view(now), nil
}

func (d *dengbaoCase) renderDeliverable(ctx workflow.Context, x DeliverableInput, version int, now time.Time) error {
	title := "安全整改建议书"
	if x.Kind == DeliverableServiceReport {
		title = "等保整改服务报告"
	}
	doc := activities.Document{
		Key: fmt.Sprintf("%s/%s/%d", d.in.CaseID, x.Kind, version), CaseID: d.in.CaseID, Kind: x.Kind, Version: version,
		Title: title, GeneratedAt: now,
		Meta: []activities.DocField{
			{Label: "案件 Case", Value: d.in.CaseID}, {Label: "订单 Order", Value: d.in.OrderID},
			{Label: "客户 Customer", Value: d.in.CustomerID}, {Label: "合作伙伴 Partner", Value: d.partnerID},
			{Label: "定级系统 ECS", Value: fmt.Sprint(d.in.Quantity)},
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
			tests.Rows = append(tests.Rows, []string{a.Date, a.Assessor, a.Result, joinList(a.Findings)})
		}
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "等保测评 Assessments", Table: tests})
	}
	term := fmt.Sprintf("服务期至 %s（通过测评或购买满一年，以先到者为准）", d.st.TermEnd.In(chinaZone).Format(time.DateOnly))
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "服务期限 Term", Paragraphs: []string{term}})
	var a *activities.Activities
	return d.runLocal(ctx, time.Minute, fmt.Sprintf("render %s v%d", x.Kind, version), a.RenderDocument, doc, nil)
}

func (d *dengbaoCase) slaStatus(time.Time) (string, *time.Time) {
	if d.termDone() {
		return SLAOnTrack, nil
	}
	end := d.st.TermEnd
	return SLAOnTrack, &end
}

func (d *dengbaoCase) view(now time.Time) CaseView {
	st := d.save()
	v := CaseView{
		CaseID: d.in.CaseID, WorkflowID: d.in.CaseID, Service: d.in.Service, Spec: d.in.Spec, Stage: d.stage, Status: d.status,
		PartnerID: d.partnerID, CustomerID: d.in.CustomerID, OrderID: d.in.OrderID, AmountCents: d.in.AmountCents,
		Currency: d.in.Currency, PaidAt: d.in.PaidAt, SLA: []SLAEntry{}, Refund: d.refund, Timeline: []TimelineEntry{}, Details: st,
	}
	term := SLAEntry{Clause: "term", Status: SLAOnTrack}
	end := st.TermEnd
	term.DueAt = &end
	if st.PassedAt != nil {
		term.CompletedAt = st.PassedAt
	}
	v.SLA = append(v.SLA, term)
	return v
}
