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
)

// 服务器安全托管 (server hosting) stages, besides StageAssignment and StageExpired.
const (
	// StageHosted: a partner holds the case; requests inside the term are worked as they arrive.
	StageHosted = "hosted"
)

// Steps of a hosting case. StepRequest and StepRenew come from the marketplace; the others from the
// assigned partner.
const (
	// StepRequest is a request inside a subscription or hosting term (POST /v1/cases/{id}/requests).
	StepRequest = "request"
	// StepComplete is the partner reporting a request done.
	StepComplete = "complete"
	// StepRenew is the customer renewing for a further year before the term ends.
	StepRenew = "renew"
)

// HostingSteps lists the steps partner engineers send to a hosting case.
var HostingSteps = []string{StepAccept, StepDecline, StepComplete}

// Hosting request kinds (SPEC.md "Server security hosting").
const (
	HostingSecurityCheck = "security_check" // 安全检查: scan the server and up to 3 websites, manual check, fix guidance
	HostingHardening     = "hardening"      // 安全加固: OS and nginx/apache/mysql/sshd/redis
	HostingPatching      = "patching"       // 漏洞修复 and emergency 0day fixes
	HostingIncident      = "incident"       // 应急响应: miners, viruses, worms, trojans, webshells, intrusion analysis
)

// HostingKinds lists the request kinds in the order quota states show them.
var HostingKinds = []string{HostingSecurityCheck, HostingHardening, HostingPatching, HostingIncident}

// Unlimited is the quota of a request kind made as needed.
const Unlimited = -1

// HostingQuota is how many requests of kind one hosted ECS may make in one term (a year): Unlimited for
// patching, -2 for an unknown kind.
func HostingQuota(kind string) int {
	switch kind {
	case HostingSecurityCheck, HostingHardening:
		return 1
	case HostingPatching:
		return Unlimited
	case HostingIncident:
		return 2
	}
	return -2
}

// HostingTermEnd is when term n (from 1) of a hosting case bought at paidAt ends: n years after purchase,
// by the calendar date in China, as TermEnd counts a 等保 year.
func HostingTermEnd(paidAt time.Time, n int) time.Time {
	return paidAt.In(chinaZone).AddDate(n, 0, 0).UTC()
}

// HostingRequestInput is a customer's request inside the term, relayed by the marketplace.
type HostingRequestInput struct {
	Kind       string `json:"kind"`
	InstanceID string `json:"instance_id"`
	Summary    string `json:"summary"`
}

// Validate checks the request's fields.
func (r HostingRequestInput) Validate() error {
	if !slices.Contains(HostingKinds, r.Kind) {
		return fmt.Errorf("kind: one of %s", strings.Join(HostingKinds, ", "))
	}
	if r.InstanceID == "" || len(r.InstanceID) > 128 || !validID(r.InstanceID) {
		return errors.New("instance_id: 1-128 characters of letters, digits, '-', '_' and '.'")
	}
	return checkText("summary", r.Summary, true)
}

// CompleteInput is the partner reporting a request (a work record) done.
type CompleteInput struct {
	RequestID string `json:"request_id"`
	Summary   string `json:"summary"`
}

// Validate checks the completion's fields.
func (c CompleteInput) Validate() error {
	if strings.TrimSpace(c.RequestID) == "" {
		return errors.New("request_id: required")
	}
	return checkText("summary", c.Summary, true)
}

// RenewInput is the customer's renewal for a further year. OrderID, when given, is the renewal's order,
// kept for the audit trail.
type RenewInput struct {
	OrderID string `json:"order_id,omitempty"`
}

// Validate checks the renewal's fields.
func (r RenewInput) Validate() error {
	if r.OrderID != "" && (len(r.OrderID) > 64 || !validID(r.OrderID)) {
		return errors.New("order_id: 1-64 characters of letters, digits, '-', '_' and '.'")
	}
	return nil
}

// HostedInstance is one hosted ECS and what it has used of its quotas this term.
type HostedInstance struct {
	InstanceID    string `json:"instance_id"`
	SecurityCheck int    `json:"security_check"`
	Hardening     int    `json:"hardening"`
	Patching      int    `json:"patching"`
	Incident      int    `json:"incident"`
}

func (h *HostedInstance) used(kind string) *int {
	switch kind {
	case HostingSecurityCheck:
		return &h.SecurityCheck
	case HostingHardening:
		return &h.Hardening
	case HostingPatching:
		return &h.Patching
	default:
		return &h.Incident
	}
}

// quotaState lists the limited quotas' use, e.g. "security_check 1/1, hardening 0/1, incident 2/2".
func (h HostedInstance) quotaState() string {
	var parts []string
	for _, k := range HostingKinds {
		if q := HostingQuota(k); q > 0 {
			parts = append(parts, fmt.Sprintf("%s %d/%d", k, *h.used(k), q))
		}
	}
	return strings.Join(parts, ", ")
}

// HostingRequest is an accepted request: a work record the partner completes.
type HostingRequest struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	InstanceID  string     `json:"instance_id"`
	Summary     string     `json:"summary"`
	Term        int        `json:"term"`
	RequestedAt time.Time  `json:"requested_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	Resolution  string     `json:"resolution,omitempty"`
}

// coreState is the part of a long case's state kept in caseCore, carried by continue-as-new.
type coreState struct {
	Seq         int        `json:"seq"`
	Revision    int64      `json:"revision"`
	Stage       string     `json:"stage"`
	Status      string     `json:"status"`
	Opened      time.Time  `json:"opened"`
	Closed      *time.Time `json:"closed,omitempty"`
	PartnerID   string     `json:"partner_id,omitempty"`
	PartnerName string     `json:"partner_name,omitempty"`
	Accepted    bool       `json:"accepted"`
	Refund      Refund     `json:"refund"`
	// Runs counts the workflow runs of the case, 1 for the first.
	Runs int `json:"runs"`
}

func (s *caseCore) loadCore(c coreState) {
	s.seq, s.revision, s.stage, s.status, s.opened, s.closed = c.Seq, c.Revision, c.Stage, c.Status, c.Opened, c.Closed
	s.partnerID, s.partnerName, s.accepted, s.refund = c.PartnerID, c.PartnerName, c.Accepted, c.Refund
}

func (s *caseCore) saveCore(runs int) coreState {
	return coreState{Seq: s.seq, Revision: s.revision, Stage: s.stage, Status: s.status, Opened: s.opened, Closed: s.closed,
		PartnerID: s.partnerID, PartnerName: s.partnerName, Accepted: s.accepted, Refund: s.refund, Runs: runs}
}

// prepare validates the order and fills the defaults every case lifecycle shares.
func (s *caseCore) prepare(ctx workflow.Context) error {
	if err := ValidateCaseInput(s.in); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), RejectInvalid, nil)
	}
	if s.in.AcceptTimeout <= 0 {
		s.in.AcceptTimeout = DefaultAcceptTimeout
	}
	if s.in.HistoryLimit <= 0 {
		s.in.HistoryLimit = DefaultHistoryLimit
	}
	s.logger = log.With(workflow.GetLogger(ctx), "CaseID", s.in.CaseID, "Service", s.in.Service)
	return nil
}

// startAssignment offers the case to partners in the background unless a partner already holds it.
func (s *caseCore) startAssignment(ctx workflow.Context) {
	if s.status != StatusOpen || s.accepted {
		return
	}
	s.offered = nil
	workflow.Go(ctx, func(ctx workflow.Context) {
		if err := s.assign(ctx); err != nil {
			s.logger.Error("partner assignment", "Error", err)
		}
	})
}

// awaitEndOrContinue waits until the case is closed or its history is long enough to continue as new,
// then for everything in flight. It reports whether the run should continue as new.
func (s *caseCore) awaitEndOrContinue(ctx workflow.Context) (bool, error) {
	continueAsNew := func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= s.in.HistoryLimit
	}
	if err := workflow.Await(ctx, func() bool { return s.status == StatusClosed || continueAsNew() }); err != nil {
		return false, err
	}
	if err := s.finish(ctx); err != nil {
		return false, err
	}
	return s.status != StatusClosed, nil
}

// endAs closes the case in stage.
func (s *caseCore) endAs(ctx workflow.Context, stage string) {
	now := workflow.Now(ctx)
	s.stage, s.status, s.closed = stage, StatusClosed, &now
}

// baseView is the case view without SLA entries; details is the service's own state.
func (s *caseCore) baseView(details any) CaseView {
	return CaseView{
		CaseID: s.in.CaseID, WorkflowID: s.in.CaseID, Service: s.in.Service, Spec: s.in.Spec, Stage: s.stage, Status: s.status,
		PartnerID: s.partnerID, CustomerID: s.in.CustomerID, OrderID: s.in.OrderID, AmountCents: s.in.AmountCents,
		Currency: s.in.Currency, PaidAt: s.in.PaidAt, SLA: []SLAEntry{}, Refund: s.refund, Timeline: []TimelineEntry{}, Details: details,
	}
}

// HostingState is a hosting case's state: what the case view's details show, and what continue-as-new
// carries into the next run.
type HostingState struct {
	coreState
	// Term counts the years of service, from 1; quotas count per term.
	Term      int       `json:"term"`
	TermStart time.Time `json:"term_start"`
	TermEnd   time.Time `json:"term_end"`
	// Renewals counts the further years bought and not yet begun.
	Renewals int `json:"renewals"`
	// Instances are the ECS that made requests this term, at most the order's quantity, with their use.
	Instances []HostedInstance `json:"instances"`
	// Requests are this term's requests and any still open from earlier terms.
	Requests []HostingRequest `json:"requests"`
	// NextRequest numbers the next request (r1, r2, …) across terms.
	NextRequest int   `json:"next_request"`
	Reminded    []int `json:"reminded,omitempty"`
}

// HostingInput starts or continues a hosting case. It marshals like a CaseInput, which is what the API
// starts it with; State is set only when a run continues as new.
type HostingInput struct {
	CaseInput
	State *HostingState `json:"state,omitempty"`
}

// HostingResult is how a hosting case ended.
type HostingResult struct {
	CaseID string       `json:"case_id"`
	Stage  string       `json:"stage"`
	State  HostingState `json:"state"`
}

// HostingWorkflow runs one server-hosting case (SPEC.md "Server security hosting"), per ECS per year:
// partner assignment, then a year's term in which the customer's requests are taken against each ECS's
// quotas and worked by the partner. A renewal before the term ends starts a new year with fresh quotas;
// otherwise the case expires at the term's end. It continues as new before its history grows large.
func HostingWorkflow(ctx workflow.Context, in HostingInput) (HostingResult, error) {
	h := &hostingCase{caseCore: caseCore{in: in.CaseInput, label: "服务器安全托管"}, resume: in.State}
	h.slaFn = h.slaStatus
	if err := h.setup(ctx); err != nil {
		return HostingResult{}, err
	}
	return h.run(ctx)
}

type hostingCase struct {
	caseCore
	st     HostingState
	resume *HostingState
}

func (h *hostingCase) setup(ctx workflow.Context) error {
	if err := h.prepare(ctx); err != nil {
		return err
	}
	if h.in.Service != ServiceHosting {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("service: %q is not %s", h.in.Service, ServiceHosting), RejectInvalid, nil)
	}
	if h.resume != nil {
		h.st = *h.resume
		h.st.Runs++
	} else {
		h.st = HostingState{coreState: coreState{Stage: StageAssignment, Status: StatusOpen, Opened: workflow.Now(ctx), Runs: 1},
			Term: 1, TermStart: h.in.PaidAt.UTC(), TermEnd: HostingTermEnd(h.in.PaidAt, 1), NextRequest: 1}
	}
	h.loadCore(h.st.coreState)
	if err := workflow.SetQueryHandler(ctx, QueryCaseView, func() (CaseView, error) { return h.view(), nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateStep, h.step, workflow.UpdateHandlerOptions{Validator: h.validateStep})
}

func (h *hostingCase) save() HostingState {
	h.st.coreState = h.saveCore(h.st.Runs)
	return h.st
}

func (h *hostingCase) run(ctx workflow.Context) (HostingResult, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	if h.st.Runs == 1 {
		if err := h.record(ctx, h.event(ctx, "opened", ActorMarketplace, fmt.Sprintf(
			"order %s paid at %s for %d ECS; the first year ends on %s", h.in.OrderID, h.in.PaidAt.Format(time.RFC3339),
			h.in.Quantity, h.termEndDate()))); err != nil {
			return HostingResult{}, err
		}
	}
	h.startAssignment(ctx)
	workflow.Go(ctx, h.watchTerm)
	cont, err := h.awaitEndOrContinue(ctx)
	if err != nil {
		return HostingResult{}, err
	}
	if cont {
		st := h.save()
		return HostingResult{}, workflow.NewContinueAsNewError(ctx, HostingWorkflow, HostingInput{CaseInput: h.in, State: &st})
	}
	return HostingResult{CaseID: h.in.CaseID, Stage: h.stage, State: h.save()}, nil
}

func (h *hostingCase) termEndDate() string { return h.st.TermEnd.In(chinaZone).Format(time.DateOnly) }

// watchTerm reminds the customer before a term ends unless it renewed, then at the end starts the next
// term (quotas reset) or closes the case as expired.
func (h *hostingCase) watchTerm(ctx workflow.Context) {
	closed := func() bool { return h.status == StatusClosed }
	for !closed() {
		for _, days := range TermReminderDays {
			if slices.Contains(h.st.Reminded, days) {
				continue
			}
			at := h.st.TermEnd.AddDate(0, 0, -days)
			if _, err := h.awaitUntil(ctx, at, fmt.Sprintf("term %d reminder, %d days before the year ends", h.st.Term, days),
				func() bool { return closed() || h.st.Renewals > 0 }); err != nil || closed() {
				return
			}
			if h.st.Renewals > 0 {
				break // renewed: nothing to remind of this term
			}
			h.st.Reminded = append(h.st.Reminded, days)
			if workflow.Now(ctx).After(at.Add(24 * time.Hour)) {
				continue // a run resumed after the reminder's day: too late to remind
			}
			h.pending++
			detail := fmt.Sprintf("%d days left in year %d of the hosting (ends %s) and no renewal yet", days, h.st.Term, h.termEndDate())
			if err := h.record(ctx, h.event(ctx, fmt.Sprintf("term_reminder_%dd", days), ActorSystem, detail)); err != nil {
				h.logger.Error("record reminder", "Error", err)
			}
			h.notify(ctx, fmt.Sprintf("term-reminder/%d/%d", h.st.Term, days), notifications.SeverityWarning, true,
				fmt.Sprintf("服务器安全托管 term ends in %d days", days), detail)
			h.pending--
		}
		if _, err := h.awaitUntil(ctx, h.st.TermEnd, fmt.Sprintf("end of hosting year %d", h.st.Term), closed); err != nil || closed() {
			return
		}
		h.pending++
		if h.st.Renewals > 0 {
			h.newTerm(ctx)
			h.pending--
			continue
		}
		h.expire(ctx)
		h.pending--
		return
	}
}

// newTerm starts the next year: quotas reset, done requests of the past year leave the state (the
// timeline keeps them), open ones stay open.
func (h *hostingCase) newTerm(ctx workflow.Context) {
	h.st.Renewals--
	h.st.Term++
	h.st.TermStart, h.st.TermEnd = h.st.TermEnd, HostingTermEnd(h.in.PaidAt, h.st.Term)
	h.st.Instances, h.st.Reminded = nil, nil
	h.st.Requests = slices.DeleteFunc(h.st.Requests, func(r HostingRequest) bool { return r.CompletedAt != nil })
	detail := fmt.Sprintf("year %d of the hosting began; it ends on %s; quotas are reset", h.st.Term, h.termEndDate())
	if n := len(h.st.Requests); n > 0 {
		detail += fmt.Sprintf("; %d requests from earlier years are still open", n)
	}
	if err := h.record(ctx, h.event(ctx, "term_renewed", ActorSystem, detail)); err != nil {
		h.logger.Error("record new term", "Error", err)
	}
	h.notify(ctx, fmt.Sprintf("term-renewed/%d", h.st.Term), notifications.SeverityInfo, true, "服务器安全托管 renewed for another year", detail)
}

func (h *hostingCase) expire(ctx workflow.Context) {
	h.endAs(ctx, StageExpired)
	detail := fmt.Sprintf("year %d of the hosting ended on %s without a renewal", h.st.Term, h.termEndDate())
	if open := h.openRequests(); len(open) > 0 {
		detail += "; requests left open: " + strings.Join(open, ", ")
	}
	if err := h.record(ctx, h.event(ctx, "term_ended", ActorSystem, detail)); err != nil {
		h.logger.Error("record term end", "Error", err)
	}
	h.notify(ctx, "term-ended", notifications.SeverityWarning, true, "服务器安全托管 ended without a renewal", detail)
}

func (h *hostingCase) openRequests() []string {
	var ids []string
	for _, r := range h.st.Requests {
		if r.CompletedAt == nil {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func (h *hostingCase) instance(id string) *HostedInstance {
	for i := range h.st.Instances {
		if h.st.Instances[i].InstanceID == id {
			return &h.st.Instances[i]
		}
	}
	return nil
}

func (h *hostingCase) request(id string) *HostingRequest {
	for i := range h.st.Requests {
		if h.st.Requests[i].ID == id {
			return &h.st.Requests[i]
		}
	}
	return nil
}

func (h *hostingCase) validateStep(ctx workflow.Context, in StepInput) error {
	if h.status == StatusClosed {
		return conflictf("the case is closed (stage %s)", h.stage)
	}
	switch in.Step {
	case StepRequest, StepRenew:
		if in.Actor != ActorMarketplace {
			return conflictf("step %q comes from the customer through the marketplace", in.Step)
		}
		if in.Step == StepRenew {
			return decodeValid[RenewInput](in.Payload)
		}
		if err := decodeValid[HostingRequestInput](in.Payload); err != nil {
			return err
		}
		return h.checkQuota(mustDecode[HostingRequestInput](in.Payload))
	case StepAccept, StepDecline:
		if in.Actor != ActorPartner {
			return conflictf("step %q is a partner engineer's", in.Step)
		}
		return h.validateOffer(in)
	case StepComplete:
		if err := h.requirePartner(in); err != nil {
			return err
		}
		if err := decodeValid[CompleteInput](in.Payload); err != nil {
			return err
		}
		c := mustDecode[CompleteInput](in.Payload)
		r := h.request(c.RequestID)
		switch {
		case r == nil:
			return conflictf("no open request %s; open requests: %s", c.RequestID, orDash(strings.Join(h.openRequests(), ", ")))
		case r.CompletedAt != nil:
			return conflictf("request %s was completed at %s", r.ID, r.CompletedAt.Format(time.RFC3339))
		}
		return nil
	}
	return conflictf("unknown step %q", in.Step)
}

// checkQuota refuses a request beyond the ECS count of the order or beyond its ECS's quota this term.
func (h *hostingCase) checkQuota(r HostingRequestInput) error {
	inst := h.instance(r.InstanceID)
	if inst == nil {
		if len(h.st.Instances) >= h.in.Quantity {
			ids := make([]string, len(h.st.Instances))
			for i, x := range h.st.Instances {
				ids[i] = x.InstanceID
			}
			return conflictf("all %d hosted ECS are in use: %s; %s is not one of them", h.in.Quantity, strings.Join(ids, ", "), r.InstanceID)
		}
		return nil
	}
	if q := HostingQuota(r.Kind); q != Unlimited && *inst.used(r.Kind) >= q {
		return conflictf("%s quota used up for %s this term: %d of %d (%s); the quota renews on %s",
			r.Kind, r.InstanceID, *inst.used(r.Kind), q, inst.quotaState(), h.termEndDate())
	}
	return nil
}

func (h *hostingCase) step(ctx workflow.Context, in StepInput) (CaseView, error) {
	var events []activities.Event
	add := func(event, actor, detail string) { events = append(events, h.event(ctx, event, actor, detail)) }
	now := workflow.Now(ctx)
	var note func()
	switch in.Step {
	case StepAccept:
		h.accepted, h.answer, h.stage = true, StepAccept, StageHosted
		detail := h.partnerID + " accepted (" + in.ActorName + ")"
		if open := h.openRequests(); len(open) > 0 {
			detail += "; requests waiting: " + strings.Join(open, ", ")
		}
		add("partner_accepted", ActorPartner, detail)
	case StepDecline:
		h.answer, h.declineReason = StepDecline, mustDecode[DeclineInput](in.Payload).Reason
		return h.view(), nil
	case StepRequest:
		r := mustDecode[HostingRequestInput](in.Payload)
		inst := h.instance(r.InstanceID)
		if inst == nil {
			h.st.Instances = append(h.st.Instances, HostedInstance{InstanceID: r.InstanceID})
			inst = &h.st.Instances[len(h.st.Instances)-1]
		}
		*inst.used(r.Kind)++
		req := HostingRequest{ID: fmt.Sprintf("r%d", h.st.NextRequest), Kind: r.Kind, InstanceID: r.InstanceID, Summary: r.Summary,
			Term: h.st.Term, RequestedAt: now}
		h.st.NextRequest++
		h.st.Requests = append(h.st.Requests, req)
		detail := fmt.Sprintf("%s: %s on %s (%s): %s", req.ID, r.Kind, r.InstanceID, inst.quotaState(), r.Summary)
		add("request_received", ActorMarketplace, detail)
		note = func() {
			h.notify(ctx, "request/"+req.ID, notifications.SeverityInfo, true, fmt.Sprintf("服务器安全托管 request %s: %s on %s", req.ID, r.Kind, r.InstanceID),
				fmt.Sprintf("%s\nComplete it with POST /v1/cases/%s/steps/%s {\"request_id\":%q}.", detail, h.in.CaseID, StepComplete, req.ID))
		}
	case StepComplete:
		c := mustDecode[CompleteInput](in.Payload)
		r := h.request(c.RequestID)
		r.CompletedAt, r.Resolution = &now, c.Summary
		add("request_completed", ActorPartner, fmt.Sprintf("%s (%s on %s) done: %s", r.ID, r.Kind, r.InstanceID, c.Summary))
	case StepRenew:
		r := mustDecode[RenewInput](in.Payload)
		h.st.Renewals++
		until := HostingTermEnd(h.in.PaidAt, h.st.Term+h.st.Renewals).In(chinaZone).Format(time.DateOnly)
		detail := fmt.Sprintf("renewed for another year: the hosting now runs until %s", until)
		if r.OrderID != "" {
			detail += " (order " + r.OrderID + ")"
		}
		add("renewed", ActorMarketplace, detail)
	}
	if err := h.record(ctx, events...); err != nil {
		return CaseView{}, err
	}
	if note != nil {
		note()
	}
	return h.view(), nil
}

func (h *hostingCase) slaStatus(time.Time) (string, *time.Time) {
	if h.status == StatusClosed {
		return SLAOnTrack, nil
	}
	end := h.st.TermEnd
	return SLAOnTrack, &end
}

func (h *hostingCase) view() CaseView {
	st := h.save()
	v := h.baseView(st)
	end := st.TermEnd
	term := SLAEntry{Clause: "term", DueAt: &end, Status: SLAOnTrack}
	if st.Status == StatusClosed {
		term.CompletedAt = st.Closed
	}
	v.SLA = append(v.SLA, term)
	return v
}
