package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
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
var SOSSteps = []string{StepAccept, StepContact, StepConfirm, StepContain, StepEradicate, StepAnalyze, StepReport, StepClose}

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

// SOSResult is how an SOS case ended.
type SOSResult struct {
	CaseID string `json:"case_id"`
	Stage  string `json:"stage"`
	Refund Refund `json:"refund"`
}

// SOSWorkflow runs one incident-response case (SPEC.md "Incident response (SOS)").
func SOSWorkflow(ctx workflow.Context, in CaseInput) (SOSResult, error) {
	s := &sosCase{in: in}
	if err := s.setup(ctx); err != nil {
		return SOSResult{}, err
	}
	return s.run(ctx)
}

type sosCase struct {
	in       CaseInput
	logger   log.Logger
	stage    string
	status   string
	hosts    []Host
	assetsAt *time.Time
	closedAt *time.Time
	refund   Refund
	sla      []SLAEntry
	opened   time.Time
}

func (s *sosCase) setup(ctx workflow.Context) error {
	if err := ValidateCaseInput(s.in); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), RejectInvalid, nil)
	}
	s.logger = log.With(workflow.GetLogger(ctx), "CaseID", s.in.CaseID, "Service", s.in.Service)
	s.stage = StageAssignment
	s.status = StatusOpen
	s.opened = workflow.Now(ctx)
	if err := workflow.SetQueryHandler(ctx, QueryCaseView, func() (CaseView, error) { return s.view(), nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateStep, s.step, workflow.UpdateHandlerOptions{Validator: s.validateStep})
}

func (s *sosCase) run(ctx workflow.Context) (SOSResult, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	if err := s.record(ctx, event("opened", s.in.PaidAt, ActorMarketplace,
		fmt.Sprintf("order %s paid; spec %s; asset list due within 5 days", s.in.OrderID, s.in.Spec))); err != nil {
		return SOSResult{}, err
	}

	// The asset window counts from payment, however late the callback arrived.
	assetsDue := s.in.PaidAt.Add(AssetWindow)
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**Stage** %s · waiting for the asset list until %s", s.stage, assetsDue.Format(time.RFC3339)))
	ok, err := awaitUntil(ctx, assetsDue, "asset list window (5 natural days from payment)", func() bool { return s.assetsAt != nil })
	if err != nil {
		return SOSResult{}, err
	}
	if !ok {
		now := workflow.Now(ctx)
		s.stage, s.status, s.closedAt = StageExpired, StatusClosed, &now
		if err := s.record(ctx, event("expired", now, ActorSystem, "no asset list within 5 natural days of payment")); err != nil {
			return SOSResult{}, err
		}
		s.notify(ctx, "expired", notifications.SeverityWarning, "SOS case expired: no asset list",
			"The customer did not submit the asset list within 5 natural days of payment; the case is closed.")
		return s.result(ctx)
	}
	if err := s.record(ctx, event("assets_submitted", *s.assetsAt, ActorMarketplace, fmt.Sprintf("%d hosts", len(s.hosts)))); err != nil {
		return SOSResult{}, err
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**Stage** %s · %d hosts · waiting for a partner", s.stage, len(s.hosts)))

	// Partner assignment and the steps that follow are the SOS lifecycle proper; until they run the case
	// stays open in assignment.
	if err := workflow.Await(ctx, func() bool { return s.status == StatusClosed }); err != nil {
		return SOSResult{}, err
	}
	return s.result(ctx)
}

func (s *sosCase) result(ctx workflow.Context) (SOSResult, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return SOSResult{}, err
	}
	return SOSResult{CaseID: s.in.CaseID, Stage: s.stage, Refund: s.refund}, nil
}

func (s *sosCase) validateStep(ctx workflow.Context, in StepInput) error {
	switch in.Step {
	case StepAssets:
		if in.Actor != ActorMarketplace {
			return conflictf("the asset list comes from the customer through the marketplace")
		}
		if s.assetsAt != nil {
			return conflictf("the asset list was already submitted at %s", s.assetsAt.Format(time.RFC3339))
		}
		if s.status == StatusClosed {
			return conflictf("the case is %s", s.stage)
		}
		if due := s.in.PaidAt.Add(AssetWindow); !in.At.Before(due) {
			return conflictf("the asset list was due by %s (5 natural days after payment)", due.Format(time.RFC3339))
		}
		var a AssetsInput
		if err := strictJSON(in.Payload, &a); err != nil {
			return invalidf("%v", err)
		}
		if err := a.Validate(); err != nil {
			return invalidf("%v", err)
		}
		return nil
	default:
		return conflictf("step %q is not open in stage %s", in.Step, s.stage)
	}
}

func (s *sosCase) step(ctx workflow.Context, in StepInput) (CaseView, error) {
	switch in.Step {
	case StepAssets:
		var a AssetsInput
		if err := strictJSON(in.Payload, &a); err != nil {
			return CaseView{}, invalidf("%v", err)
		}
		at := in.At.UTC()
		s.hosts, s.assetsAt = a.Hosts, &at
	}
	return s.view(), nil
}

func (s *sosCase) view() CaseView {
	return CaseView{
		CaseID: s.in.CaseID, WorkflowID: s.in.CaseID, Service: s.in.Service, Spec: s.in.Spec,
		Stage: s.stage, Status: s.status, CustomerID: s.in.CustomerID, OrderID: s.in.OrderID,
		AmountCents: s.in.AmountCents, Currency: s.in.Currency, PaidAt: s.in.PaidAt,
		SLA: append([]SLAEntry{}, s.sla...), Refund: s.refund, Timeline: []TimelineEntry{},
	}
}

// record writes the case's projection and timeline entries, and keeps the search attributes current.
func (s *sosCase) record(ctx workflow.Context, events ...activities.Event) error {
	for i := range events {
		events[i].Key = s.in.CaseID + "/" + events[i].Key
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		AttrCaseStage.ValueSet(s.stage),
		AttrRefundPercent.ValueSet(int64(s.refund.Percent)),
	); err != nil {
		return err
	}
	row := activities.CaseRow{
		CaseID: s.in.CaseID, Service: s.in.Service, Spec: s.in.Spec, Stage: s.stage, Status: s.status,
		CustomerID: s.in.CustomerID, OrderID: s.in.OrderID, AmountCents: s.in.AmountCents,
		SLAStatus: SLAOnTrack, RefundPercent: s.refund.Percent, OpenedAt: s.opened, UpdatedAt: workflow.Now(ctx),
		ClosedAt: s.closedAt,
	}
	var a *activities.Activities
	return workflow.ExecuteActivity(ctx, a.Record, activities.RecordInput{Case: row, Events: events}).Get(ctx, nil)
}

// notify sends a notification; a failure is logged, never fails the case.
func (s *sosCase) notify(ctx workflow.Context, key string, sev notifications.Severity, title, text string) {
	var a *activities.Activities
	err := workflow.ExecuteActivity(ctx, a.Notify, activities.NotifyInput{Message: notifications.Message{
		Key: s.in.CaseID + "/" + key, CaseID: s.in.CaseID, WorkflowID: s.in.CaseID, Service: s.in.Service,
		Severity: sev, Title: title, Text: text,
	}}).Get(ctx, nil)
	if err != nil {
		s.logger.Warn("notification failed", "Key", key, "Error", err)
	}
}

func event(key string, at time.Time, actor, detail string) activities.Event {
	return activities.Event{Key: key, At: at.UTC(), Actor: actor, Event: key, Detail: detail}
}

// awaitUntil waits for cond or the deadline, whichever comes first, with a timer whose summary names what
// it waits for in the Web UI. It reports whether cond held.
func awaitUntil(ctx workflow.Context, deadline time.Time, summary string, cond func() bool) (bool, error) {
	d := deadline.Sub(workflow.Now(ctx))
	if d <= 0 || cond() {
		return cond(), nil
	}
	return workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: d, TimerOptions: workflow.TimerOptions{Summary: summary}}, cond)
}

// strictJSON decodes a step payload, refusing unknown fields.
func strictJSON(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return errors.New("payload: required")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("payload: %v", err)
	}
	return nil
}
