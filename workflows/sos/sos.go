// Package sos runs incident-response cases (SPEC.md "Incident response (SOS)", 应急响应) on the case
// kernel: the customer's asset window, partner assignment, the steps partners send, the response,
// handling and effect clauses and the refunds they owe, and the incident report.
package sos

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

// WorkflowName is the type name an SOS case's workflow is registered by; histories and the API know it so.
const WorkflowName = "SOSWorkflow"

// Specs lists the SOS specs.
var Specs = []string{sla.SpecHandling, sla.SpecAnalysisRemote, sla.SpecAnalysisOnsite}

// SOS stages; assignment, report, closed and expired are the kernel's.
const (
	// StageConfirmation: the engineer contacts the customer and confirms the incident.
	StageConfirmation = "confirmation"
	// StageContainment: an ongoing attack is being contained.
	StageContainment = "containment"
	// StageEradication: malware, webshells and backdoors are being removed.
	StageEradication = "eradication"
	// StageAnalysis: the root cause is being analysed (analysis specs only).
	StageAnalysis = "analysis"
	// StageReview: the report waits for the customer's verdict.
	StageReview = "review"
	// StageOutOfScope: the case ended because the problem is not a security incident.
	StageOutOfScope = "out_of_scope"
)

// SOS steps; accept, decline, contact, contain, report and close are the kernel's.
const (
	// StepAssets is the customer's asset list (AssetsInput), relayed by the marketplace.
	StepAssets = "assets"
	// StepConfirm confirms and classifies the incident (ConfirmInput).
	StepConfirm = "confirm"
	// StepEradicate reports what eradication cleaned (EradicateInput).
	StepEradicate = "eradicate"
	// StepAnalyze is the root-cause analysis (AnalyzeInput).
	StepAnalyze = "analyze"
	// StepReportConfirm is the customer confirming the report (VerdictInput), relayed by the marketplace.
	StepReportConfirm = "report_confirm"
	// StepReportDispute is the customer disputing the report (VerdictInput), which sends it back.
	StepReportDispute = "report_dispute"
)

// ClauseVerdict names the customer's verdict window on the report in the case view's SLA list: a date of
// the customer's (sla.Verdict), not a promise of the provider's, so it carries no refund.
const ClauseVerdict = "verdict"

// Steps lists the steps partner engineers send to an SOS case.
var Steps = []string{workflows.StepAccept, workflows.StepDecline, workflows.StepContact, StepConfirm, workflows.StepContain,
	StepEradicate, StepAnalyze, workflows.StepReport, workflows.StepClose}

// Updates lists every step an SOS case takes, each its own Workflow Update: the partners' and those the
// marketplace relays from the customer (the asset list, the report's verdict, a cancellation, refused).
var Updates = append(slices.Clone(Steps), StepAssets, StepReportConfirm, StepReportDispute, workflows.StepCancel)

// Result is how an SOS case ended.
type Result struct {
	CaseID    string               `json:"case_id"`
	Stage     string               `json:"stage"`
	PartnerID string               `json:"partner_id,omitempty"`
	Refund    workflows.Refund     `json:"refund"`
	SLA       []workflows.SLAEntry `json:"sla"`
}

// Input starts an SOS case: the order, and the case's own verdict terms when they differ from the
// service's. It marshals like a CaseInput, which is what the API starts it with.
type Input struct {
	workflows.CaseInput
	// VerdictWindow is how long, from a report version's submission, the customer has to confirm or dispute
	// it before it is deemed confirmed; zero means the service's (sla.Verdict: 7 natural days). The purchase
	// API does not set it.
	VerdictWindow time.Duration `json:"verdict_window,omitempty"`
	// VerdictReminder is when, from the submission, a customer without a verdict is reminded; zero means the
	// service's (3 natural days). A reminder not before the window's end is not sent.
	VerdictReminder time.Duration `json:"verdict_reminder,omitempty"`
}

// Lifecycle is how the worker registers SOS cases and the API starts and steers them.
var Lifecycle = workflows.Lifecycle{
	Workflows: []workflows.Registration{{Name: WorkflowName, Workflow: Workflow}},
	Input:     func(c workflows.CaseInput) any { return Input{CaseInput: c} },
	Steps:     Steps,
	Updates:   Updates,
	Specs:     Specs,
}

// Workflow runs one incident-response case: the asset window, partner assignment, the steps partners send
// as updates, the SLA clocks and the refunds they owe, and the customer's verdict on the report (reminded,
// then deemed confirmed when it does not come).
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	if !slices.Contains(Specs, in.Spec) { // the API checks it too; a case started another way is checked here
		return Result{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("spec: %q is not an SOS spec; one of %s",
			in.Spec, strings.Join(Specs, ", ")), workflows.RejectInvalid, nil)
	}
	terms, err := sla.Verdict(sla.ServiceSOS)
	if err == nil {
		terms, err = terms.Override(in.VerdictWindow, in.VerdictReminder)
	}
	if err != nil {
		return Result{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.RejectInvalid, nil)
	}
	s := &sosCase{Case: workflows.NewCase(in.CaseInput, "SOS"), verdict: terms}
	s.NeedOnsite = in.Spec == sla.SpecAnalysisOnsite
	s.Expect, s.SLAStatus = s.expect, s.slaStatus
	ctx, err = s.Setup(ctx, nil, s.view, Updates, s.step, s.validate)
	if err != nil {
		return Result{}, err
	}
	return s.run(ctx)
}

type sosCase struct {
	*workflows.Case

	hosts         []Host
	assetsAt      *time.Time
	contactAt     *time.Time
	confirm       *ConfirmInput
	containment   []string
	eradication   *EradicateInput
	eradicatedAt  *time.Time
	analysis      *AnalyzeInput
	report        *ReportInput
	reportVersion int
	reportAt      time.Time // when the version waiting for a verdict was submitted
	verdictAt     *time.Time
	deemed        bool // the verdict is the window's, not the customer's
	rating        int
	process       []activities.ReportStep
	verdict       sla.VerdictTerms
}

func (s *sosCase) run(ctx workflow.Context) (Result, error) {
	// The response clock counts from payment, however late the callback arrived.
	response, err := s.StartClock(ctx, sla.ClauseResponse, sla.Inputs{}, s.In.PaidAt)
	if err != nil {
		return Result{}, err
	}
	if err := s.RecordOpened(ctx, fmt.Sprintf(
		"order %s paid at %s; spec %s; asset list due within 5 natural days; first contact due by %s (20 business minutes)",
		s.In.OrderID, workflows.When(s.In.PaidAt), s.In.Spec, workflows.When(response.DueAt()))); err != nil {
		return Result{}, err
	}
	// The clocks' watch starts first: a breach already due (a late callback) is raised before the asset
	// window, also already over, closes the case.
	workflow.Go(ctx, s.WatchClocks)
	workflow.Go(ctx, s.watchAssetWindow)
	workflow.Go(ctx, s.watchVerdict)
	if err := s.Assign(ctx); err != nil {
		return Result{}, err
	}
	if err := workflow.Await(ctx, s.IsClosed); err != nil {
		return Result{}, err
	}
	if err := s.Finish(ctx); err != nil {
		return Result{}, err
	}
	v := s.view(workflow.Now(ctx))
	return Result{CaseID: s.In.CaseID, Stage: s.Stage, PartnerID: s.PartnerID, Refund: s.Refund, SLA: v.SLA}, nil
}

// watchAssetWindow reminds the customer of a missing asset list after 3 and after 4 of its 5 natural days
// (sla.AssetReminders), and closes the case as expired when none arrives within 5 natural days of payment.
func (s *sosCase) watchAssetWindow(ctx workflow.Context) {
	due := s.In.PaidAt.Add(sla.AssetWindow)
	done := func() bool { return s.assetsAt != nil || s.IsClosed() }
	for _, after := range sla.AssetReminders {
		at := s.In.PaidAt.Add(after)
		day := int(after / sla.Day)
		if _, err := workflows.AwaitUntil(ctx, at, fmt.Sprintf("asset list reminder, day %d of 5", day), done); err != nil || done() {
			return
		}
		if workflow.Now(ctx).After(at.Add(sla.AssetReminderTooLate)) {
			continue // the case started late (a delayed callback): this reminder's moment has passed
		}
		ev := workflows.Tell(s.NewEvent(ctx, workflows.EventAssetsReminded, workflows.ActorSystem,
			fmt.Sprintf("no asset list after %d of 5 days; the customer was reminded it is due by %s", day, workflows.When(due))),
			workflows.NoticeAssetsReminder, "day", fmt.Sprint(day), "due", workflows.When(due))
		if err := s.Record(ctx, ev); err != nil {
			s.Logger.Error("record asset reminder", "Error", err)
		}
	}
	if _, err := workflows.AwaitUntil(ctx, due, "asset list window (5 natural days from payment)", func() bool {
		return s.assetsAt != nil || s.IsClosed()
	}); err != nil || s.assetsAt != nil || s.IsClosed() {
		return
	}
	defer s.Hold()() // the case must not end before its expiry is recorded
	s.EndAs(ctx, workflows.StageExpired)
	ev := workflows.Tell(s.NewEvent(ctx, workflows.EventCaseExpired, workflows.ActorSystem,
		"no asset list within 5 natural days of payment ("+workflows.When(due)+"); the customer needs a new purchase"),
		workflows.NoticeAssetsWindowClosed, "due", workflows.When(due))
	s.Notify(ctx, "expired", notifications.SeverityWarning, false, "SOS case expired: no asset list",
		"The customer did not submit the asset list within 5 natural days of payment; the case is closed. Tell the customer a new purchase is needed.")
	if err := s.Record(ctx, ev); err != nil {
		s.Logger.Error("record expiry", "Error", err)
	}
}

// verdictDue is when the report waiting for the customer's verdict is deemed confirmed; zero when none waits.
func (s *sosCase) verdictDue() time.Time {
	if s.Stage != StageReview || s.verdictAt != nil || s.IsClosed() {
		return time.Time{}
	}
	return s.verdict.Due(s.reportAt)
}

// watchVerdict waits for each report version's verdict: it reminds the customer once the reminder is due
// (sla.Verdict: after 3 natural days) and deems the version confirmed when the window ends without a
// verdict (7 natural days), which lets the partner close. A dispute, a confirmation or the case's end
// cancels both timers; a new version after a dispute starts them again from its own submission.
func (s *sosCase) watchVerdict(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return s.IsClosed() || !s.verdictDue().IsZero() }); err != nil || s.IsClosed() {
			return
		}
		version, due := s.reportVersion, s.verdictDue()
		answered := func() bool { return s.verdictDue().IsZero() || s.reportVersion != version }
		if remind, ok := s.verdict.ReminderAt(s.reportAt); ok {
			if _, err := workflows.AwaitUntil(ctx, remind, fmt.Sprintf("report v%d: remind the customer of its verdict", version), answered); err != nil {
				return
			}
			if !answered() && workflow.Now(ctx).Before(due) {
				s.remindVerdict(ctx, version, due)
			}
		}
		ok, err := workflows.AwaitUntil(ctx, due, fmt.Sprintf("report v%d: deemed confirmed without the customer's verdict", version), answered)
		if err != nil {
			return
		}
		if !ok {
			s.deemConfirmed(ctx, version, due)
		}
	}
}

// remindVerdict tells the customer that report version still waits for their verdict, due by due.
func (s *sosCase) remindVerdict(ctx workflow.Context, version int, due time.Time) {
	defer s.Hold()()
	waited := workflow.Now(ctx).Sub(s.reportAt)
	days := (waited + sla.Day - 1) / sla.Day // whole days, for the customer
	ev := workflows.Tell(s.NewEvent(ctx, workflows.EventReportReminded, workflows.ActorSystem,
		fmt.Sprintf("report v%d has waited %s for the customer's verdict; the customer was reminded it counts as confirmed from %s",
			version, workflows.Span(waited.Truncate(time.Minute)), workflows.When(due))),
		workflows.NoticeReportReminder, "report", activities.ReportTitle, "version", fmt.Sprint(version),
		"days", fmt.Sprint(int(days)), "due", workflows.When(due))
	if err := s.Record(ctx, ev); err != nil {
		s.Logger.Error("record verdict reminder", "Error", err)
	}
}

// deemConfirmed takes report version as confirmed when its window ended at due without a verdict: the
// timeline and the customer say so, and the partner is told to close.
func (s *sosCase) deemConfirmed(ctx workflow.Context, version int, due time.Time) {
	defer s.Hold()()
	now := workflow.Now(ctx)
	s.verdictAt, s.deemed = &now, true
	detail := fmt.Sprintf("no verdict on report v%d within %s (by %s): deemed confirmed; the partner may close the case",
		version, workflows.Span(s.verdict.Window), workflows.When(due))
	ev := workflows.Tell(s.NewEvent(ctx, workflows.EventReportDeemedAccepted, workflows.ActorSystem, detail),
		workflows.NoticeReportDeemedAccepted, "report", activities.ReportTitle, "version", fmt.Sprint(version), "due", workflows.When(due))
	s.process = append(s.process, activities.ReportStep{At: ev.At, Step: ev.Event, Detail: ev.Detail})
	s.Notify(ctx, fmt.Sprintf("report/%d/deemed", version), notifications.SeverityInfo, true, fmt.Sprintf("SOS report v%d deemed confirmed", version),
		fmt.Sprintf("The customer gave no verdict within %s. Close the case with the follow-up: POST /v1/cases/%s/steps/%s.",
			workflows.Span(s.verdict.Window), s.In.CaseID, workflows.StepClose))
	if err := s.Record(ctx, ev); err != nil {
		s.Logger.Error("record deemed confirmation", "Error", err)
	}
}

// slaStatus is the clocks' status; the next deadline is the earlier of the clocks' and the verdict
// window's end, when a report waits for one.
func (s *sosCase) slaStatus(now time.Time) (string, *time.Time) {
	status, next := s.Clocks.Status(now)
	if due := s.verdictDue(); !due.IsZero() && (next == nil || due.Before(*next)) {
		next = &due
	}
	return status, next
}

// stepStage is the stage each partner step after acceptance belongs to.
var stepStage = map[string]string{
	workflows.StepContact: StageConfirmation, StepConfirm: StageConfirmation, workflows.StepContain: StageContainment,
	StepEradicate: StageEradication, StepAnalyze: StageAnalysis, workflows.StepReport: workflows.StageReport,
	workflows.StepClose: StageReview,
}

// validate refuses a step that is out of order, from the wrong sender or malformed, before it touches history.
func (s *sosCase) validate(ctx workflow.Context, in workflows.StepInput) error {
	if err := s.RefuseClosed(); err != nil {
		return err
	}
	switch in.Step {
	case StepAssets:
		if in.Actor != workflows.ActorMarketplace {
			return workflows.Conflictf("the asset list comes from the customer through the marketplace")
		}
		if s.assetsAt != nil {
			return workflows.Conflictf("the asset list was already submitted at %s", workflows.When(*s.assetsAt))
		}
		if due := s.In.PaidAt.Add(sla.AssetWindow); !workflow.Now(ctx).Before(due) || !in.At.Before(due) {
			return workflows.Conflictf("the asset list was due by %s (5 natural days after payment)", workflows.When(due))
		}
		return workflows.DecodeValid[AssetsInput](in.Payload)
	case workflows.StepCancel:
		return workflows.Conflictf("an SOS case cannot be cancelled; refunds follow its SLA clauses")
	case StepReportConfirm, StepReportDispute:
		if in.Actor != workflows.ActorMarketplace {
			return workflows.Conflictf("the report's verdict comes from the customer through the marketplace")
		}
		if s.Stage != StageReview || s.verdictAt != nil {
			return workflows.Conflictf("no report is waiting for the customer's verdict (stage %s)", s.Stage)
		}
		var v VerdictInput
		if err := workflows.StrictJSON(in.Payload, &v); err != nil {
			return workflows.Invalidf("%v", err)
		}
		if err := v.Validate(in.Step == StepReportDispute); err != nil {
			return workflows.Invalidf("%v", err)
		}
		return nil
	case workflows.StepAccept, workflows.StepDecline:
		return s.ValidateOffer(in)
	}
	if err := s.RequirePartner(in); err != nil {
		return err
	}
	want, ok := stepStage[in.Step]
	if !ok {
		return workflows.Conflictf("unknown step %q", in.Step)
	}
	if s.Stage != want {
		return workflows.Conflictf("step %s is for stage %s; the case is in stage %s", in.Step, want, s.Stage)
	}
	switch in.Step {
	case workflows.StepContact:
		if s.contactAt != nil {
			return workflows.Conflictf("the customer was already contacted at %s", workflows.When(*s.contactAt))
		}
		return workflows.DecodeValid[ContactInput](in.Payload)
	case StepConfirm:
		if s.contactAt == nil {
			return workflows.Conflictf("contact the customer first")
		}
		if s.assetsAt == nil {
			return workflows.Conflictf("waiting for the customer's asset list")
		}
		return workflows.DecodeValid[ConfirmInput](in.Payload)
	case workflows.StepContain:
		return workflows.DecodeValid[ContainInput](in.Payload)
	case StepEradicate:
		return workflows.DecodeValid[EradicateInput](in.Payload)
	case StepAnalyze:
		return workflows.DecodeValid[AnalyzeInput](in.Payload)
	case workflows.StepReport:
		return workflows.DecodeValid[ReportInput](in.Payload)
	default: // workflows.StepClose
		if s.verdictAt == nil {
			return workflows.Conflictf("waiting for the customer to confirm the report")
		}
		return workflows.DecodeValid[workflows.CloseInput](in.Payload)
	}
}

// step applies a validated step and answers with the case view once it is recorded. Everything it does
// after recording (the report's rendering and notification) is captured before it yields: other steps
// (a dispute, a newer report) may land while it waits.
func (s *sosCase) step(ctx workflow.Context, in workflows.StepInput) (workflows.CaseView, error) {
	now := workflow.Now(ctx)
	at := workflows.StepInstant(in, now)
	var events []activities.Event
	add := func(name workflows.Event, actor, detail string) {
		events = append(events, s.NewEvent(ctx, name, actor, detail))
	}
	tell := func(f func(activities.Event) activities.Event) { events[len(events)-1] = f(events[len(events)-1]) }
	version := 0 // of the report this step submits
	switch in.Step {
	case StepAssets:
		a := workflows.MustDecode[AssetsInput](in.Payload)
		s.hosts, s.assetsAt = a.Hosts, &at
		handling, err := s.StartClock(ctx, sla.ClauseHandling, sla.Inputs{Hosts: len(a.Hosts)}, at)
		if err != nil {
			return workflows.CaseView{}, err
		}
		add(workflows.EventAssetsSubmitted, workflows.ActorMarketplace, fmt.Sprintf("%d hosts; handling due by %s (%s)", len(a.Hosts),
			workflows.When(handling.DueAt()), workflows.Span(handling.Target)))
	case workflows.StepAccept:
		events = append(events, s.Accept(ctx, in, StageConfirmation, ""))
	case workflows.StepDecline:
		s.Decline(in)
		return s.view(now), nil // the assignment loop records it and offers the next partner
	case workflows.StepContact:
		s.contactAt = &at
		add(workflows.EventCustomerContacted, workflows.ActorPartner, "first contact with the customer; response "+s.Clocks.Complete(sla.ClauseResponse, at, now))
		tell(func(ev activities.Event) activities.Event { return s.Contacted(ev, sla.ClauseResponse) })
	case StepConfirm:
		c := workflows.MustDecode[ConfirmInput](in.Payload)
		s.confirm = &c
		if !*c.SecurityIncident {
			s.EndAs(ctx, StageOutOfScope)
			add(workflows.EventOutOfScope, workflows.ActorPartner, "not a security incident: "+c.Summary+"; the customer is pointed to an ordinary ticket")
			tell(func(ev activities.Event) activities.Event { return workflows.Tell(ev, workflows.NoticeOutOfScope) })
			break
		}
		add(workflows.EventIncidentConfirmed, workflows.ActorPartner, fmt.Sprintf("%s / %s: %s", c.IncidentClass, c.IncidentType, c.Summary))
		tell(func(ev activities.Event) activities.Event {
			return workflows.Tell(ev, workflows.NoticeIncidentConfirmed, "class", sla.ClassTitle(c.IncidentClass), "type", c.IncidentType)
		})
		if c.AttackOngoing {
			s.Stage = StageContainment
		} else {
			s.Stage = StageEradication
			add(workflows.EventContainmentSkipped, workflows.ActorSystem, "no ongoing attack")
		}
	case workflows.StepContain:
		c := workflows.MustDecode[ContainInput](in.Payload)
		s.containment, s.Stage = c.Actions, StageEradication
		add(workflows.EventContained, workflows.ActorPartner, workflows.JoinList(c.Actions))
	case StepEradicate:
		e := workflows.MustDecode[EradicateInput](in.Payload)
		s.eradication, s.eradicatedAt = &e, &now
		add(workflows.EventEradicated, workflows.ActorPartner, fmt.Sprintf("cleaned: %s; malware removed: %t", workflows.JoinList(e.Cleaned), *e.MalwareRemoved))
		s.Stage = StageAnalysis
		if s.In.Spec == sla.SpecHandling {
			s.Stage = workflows.StageReport
		}
	case StepAnalyze:
		an := workflows.MustDecode[AnalyzeInput](in.Payload)
		s.analysis, s.Stage = &an, workflows.StageReport
		detail := "cause: " + an.Cause
		if an.Undetermined {
			detail = "cause could not be determined"
		}
		add(workflows.EventCauseAnalyzed, workflows.ActorPartner, detail)
	case workflows.StepReport:
		r := workflows.MustDecode[ReportInput](in.Payload)
		s.reportVersion++
		s.report, s.Stage, version, s.reportAt = &r, StageReview, s.reportVersion, at
		detail := fmt.Sprintf("report v%d submitted", version)
		if version == 1 {
			detail += "; handling " + s.Clocks.Complete(sla.ClauseHandling, at, now)
		}
		add(workflows.EventReportSubmitted, workflows.ActorPartner, detail)
		tell(func(ev activities.Event) activities.Event {
			return workflows.Tell(ev, workflows.NoticeReportReady, "report", activities.ReportTitle, "version", fmt.Sprint(version))
		})
	case StepReportConfirm:
		v := workflows.MustDecode[VerdictInput](in.Payload)
		s.verdictAt, s.rating, s.Rating = &now, v.Rating, v.Rating
		add(workflows.EventReportConfirmed, workflows.ActorMarketplace, fmt.Sprintf("report v%d confirmed; partner rating %d", s.reportVersion, v.Rating))
	case StepReportDispute:
		v := workflows.MustDecode[VerdictInput](in.Payload)
		s.Stage = workflows.StageReport
		add(workflows.EventReportDisputed, workflows.ActorMarketplace, fmt.Sprintf("report v%d disputed: %s", s.reportVersion, v.Comment))
	case workflows.StepClose:
		c := workflows.MustDecode[workflows.CloseInput](in.Payload)
		s.EndAs(ctx, workflows.StageClosed)
		add(workflows.EventCaseClosed, workflows.ActorPartner, "follow-up: "+c.FollowUp+workflows.Until(c.FollowUpUntil))
		tell(func(ev activities.Event) activities.Event {
			return workflows.Tell(ev, workflows.NoticeCaseClosed, "follow_up", c.FollowUp, "until", c.FollowUpUntil)
		})
	}
	for _, e := range events {
		s.process = append(s.process, activities.ReportStep{At: e.At, Step: e.Event, Detail: e.Detail})
	}
	var breaches []activities.Event
	var refunds []activities.RefundRow
	switch {
	case in.Step == StepEradicate && !*s.eradication.MalwareRemoved:
		breaches, refunds = s.MissOutcome(ctx, sla.ClauseEffect, "malware could not be removed")
	case in.Step == workflows.StepContact || version == 1:
		breaches, refunds = s.LateBreaches(ctx, now)
	}
	if version > 0 {
		// Rendered before the record, so that the notice the record sends finds the report stored.
		var a *activities.Activities
		if err := workflows.RunLocal(ctx, time.Minute, fmt.Sprintf("render report v%d", version), a.RenderReport, s.reportInput(version, now), nil); err != nil {
			return workflows.CaseView{}, err
		}
		s.Send(s.reportNotice(version))
	}
	if err := s.RecordWith(ctx, append(events, breaches...), refunds); err != nil {
		return workflows.CaseView{}, err
	}
	return s.view(now), nil
}

// reportInput is what report version v renders from: the case as it is at now.
func (s *sosCase) reportInput(v int, now time.Time) activities.ReportInput {
	in := activities.ReportInput{
		Key: fmt.Sprintf("%s/report/%d", s.In.CaseID, v), CaseID: s.In.CaseID, OrderID: s.In.OrderID,
		CustomerID: s.In.CustomerID, PartnerID: s.PartnerID, PartnerName: s.PartnerName, Spec: s.In.Spec,
		Version: v, GeneratedAt: now, Process: s.process, Containment: s.containment,
		RefundPercent: s.Refund.Percent, RefundAmountCents: s.Refund.AmountCents, Currency: s.In.Currency,
	}
	for _, h := range s.hosts {
		in.Hosts = append(in.Hosts, activities.ReportHost{InstanceID: h.InstanceID, IP: h.IP, OS: h.OS})
	}
	if s.confirm != nil {
		in.Symptoms, in.IncidentClass, in.IncidentType = s.confirm.Summary, s.confirm.IncidentClass, s.confirm.IncidentType
	}
	if s.eradication != nil {
		in.Cleaned, in.MalwareRemoved = s.eradication.Cleaned, *s.eradication.MalwareRemoved
	}
	if s.analysis != nil {
		in.Cause, in.CauseUndetermined = s.analysis.Cause, s.analysis.Undetermined
	}
	if s.report != nil {
		in.Summary, in.Recommendations = s.report.Summary, s.report.Recommendations
	}
	for _, e := range s.view(now).SLA {
		if e.Clause == ClauseVerdict {
			continue // the report's own verdict is no part of it
		}
		in.SLA = append(in.SLA, activities.ReportSLA{Clause: e.Clause, DueAt: e.DueAt, CompletedAt: e.CompletedAt, Breached: e.Breached, RefundPercent: e.RefundPercent})
	}
	return in
}

// reportNotice is the notification that report version v waits for the customer's verdict, as the case
// is now. It is the message Case.Notify sends, built whole here because it goes out only after the
// report has rendered, by when the case may have moved on.
func (s *sosCase) reportNotice(v int) activities.NotifyInput {
	return activities.NotifyInput{Message: notifications.Message{
		Key: fmt.Sprintf("%s/report/%d", s.In.CaseID, v), CaseID: s.In.CaseID, WorkflowID: s.In.CaseID, Service: s.In.Service,
		Severity: notifications.SeverityInfo, Title: fmt.Sprintf("SOS report v%d submitted", v), Text: "The report waits for the customer's verdict.",
		Fields: []notifications.Field{{Name: "Stage", Value: s.Stage}, {Name: "Partner", Value: workflows.OrDash(s.PartnerID)}, {Name: "Order", Value: s.In.OrderID}},
	}}
}

// expect is the step the case waits for and from whom, for the Web UI.
func (s *sosCase) expect() string {
	p := "partner " + s.PartnerID + ": "
	switch s.Stage {
	case StageConfirmation:
		switch {
		case s.contactAt == nil:
			return p + "contact the customer (" + workflows.StepContact + "), which meets the response clock"
		case s.assetsAt == nil:
			return "customer, through the marketplace: the asset list (" + StepAssets + ") by " + workflows.When(s.In.PaidAt.Add(sla.AssetWindow))
		}
		return p + "confirm and classify the incident (" + StepConfirm + ")"
	case StageContainment:
		return p + "contain the attack (" + workflows.StepContain + ")"
	case StageEradication:
		return p + "remove malware, webshells and backdoors (" + StepEradicate + ")"
	case StageAnalysis:
		return p + "the root-cause analysis (" + StepAnalyze + ")"
	case workflows.StageReport:
		return p + "the incident report (" + workflows.StepReport + "), which meets the handling clock"
	case StageReview:
		if s.verdictAt == nil {
			return "customer, through the marketplace: confirm or dispute the report (" + StepReportConfirm + ", " + StepReportDispute +
				"); deemed confirmed at " + workflows.When(s.verdictDue())
		}
		return p + "close the case with the follow-up (" + workflows.StepClose + ")"
	}
	return ""
}

// view is the case view: the clocks' entries, and the effect clause once eradication has reported.
func (s *sosCase) view(now time.Time) workflows.CaseView {
	v := s.BaseView(now, nil)
	// The customer's window for the asset list: a date, not a promise of the provider's.
	due := s.In.PaidAt.Add(sla.AssetWindow)
	assets := workflows.Judge(workflows.SLAEntry{Clause: sla.ClauseAssets, DueAt: &due, CompletedAt: s.assetsAt}, false, now)
	if s.assetsAt == nil && s.IsClosed() {
		assets.Status, assets.Margin = workflows.SLAStopped, ""
	}
	v.SLA = append([]workflows.SLAEntry{assets}, v.SLA...)
	if s.reportVersion > 0 && (s.Stage == StageReview || s.verdictAt != nil) {
		due := s.verdict.Due(s.reportAt)
		e := workflows.Judge(workflows.SLAEntry{Clause: ClauseVerdict, DueAt: &due, CompletedAt: s.verdictAt}, false, now)
		if s.deemed {
			e.Margin = "deemed confirmed at the window's end"
		} else if s.verdictAt == nil && s.IsClosed() {
			e.Status, e.Margin = workflows.SLAStopped, ""
		}
		v.SLA = append(v.SLA, e)
	}
	if s.eradication != nil {
		e := workflows.SLAEntry{Clause: sla.ClauseEffect, CompletedAt: s.eradicatedAt, Status: workflows.SLAMet}
		if !*s.eradication.MalwareRemoved {
			e.Status, e.Breached = workflows.SLABreached, true
			e.RefundPercent, _ = sla.ClausePercent(s.In.Service, sla.ClauseEffect)
		}
		v.SLA = append(v.SLA, e)
	}
	return v
}
