package workflows

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
)

// SOS specs (服务规格).
const (
	SpecHandling       = "handling"
	SpecAnalysisRemote = "analysis_remote"
	SpecAnalysisOnsite = "analysis_onsite"
)

// SOSSpecs lists the SOS specs.
var SOSSpecs = []string{SpecHandling, SpecAnalysisRemote, SpecAnalysisOnsite}

// SOS stages.
const (
	StageAssignment   = "assignment"
	StageConfirmation = "confirmation"
	StageContainment  = "containment"
	StageEradication  = "eradication"
	StageAnalysis     = "analysis"
	StageReport       = "report"
	StageReview       = "review"
	StageClosed       = "closed"
	StageOutOfScope   = "out_of_scope"
	StageExpired      = "expired"
)

// SOS steps. StepAssets comes from the marketplace; the others from the assigned partner's engineers.
const (
	StepAssets    = "assets"
	StepAccept    = "accept"
	StepContact   = "contact"
	StepConfirm   = "confirm"
	StepContain   = "contain"
	StepEradicate = "eradicate"
	StepAnalyze   = "analyze"
	StepReport    = "report"
	StepClose     = "close"
)

// SOSSteps lists the steps partner engineers send to an SOS case.
var SOSSteps = []string{StepAccept, StepDecline, StepContact, StepConfirm, StepContain, StepEradicate, StepAnalyze, StepReport, StepClose}

// AssetWindow is how long after payment the customer may submit the asset list (5 natural days).
const AssetWindow = 5 * 24 * time.Hour

// MaxHosts bounds one asset list.
const MaxHosts = 1000

// Host is one ECS host in the asset list (排查对象).
type Host struct {
	InstanceID string `json:"instance_id"`
	IP         string `json:"ip"`
	OS         string `json:"os"`
}

// AssetsInput is the customer's asset list, the payload of StepAssets.
type AssetsInput struct {
	Hosts []Host `json:"hosts"`
}

// Validate checks the asset list's fields.
func (a AssetsInput) Validate() error {
	if len(a.Hosts) == 0 {
		return errors.New("hosts: at least one host is required")
	}
	if len(a.Hosts) > MaxHosts {
		return fmt.Errorf("hosts: at most %d hosts", MaxHosts)
	}
	seen := make(map[string]bool, len(a.Hosts))
	for i, h := range a.Hosts {
		if h.InstanceID == "" {
			return fmt.Errorf("hosts[%d].instance_id: required", i)
		}
		if len(h.InstanceID) > 128 || len(h.OS) > 128 {
			return fmt.Errorf("hosts[%d]: instance_id and os are at most 128 characters", i)
		}
		if seen[h.InstanceID] {
			return fmt.Errorf("hosts[%d].instance_id: %q listed twice", i, h.InstanceID)
		}
		seen[h.InstanceID] = true
		if _, err := netip.ParseAddr(h.IP); err != nil {
			return fmt.Errorf("hosts[%d].ip: %q is not an IP address", i, h.IP)
		}
	}
	return nil
}

// SOS SLA clauses (sla's clause table holds their targets).
const (
	ClauseResponse = "response"
	ClauseHandling = "handling"
	ClauseEffect   = "effect"
)

// SOSResult is how an SOS case ended.
type SOSResult struct {
	CaseID    string     `json:"case_id"`
	Stage     string     `json:"stage"`
	PartnerID string     `json:"partner_id,omitempty"`
	Refund    Refund     `json:"refund"`
	SLA       []SLAEntry `json:"sla"`
}

// SOSWorkflow runs one incident-response case (SPEC.md "Incident response (SOS)"): the asset window,
// partner assignment, the steps partners send as updates, the SLA clocks and the refunds they owe.
func SOSWorkflow(ctx workflow.Context, in CaseInput) (SOSResult, error) {
	s := &sosCase{caseCore: caseCore{in: in, label: "SOS", needOnsite: in.Spec == SpecAnalysisOnsite}}
	s.slaFn = s.slaStatus
	if err := s.setup(ctx); err != nil {
		return SOSResult{}, err
	}
	return s.run(ctx)
}

type sosCase struct {
	caseCore

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
	verdictAt     *time.Time
	rating        int
	process       []activities.ReportStep

	clocks   []sla.Clock
	clockRev int
	warned   []string
	breached []string
}

func (s *sosCase) setup(ctx workflow.Context) error {
	if err := ValidateCaseInput(s.in); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), RejectInvalid, nil)
	}
	if s.in.AcceptTimeout <= 0 {
		s.in.AcceptTimeout = DefaultAcceptTimeout
	}
	s.logger = log.With(workflow.GetLogger(ctx), "CaseID", s.in.CaseID, "Service", s.in.Service)
	s.stage, s.status, s.opened = StageAssignment, StatusOpen, workflow.Now(ctx)
	if err := workflow.SetQueryHandler(ctx, QueryCaseView, func() (CaseView, error) { return s.view(workflow.Now(ctx)), nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateStep, s.step, workflow.UpdateHandlerOptions{Validator: s.validateStep})
}

func (s *sosCase) run(ctx workflow.Context) (SOSResult, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	// The response clock counts from payment, however late the callback arrived.
	response, err := startClock(ctx, ServiceSOS, ClauseResponse, sla.Inputs{}, s.in.PaidAt)
	if err != nil {
		return SOSResult{}, err
	}
	s.clocks = append(s.clocks, response)
	if err := s.record(ctx, s.event(ctx, "opened", ActorMarketplace, fmt.Sprintf(
		"order %s paid at %s; spec %s; asset list due within 5 natural days; first contact due by %s (20 business minutes)",
		s.in.OrderID, s.in.PaidAt.Format(time.RFC3339), s.in.Spec, response.DueAt().Format(time.RFC3339)))); err != nil {
		return SOSResult{}, err
	}
	workflow.Go(ctx, s.watchClocks)
	workflow.Go(ctx, s.watchAssetWindow)
	if err := s.assign(ctx); err != nil {
		return SOSResult{}, err
	}
	if err := workflow.Await(ctx, func() bool { return s.status == StatusClosed }); err != nil {
		return SOSResult{}, err
	}
	// Let updates and notifications in flight finish before the case's history ends.
	if err := s.finish(ctx); err != nil {
		return SOSResult{}, err
	}
	v := s.view(workflow.Now(ctx))
	return SOSResult{CaseID: s.in.CaseID, Stage: s.stage, PartnerID: s.partnerID, Refund: s.refund, SLA: v.SLA}, nil
}

// watchAssetWindow closes the case as expired when no asset list arrives within 5 natural days of payment.
func (s *sosCase) watchAssetWindow(ctx workflow.Context) {
	due := s.in.PaidAt.Add(AssetWindow)
	if _, err := s.awaitUntil(ctx, due, "asset list window (5 natural days from payment)", func() bool {
		return s.assetsAt != nil || s.status == StatusClosed
	}); err != nil || s.assetsAt != nil || s.status == StatusClosed {
		return
	}
	s.pending++ // the case must not end before its expiry is recorded
	defer func() { s.pending-- }()
	s.close(ctx, StageExpired)
	ev := s.event(ctx, "expired", ActorSystem, "no asset list within 5 natural days of payment ("+due.Format(time.RFC3339)+"); the customer needs a new purchase")
	if err := s.record(ctx, ev); err != nil {
		s.logger.Error("record expiry", "Error", err)
	}
	s.notify(ctx, "expired", notifications.SeverityWarning, false, "SOS case expired: no asset list",
		"The customer did not submit the asset list within 5 natural days of payment; the case is closed. Tell the customer a new purchase is needed.")
}

// validateStep refuses a step that is out of order, from the wrong sender or malformed, before it
// touches history.
func (s *sosCase) validateStep(ctx workflow.Context, in StepInput) error {
	if s.status == StatusClosed {
		return conflictf("the case is closed (stage %s)", s.stage)
	}
	switch in.Step {
	case StepAssets:
		if in.Actor != ActorMarketplace {
			return conflictf("the asset list comes from the customer through the marketplace")
		}
		if s.assetsAt != nil {
			return conflictf("the asset list was already submitted at %s", s.assetsAt.Format(time.RFC3339))
		}
		if due := s.in.PaidAt.Add(AssetWindow); !workflow.Now(ctx).Before(due) || !in.At.Before(due) {
			return conflictf("the asset list was due by %s (5 natural days after payment)", due.Format(time.RFC3339))
		}
		return decodeValid[AssetsInput](in.Payload)
	case StepCancel:
		return conflictf("an SOS case cannot be cancelled; refunds follow its SLA clauses")
	case StepReportConfirm, StepReportDispute:
		if in.Actor != ActorMarketplace {
			return conflictf("the report's verdict comes from the customer through the marketplace")
		}
		if s.stage != StageReview || s.verdictAt != nil {
			return conflictf("no report is waiting for the customer's verdict (stage %s)", s.stage)
		}
		var v VerdictInput
		if err := strictJSON(in.Payload, &v); err != nil {
			return invalidf("%v", err)
		}
		if err := v.Validate(in.Step == StepReportDispute); err != nil {
			return invalidf("%v", err)
		}
		return nil
	}
	if in.Step == StepAccept || in.Step == StepDecline {
		if in.Actor != ActorPartner {
			return conflictf("step %q is a partner engineer's", in.Step)
		}
		return s.validateOffer(in)
	}
	if err := s.requirePartner(in); err != nil {
		return err
	}
	want := map[string]string{
		StepContact: StageConfirmation, StepConfirm: StageConfirmation, StepContain: StageContainment,
		StepEradicate: StageEradication, StepAnalyze: StageAnalysis, StepReport: StageReport, StepClose: StageReview,
	}[in.Step]
	if want == "" {
		return conflictf("unknown step %q", in.Step)
	}
	if s.stage != want {
		return conflictf("step %s is for stage %s; the case is in stage %s", in.Step, want, s.stage)
	}
	switch in.Step {
	case StepContact:
		if s.contactAt != nil {
			return conflictf("the customer was already contacted at %s", s.contactAt.Format(time.RFC3339))
		}
		return decodeValid[ContactInput](in.Payload)
	case StepConfirm:
		if s.contactAt == nil {
			return conflictf("contact the customer first")
		}
		if s.assetsAt == nil {
			return conflictf("waiting for the customer's asset list")
		}
		return decodeValid[ConfirmInput](in.Payload)
	case StepContain:
		return decodeValid[ContainInput](in.Payload)
	case StepEradicate:
		return decodeValid[EradicateInput](in.Payload)
	case StepAnalyze:
		return decodeValid[AnalyzeInput](in.Payload)
	case StepReport:
		return decodeValid[ReportInput](in.Payload)
	case StepClose:
		if s.verdictAt == nil {
			return conflictf("waiting for the customer to confirm the report")
		}
		return decodeValid[CloseInput](in.Payload)
	}
	return nil
}

// step applies a validated step and answers with the case view once it is recorded.
func (s *sosCase) step(ctx workflow.Context, in StepInput) (CaseView, error) {
	now := workflow.Now(ctx)
	at := stepInstant(in, now)
	var events []activities.Event
	add := func(event, actor, detail string) { events = append(events, s.event(ctx, event, actor, detail)) }
	switch in.Step {
	case StepAssets:
		a := mustDecode[AssetsInput](in.Payload)
		s.hosts, s.assetsAt = a.Hosts, &at
		handling, err := startClock(ctx, ServiceSOS, ClauseHandling, sla.Inputs{Hosts: len(a.Hosts)}, at)
		if err != nil {
			return CaseView{}, err
		}
		s.addClock(handling)
		add("assets_submitted", ActorMarketplace, fmt.Sprintf("%d hosts; handling due by %s (%s)", len(a.Hosts),
			handling.DueAt().Format(time.RFC3339), handling.Target))
	case StepAccept:
		s.accepted, s.answer, s.stage = true, StepAccept, StageConfirmation
		add("partner_accepted", ActorPartner, s.partnerID+" accepted ("+in.ActorName+")")
	case StepDecline:
		s.answer, s.declineReason = StepDecline, mustDecode[DeclineInput](in.Payload).Reason
		return s.view(now), nil // the assignment loop records it and offers the next partner
	case StepContact:
		s.contactAt = &at
		met := s.completeClock(ClauseResponse, at)
		add("contacted", ActorPartner, "first contact with the customer; response "+met)
	case StepConfirm:
		c := mustDecode[ConfirmInput](in.Payload)
		s.confirm = &c
		if !*c.SecurityIncident {
			s.close(ctx, StageOutOfScope)
			add("out_of_scope", ActorPartner, "not a security incident: "+c.Summary+"; the customer is pointed to an ordinary ticket")
			break
		}
		add("confirmed", ActorPartner, fmt.Sprintf("%s / %s: %s", c.IncidentClass, c.IncidentType, c.Summary))
		if c.AttackOngoing {
			s.stage = StageContainment
		} else {
			s.stage = StageEradication
			add("containment_skipped", ActorSystem, "no ongoing attack")
		}
	case StepContain:
		c := mustDecode[ContainInput](in.Payload)
		s.containment, s.stage = c.Actions, StageEradication
		add("contained", ActorPartner, joinList(c.Actions))
	case StepEradicate:
		e := mustDecode[EradicateInput](in.Payload)
		s.eradication, s.eradicatedAt = &e, &now
		add("eradicated", ActorPartner, fmt.Sprintf("cleaned: %s; malware removed: %t", joinList(e.Cleaned), *e.MalwareRemoved))
		if s.in.Spec == SpecHandling {
			s.stage = StageReport
		} else {
			s.stage = StageAnalysis
		}
	case StepAnalyze:
		an := mustDecode[AnalyzeInput](in.Payload)
		s.analysis, s.stage = &an, StageReport
		detail := "cause: " + an.Cause
		if an.Undetermined {
			detail = "cause could not be determined"
		}
		add("analyzed", ActorPartner, detail)
	case StepReport:
		r := mustDecode[ReportInput](in.Payload)
		s.report, s.stage = &r, StageReview
		s.reportVersion++
		detail := fmt.Sprintf("report v%d submitted", s.reportVersion)
		if s.reportVersion == 1 {
			detail += "; handling " + s.completeClock(ClauseHandling, at)
		}
		add("report_submitted", ActorPartner, detail)
	case StepReportConfirm:
		v := mustDecode[VerdictInput](in.Payload)
		s.verdictAt, s.rating = &now, v.Rating
		add("customer_confirmed", ActorMarketplace, fmt.Sprintf("report v%d confirmed; partner rating %d", s.reportVersion, v.Rating))
	case StepReportDispute:
		v := mustDecode[VerdictInput](in.Payload)
		s.stage = StageReport
		add("customer_disputed", ActorMarketplace, fmt.Sprintf("report v%d disputed: %s", s.reportVersion, v.Comment))
	case StepClose:
		c := mustDecode[CloseInput](in.Payload)
		s.close(ctx, StageClosed)
		add("closed", ActorPartner, "follow-up: "+c.FollowUp)
	}
	for _, e := range events {
		s.process = append(s.process, activities.ReportStep{At: e.At, Step: e.Event, Detail: e.Detail})
	}
	var refunds []activities.RefundRow
	if in.Step == StepEradicate && !*s.eradication.MalwareRemoved {
		ev, r := s.breach(ctx, ClauseEffect, now, "malware could not be removed")
		events, refunds = append(events, ev), r
	}
	if in.Step == StepContact || (in.Step == StepReport && s.reportVersion == 1) {
		for _, c := range s.clocks {
			if c.Status(now) == sla.StatusBreached && !slices.Contains(s.breached, c.Clause) {
				ev, r := s.breach(ctx, c.Clause, now, "completed after its due time")
				events, refunds = append(events, ev), append(refunds, r...)
			}
		}
	}
	var report activities.ReportInput
	if in.Step == StepReport {
		report = s.reportInput(now) // captured now: another version may arrive while this one records
	}
	if err := s.recordWith(ctx, events, refunds); err != nil {
		return CaseView{}, err
	}
	if in.Step == StepReport {
		if err := s.renderReport(ctx, report); err != nil {
			return CaseView{}, err
		}
		s.notify(ctx, fmt.Sprintf("report/%d", s.reportVersion), notifications.SeverityInfo, false,
			fmt.Sprintf("SOS report v%d submitted", s.reportVersion), "The report waits for the customer's verdict.")
	}
	if in.Step == StepEradicate && !*s.eradication.MalwareRemoved {
		s.notifyBreach(ctx, ClauseEffect)
	}
	return s.view(now), nil
}

// maxStepDelay bounds how far before its processing a step's receipt time may count: a step that waited in
// the task backlog counts from when the API received it, but an API clock far behind counts for nothing.
const maxStepDelay = 2 * time.Minute

// stepInstant is the contract instant of a step: when the API received it, within maxStepDelay of now.
func stepInstant(in StepInput, now time.Time) time.Time {
	if in.At.IsZero() || in.At.After(now) || now.Sub(in.At) > maxStepDelay {
		return now
	}
	return in.At
}

// close ends the case in stage; clocks still running stop counting.
func (s *sosCase) close(ctx workflow.Context, stage string) {
	now := workflow.Now(ctx)
	for i := range s.clocks {
		if s.clocks[i].State != sla.ClockCompleted {
			_ = s.clocks[i].Complete(now) // a clock not completed can always complete at now
		}
	}
	s.stage, s.status, s.closed = stage, StatusClosed, &now
	s.clockRev++
}

func (s *sosCase) addClock(c sla.Clock) {
	s.clocks = append(s.clocks, c)
	s.clockRev++
}

// completeClock stops a clause's clock at now and says whether it was met.
func (s *sosCase) completeClock(clause string, now time.Time) string {
	for i := range s.clocks {
		c := &s.clocks[i]
		if c.Clause != clause || c.State == sla.ClockCompleted {
			continue
		}
		at := now
		if last := lastChange(*c); at.Before(last) {
			at = last // a step that beat a future paid_at (clock skew) completes the clock at its start
		}
		if err := c.Complete(at); err != nil {
			s.logger.Error("complete clock", "Clause", clause, "Error", err)
			return "not counted (" + err.Error() + ")"
		}
		s.clockRev++
		if c.Status(now) == sla.StatusBreached {
			return "late (due " + c.DueAt().Format(time.RFC3339) + ")"
		}
		return "met (due " + c.DueAt().Format(time.RFC3339) + ")"
	}
	return "not counted"
}

// lastChange is the instant a clock last started, resumed or paused.
func lastChange(c sla.Clock) time.Time {
	switch {
	case c.PausedAt != nil:
		return *c.PausedAt
	case c.State == sla.ClockRunning:
		return c.RunFrom
	}
	return c.StartedAt
}

// watchClocks wakes at each clock's next warning or due instant and turns it into a warning or a breach.
func (s *sosCase) watchClocks(ctx workflow.Context) {
	for s.status != StatusClosed {
		now := workflow.Now(ctx)
		s.pending++ // the case must not end while a warning or breach is being recorded
		s.evaluateClocks(ctx, now)
		s.pending--
		now = workflow.Now(ctx) // recording took time; the next timer counts from now
		rev := s.clockRev
		changed := func() bool { return s.status == StatusClosed || s.clockRev != rev }
		next, clause, ok := s.nextClockEvent(now)
		var err error
		if !ok {
			err = workflow.Await(ctx, changed)
		} else {
			summary := fmt.Sprintf("%s clock: %s", clause, next.Kind)
			if next.Kind == sla.EventWarning {
				summary = fmt.Sprintf("%s clock: %.0f%% warning", clause, next.Threshold*100)
			}
			_, err = s.awaitFor(ctx, next.At.Sub(now), summary, changed)
		}
		if err != nil {
			return
		}
	}
}

func (s *sosCase) nextClockEvent(now time.Time) (sla.Event, string, bool) {
	var best sla.Event
	var clause string
	found := false
	for _, c := range s.clocks {
		if e, ok := c.NextEvent(now); ok && (!found || e.At.Before(best.At)) {
			best, clause, found = e, c.Clause, true
		}
	}
	return best, clause, found
}

// evaluateClocks records each warning and breach that has come due, once.
func (s *sosCase) evaluateClocks(ctx workflow.Context, now time.Time) {
	for i := range s.clocks {
		c := s.clocks[i] // re-read on each turn: recording a warning or breach waits, and a step may complete the clock meanwhile
		if c.State != sla.ClockRunning {
			continue
		}
		if c.Status(now) == sla.StatusBreached {
			if slices.Contains(s.breached, c.Clause) {
				continue
			}
			ev, refunds := s.breach(ctx, c.Clause, now, "not met by "+c.DueAt().Format(time.RFC3339))
			if err := s.recordWith(ctx, []activities.Event{ev}, refunds); err != nil {
				s.logger.Error("record breach", "Clause", c.Clause, "Error", err)
			}
			s.notifyBreach(ctx, c.Clause)
			continue
		}
		elapsed := c.Target - c.Remaining(now)
		for _, th := range c.Thresholds {
			if s.clocks[i].State != sla.ClockRunning {
				break // completed while the previous warning was being recorded
			}
			key := fmt.Sprintf("%s@%.0f", c.Clause, th*100)
			if slices.Contains(s.warned, key) || elapsed < time.Duration(math.Round(th*float64(c.Target))) {
				continue
			}
			s.warned = append(s.warned, key)
			detail := fmt.Sprintf("%s clock %.0f%% elapsed; due %s", c.Clause, th*100, c.DueAt().Format(time.RFC3339))
			if err := s.record(ctx, s.event(ctx, "sla_at_risk", ActorSystem, detail)); err != nil {
				s.logger.Error("record warning", "Clause", c.Clause, "Error", err)
			}
			s.notify(ctx, "warn/"+key, notifications.SeverityWarning, true, fmt.Sprintf("SOS %s clock at %.0f%%", c.Clause, th*100), detail)
		}
	}
}

// breach marks a clause breached and computes the refund it adds: the clause's percentage, cumulative
// over the case and capped at 100% of the order amount.
func (s *sosCase) breach(ctx workflow.Context, clause string, now time.Time, why string) (activities.Event, []activities.RefundRow) {
	before := s.refund
	s.breached = append(s.breached, clause)
	r, err := sla.Compensate(s.in.Service, s.breached, s.in.AmountCents)
	if err != nil {
		s.logger.Error("compensation", "Clause", clause, "Error", err)
	} else {
		s.refund = Refund{Percent: r.Percent, AmountCents: r.AmountCents}
	}
	s.clockRev++
	detail := fmt.Sprintf("%s clause breached: %s; refund now %d%% (%d cents)", clause, why, s.refund.Percent, s.refund.AmountCents)
	ev := s.event(ctx, "sla_breached", ActorSystem, detail)
	ev.Key = s.in.CaseID + "/breach/" + clause
	var rows []activities.RefundRow
	if add := s.refund.Percent - before.Percent; add > 0 {
		rows = append(rows, activities.RefundRow{
			Key: s.in.CaseID + "/refund/" + clause, Clause: clause, Percent: add, AmountCents: s.refund.AmountCents - before.AmountCents,
			Reason: detail, At: now,
		})
	}
	return ev, rows
}

func (s *sosCase) notifyBreach(ctx workflow.Context, clause string) {
	s.notify(ctx, "breach/"+clause, notifications.SeverityCritical, true, "SOS "+clause+" clause breached",
		fmt.Sprintf("Refund owed now %d%% of the order (%d cents).", s.refund.Percent, s.refund.AmountCents))
}

func (s *sosCase) reportInput(now time.Time) activities.ReportInput {
	in := activities.ReportInput{
		Key: fmt.Sprintf("%s/report/%d", s.in.CaseID, s.reportVersion), CaseID: s.in.CaseID, OrderID: s.in.OrderID,
		CustomerID: s.in.CustomerID, PartnerID: s.partnerID, PartnerName: s.partnerName, Spec: s.in.Spec,
		Version: s.reportVersion, GeneratedAt: now, Process: s.process, Containment: s.containment,
		RefundPercent: s.refund.Percent, RefundAmountCents: s.refund.AmountCents, Currency: s.in.Currency,
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
		in.SLA = append(in.SLA, activities.ReportSLA{Clause: e.Clause, DueAt: e.DueAt, CompletedAt: e.CompletedAt, Breached: e.Breached, RefundPercent: e.RefundPercent})
	}
	return in
}

func (s *sosCase) renderReport(ctx workflow.Context, in activities.ReportInput) error {
	var a *activities.Activities
	return s.runLocal(ctx, time.Minute, fmt.Sprintf("render report v%d", in.Version), a.RenderReport, in, nil)
}

func (s *sosCase) view(now time.Time) CaseView {
	v := CaseView{
		CaseID: s.in.CaseID, WorkflowID: s.in.CaseID, Service: s.in.Service, Spec: s.in.Spec,
		Stage: s.stage, Status: s.status, PartnerID: s.partnerID, CustomerID: s.in.CustomerID, OrderID: s.in.OrderID,
		AmountCents: s.in.AmountCents, Currency: s.in.Currency, PaidAt: s.in.PaidAt,
		SLA: []SLAEntry{}, Refund: s.refund, Timeline: []TimelineEntry{},
	}
	for _, c := range s.clocks {
		e := SLAEntry{Clause: c.Clause, CompletedAt: c.CompletedAt, Status: c.Status(now)}
		if due := c.DueAt(); !due.IsZero() {
			e.DueAt = &due
		}
		e.Breached = e.Status == sla.StatusBreached
		if e.Breached {
			e.RefundPercent, _ = sla.ClausePercent(s.in.Service, c.Clause)
		}
		v.SLA = append(v.SLA, e)
	}
	if s.eradication != nil {
		e := SLAEntry{Clause: ClauseEffect, CompletedAt: s.eradicatedAt, Status: SLAOnTrack}
		if !*s.eradication.MalwareRemoved {
			e.Status, e.Breached = SLABreached, true
			e.RefundPercent, _ = sla.ClausePercent(s.in.Service, ClauseEffect)
		}
		v.SLA = append(v.SLA, e)
	}
	return v
}

// slaStatus is the worst status over the case's clauses, and the next deadline of a running clock.
func (s *sosCase) slaStatus(now time.Time) (string, *time.Time) {
	return worstStatus(s.clocks, len(s.breached) > 0, now)
}
