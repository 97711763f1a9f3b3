package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/worker"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/butler"
	"github.com/steward-oss/steward/workflows/sos"
)

// caseFor loads a case's projection and checks that the caller may see it: a partner sees only its own
// company's cases, and another's is answered exactly like a missing one.
func (s *Server) caseFor(c echo.Context) (*db.Case, error) {
	id := c.Param("id")
	// Case IDs are a service and an order ID of letters, digits and -_. (checked at purchase); anything with
	// control characters is no case, and must not reach the database, where PostgreSQL would drop a NUL.
	if _, _, err := workflows.ParseCaseID(id); err != nil || len(id) > 100 || !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl) {
		return nil, problem(CodeNotFound, "no case %q", id)
	}
	row, err := s.store.GetCase(c.Request().Context(), id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, problem(CodeNotFound, "no case %q", id)
	}
	if err != nil {
		return nil, unavailable(err, "the case store")
	}
	if p := principalOf(c); p.Role == RolePartner && row.PartnerID != p.PartnerID {
		return nil, problem(CodeNotFound, "no case %q", id)
	}
	return row, nil
}

func (s *Server) getCase(c echo.Context) error {
	row, err := s.caseFor(c)
	if err != nil {
		return err
	}
	v, err := s.caseView(c.Request().Context(), row, principalOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, redactFor(principalOf(c), v))
}

// redactFor leaves out of a partner's view what concerns other partners.
func redactFor(p Principal, v workflows.CaseView) workflows.CaseView {
	if p.Role != RolePartner {
		return v
	}
	kept := make([]workflows.TimelineEntry, 0, len(v.Timeline))
	for _, e := range v.Timeline {
		if !slices.Contains(workflows.AssignmentEvents, workflows.Event(e.Event)) {
			kept = append(kept, e)
		}
	}
	v.Timeline = kept
	v.Details = dropForeignEngineers(v.Details, p.PartnerID)
	return v
}

// dropForeignEngineers leaves out of a case's details the engineer named by any entry another company wrote
// (an escort day checked in by the partner that held the case before): a partner sees only its own
// company's engineers. An entry says whose it is with "partner_id".
func dropForeignEngineers(details any, partnerID string) any {
	switch d := details.(type) {
	case map[string]any:
		if owner, ok := d["partner_id"].(string); ok && owner != partnerID {
			delete(d, "engineer")
		}
		for k, x := range d {
			d[k] = dropForeignEngineers(x, partnerID)
		}
	case []any:
		for i, x := range d {
			d[i] = dropForeignEngineers(x, partnerID)
		}
	}
	return details
}

// caseView asks the workflow for the live view and adds the timeline from the database, as reader may see
// it (addTimeline). When the workflow cannot answer (its history was archived), the projection stands in.
func (s *Server) caseView(ctx context.Context, row *db.Case, reader Principal) (workflows.CaseView, error) {
	var v workflows.CaseView
	res, err := s.temporal.QueryWorkflow(ctx, row.WorkflowID, "", workflows.QueryCaseView)
	if err == nil {
		err = res.Get(&v)
	}
	if err != nil {
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) {
			return v, unavailable(err, "the workflow service")
		}
		v = viewFromRow(row)
	}
	if err := s.addTimeline(ctx, row.CaseID, &v, reader); err != nil {
		return v, err
	}
	return v, nil
}

// addTimeline completes a case view with the case's timeline from the database, each line naming who took
// its step as far as reader may know (timelineBy).
func (s *Server) addTimeline(ctx context.Context, caseID string, v *workflows.CaseView, reader Principal) error {
	events, err := s.store.ListEvents(ctx, caseID)
	if err != nil {
		return unavailable(err, "the timeline store")
	}
	v.Timeline = make([]workflows.TimelineEntry, 0, len(events))
	for _, e := range events {
		v.Timeline = append(v.Timeline, workflows.TimelineEntry{At: e.At.UTC(), Actor: e.Actor, Event: e.Event, Detail: e.Detail,
			By: timelineBy(reader, e)})
	}
	if v.SLA == nil {
		v.SLA = []workflows.SLAEntry{}
	}
	return nil
}

// timelineBy is who took the step line e records, for reader: managers see every engineer and manager;
// a partner sees its own company's engineers only (a case it took over may hold another company's lines),
// never a manager's name; the marketplace, and through it the customer, sees no one.
func timelineBy(reader Principal, e db.CaseEvent) *workflows.TimelineBy {
	if e.ByName == "" {
		return nil
	}
	switch {
	case reader.Role == RoleManager:
	case reader.Role == RolePartner && e.ByPartnerID != "" && e.ByPartnerID == reader.PartnerID:
	default:
		return nil
	}
	return &workflows.TimelineBy{Name: e.ByName, PartnerID: e.ByPartnerID, TokenID: e.ByTokenID}
}

// refundOf is what a case row's refund percent comes to, rounded as sla rounds every refund.
func refundOf(row *db.Case) workflows.Refund {
	r, err := sla.Apply(row.RefundPercent, row.AmountCents)
	if err != nil {
		return workflows.Refund{Percent: row.RefundPercent} // a row the workflow wrote is never out of range
	}
	return r
}

func viewFromRow(row *db.Case) workflows.CaseView {
	return workflows.CaseView{
		CaseID: row.CaseID, WorkflowID: row.WorkflowID, Service: row.Service, Spec: row.Spec, Stage: row.Stage,
		Status: row.Status, PartnerID: row.PartnerID, CustomerID: row.CustomerID, OrderID: row.OrderID,
		AmountCents: row.AmountCents, SLA: []workflows.SLAEntry{},
		Refund: refundOf(row),
	}
}

// CaseSummary is one row of the case list.
type CaseSummary struct {
	CaseID        string `json:"case_id"`
	Service       string `json:"service"`
	Spec          string `json:"spec,omitempty"`
	Stage         string `json:"stage"`
	Status        string `json:"status"`
	PartnerID     string `json:"partner_id,omitempty"`
	CustomerID    string `json:"customer_id"`
	OrderID       string `json:"order_id"`
	SLAStatus     string `json:"sla_status"`
	RefundPercent int    `json:"refund_percent"`
	NextDeadline  string `json:"next_deadline,omitempty"`
	OpenedAt      string `json:"opened_at"`
	UpdatedAt     string `json:"updated_at"`
}

// CaseList is the body of GET /v1/cases.
type CaseList struct {
	Cases []CaseSummary `json:"cases"`
}

func (s *Server) listCases(c echo.Context) error {
	q := c.QueryParams()
	for k := range q {
		if !slices.Contains([]string{"service", "stage", "partner_id", "sla", "status", "limit", "offset"}, k) {
			return problem(CodeInvalid, "unknown query parameter %q", k)
		}
	}
	f := db.CaseFilter{Service: q.Get("service"), Stage: q.Get("stage"), PartnerID: q.Get("partner_id"), SLAStatus: q.Get("sla"), Status: q.Get("status")}
	for _, p := range []struct{ name, value string }{{"stage", f.Stage}, {"partner_id", f.PartnerID}} {
		if len(p.value) > 128 || !utf8.ValidString(p.value) || strings.ContainsFunc(p.value, unicode.IsControl) {
			return problem(CodeInvalid, "%s: at most 128 characters, none of them control characters", p.name)
		}
	}
	if f.Service != "" && !workflows.KnownService(f.Service) {
		return problem(CodeInvalid, "service: unknown service %q; one of %s", f.Service, strings.Join(workflows.Services, ", "))
	}
	if f.SLAStatus != "" && !slices.Contains(workflows.SLAStatuses, f.SLAStatus) {
		return problem(CodeInvalid, "sla: one of %s", strings.Join(workflows.SLAStatuses, ", "))
	}
	if f.Status != "" && f.Status != workflows.StatusOpen && f.Status != workflows.StatusClosed {
		return problem(CodeInvalid, "status: open or closed")
	}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), 50, 1, 500); err != nil {
		return problem(CodeInvalid, "limit: %v", err)
	}
	if f.Offset, err = intParam(q.Get("offset"), 0, 0, 1_000_000); err != nil {
		return problem(CodeInvalid, "offset: %v", err)
	}
	rows, err := s.store.ListCases(c.Request().Context(), f)
	if err != nil {
		return unavailable(err, "the case store")
	}
	out := CaseList{Cases: make([]CaseSummary, 0, len(rows))}
	for _, r := range rows {
		cs := CaseSummary{
			CaseID: r.CaseID, Service: r.Service, Spec: r.Spec, Stage: r.Stage, Status: r.Status, PartnerID: r.PartnerID,
			CustomerID: r.CustomerID, OrderID: r.OrderID, SLAStatus: r.SLAStatus, RefundPercent: r.RefundPercent,
			OpenedAt: r.OpenedAt.UTC().Format(timeLayout), UpdatedAt: r.UpdatedAt.UTC().Format(timeLayout),
		}
		if r.NextDeadline != nil {
			cs.NextDeadline = r.NextDeadline.UTC().Format(timeLayout)
		}
		out.Cases = append(out.Cases, cs)
	}
	return c.JSON(http.StatusOK, out)
}

const timeLayout = "2006-01-02T15:04:05Z07:00"

func intParam(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, errors.New("an integer between " + strconv.Itoa(lo) + " and " + strconv.Itoa(hi))
	}
	return n, nil
}

// submitAssets relays the customer's asset list to an SOS case.
func (s *Server) submitAssets(c echo.Context) error {
	row, err := s.caseFor(c)
	if err != nil {
		return err
	}
	if row.Service != workflows.ServiceSOS {
		return problem(CodeConflict, "asset lists are for SOS cases; this is a %s case", row.Service)
	}
	body := c.Get("raw_body").([]byte)
	var a sos.AssetsInput
	if err := decodeStrict(body, &a); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return problem(CodeInvalid, "%v", err)
	}
	return s.sendStep(c, row, workflows.StepInput{Step: sos.StepAssets, Actor: workflows.ActorMarketplace, ActorName: "marketplace", Payload: body})
}

// verdict relays the customer's confirmation or dispute of the report.
func (s *Server) verdict(step string) echo.HandlerFunc {
	return func(c echo.Context) error {
		row, err := s.caseFor(c)
		if err != nil {
			return err
		}
		body := c.Get("raw_body").([]byte)
		var v sos.VerdictInput
		if err := decodeStrict(body, &v); err != nil {
			return err
		}
		if err := v.Validate(step == sos.StepReportDispute); err != nil {
			return problem(CodeInvalid, "%v", err)
		}
		return s.sendStep(c, row, workflows.StepInput{Step: step, Actor: workflows.ActorMarketplace, ActorName: "marketplace", Payload: body})
	}
}

// cancel relays the customer's cancellation; the service's refund rule decides (等保: full refund before
// kickoff, 409 after).
func (s *Server) cancel(c echo.Context) error {
	row, err := s.caseFor(c)
	if err != nil {
		return err
	}
	body := c.Get("raw_body").([]byte)
	if len(body) == 0 {
		body = []byte("{}")
	}
	var in workflows.CancelInput
	if err := decodeStrict(body, &in); err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return problem(CodeInvalid, "%v", err)
	}
	return s.sendStep(c, row, workflows.StepInput{Step: workflows.StepCancel, Actor: workflows.ActorMarketplace, ActorName: "marketplace", Payload: body})
}

// step relays one partner step. The workflow's validator decides whether it is allowed now.
func (s *Server) step(c echo.Context) error {
	row, err := s.caseFor(c)
	if err != nil {
		return err
	}
	step := c.Param("step")
	steps := worker.Lifecycles[row.Service].Steps
	if !slices.Contains(steps, step) {
		return problem(CodeNotFound, "no step %q for %s cases; steps: %s", step, row.Service, strings.Join(steps, ", "))
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	var probe map[string]json.RawMessage
	if err := decodeStrict(body, &probe); err != nil {
		return err
	}
	p := principalOf(c)
	return s.sendStep(c, row, workflows.StepInput{Step: step, Actor: workflows.ActorPartner, PartnerID: p.PartnerID, ActorName: p.Name,
		TokenID: p.TokenID, Payload: body})
}

// sendStep sends a step as the workflow update named for it and answers with the case view it returns.
// A step the case's service does not take is 409 without a round trip. An Idempotency-Key header makes
// the update's ID, so a repeated request gets the first result.
func (s *Server) sendStep(c echo.Context, row *db.Case, in workflows.StepInput) error {
	ctx := c.Request().Context()
	if lc, ok := worker.Lifecycles[row.Service]; !ok || !slices.Contains(lc.Updates, in.Step) {
		return problem(CodeConflict, "a %s case takes no %s step", row.Service, in.Step)
	}
	in.At = s.now().UTC()
	var v workflows.CaseView
	if err := s.update(c, row.WorkflowID, in, &v); err != nil {
		s.announceQuotaRefusal(c, row, err)
		return stepError(err, row)
	}
	// The update answers with the case as the step left it, so only its timeline is read; querying the
	// workflow again would cost another round trip through the server and the worker on every step.
	if v.CaseID == "" {
		var err error
		if v, err = s.caseView(ctx, row, principalOf(c)); err != nil {
			return err
		}
	} else if err := s.addTimeline(ctx, row.CaseID, &v, principalOf(c)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, redactFor(principalOf(c), v))
}

// update sends a step to a workflow as the update named for the step and waits for its result. An
// Idempotency-Key header makes the update's ID, so a repeated request gets the first result.
func (s *Server) update(c echo.Context, workflowID string, in workflows.StepInput, out any) error {
	opts := client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: in.Step, Args: []any{in},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	}
	if key := c.Request().Header.Get("Idempotency-Key"); key != "" {
		if len(key) > 128 {
			return problem(CodeInvalid, "Idempotency-Key: at most 128 characters")
		}
		opts.UpdateID = in.Step + "/" + in.Actor + "/" + key
	}
	ctx := c.Request().Context()
	h, err := s.temporal.UpdateWorkflow(ctx, opts)
	if err != nil {
		return err
	}
	return h.Get(ctx, out)
}

// stepError maps a refused or failed update to a problem: a validator's rejection carries its reason.
func stepError(err error, row *db.Case) error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		switch ae.Type() {
		case workflows.RejectConflict, workflows.RejectQuota:
			return problem(CodeConflict, "%s", ae.Message())
		case workflows.RejectInvalid:
			return problem(CodeInvalid, "%s", ae.Message())
		}
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		if row.Status == workflows.StatusOpen {
			// The purchase stored the case but its workflow never started; the marketplace's retry of the
			// purchase callback starts it.
			return unavailable(err, "case "+row.CaseID+" (not started yet; retry the purchase callback)")
		}
		return problem(CodeConflict, "case %s is closed and takes no more steps", row.CaseID)
	}
	return unavailable(err, "the workflow service")
}

func readBody(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		var he *echo.HTTPError
		if errors.As(err, &mbe) || (errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge) {
			return nil, problem(CodeTooLarge, "request body exceeds the limit of %s", bodyLimit)
		}
		return nil, problem(CodeBadRequest, "could not read the request body")
	}
	return b, nil
}

// ContactView is the customer's contact, for the partner holding the case and for managers.
type ContactView struct {
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// contact gives the assigned partner (once it accepted) and managers the customer's contact, read from the
// order; it never enters workflow history, logs or chat, and is not cached.
func (s *Server) contact(c echo.Context) error {
	row, err := s.caseFor(c)
	if err != nil {
		return err
	}
	if principalOf(c).Role == RolePartner && row.Stage == workflows.StageAssignment {
		return problem(CodeConflict, "accept the case first")
	}
	o, err := s.store.GetOrder(c.Request().Context(), row.OrderID)
	if errors.Is(err, db.ErrNotFound) {
		return problem(CodeNotFound, "no order for case %s", row.CaseID)
	}
	if err != nil {
		return unavailable(err, "the order store")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, ContactView{Name: o.Contact.Name, Phone: o.Contact.Phone, Email: o.Contact.Email})
}

// marketStep relays a customer's step inside a term (a request, a renewal, a verdict on a delivery); the
// case's workflow validates its fields and answers 409 or 422 with the reason.
func (s *Server) marketStep(step string) echo.HandlerFunc {
	return func(c echo.Context) error {
		row, err := s.caseFor(c)
		if err != nil {
			return err
		}
		body := c.Get("raw_body").([]byte)
		if len(body) == 0 {
			body = []byte("{}")
		}
		var obj map[string]json.RawMessage
		if err := decodeStrict(body, &obj); err != nil {
			return err
		}
		return s.sendStep(c, row, workflows.StepInput{Step: step, Actor: workflows.ActorMarketplace, ActorName: "marketplace", Payload: body})
	}
}

// requestStep relays a step on one request inside a subscription (an incident, a vulnerability, a
// consulting question), each its own child workflow of the case. from is who may send it.
func (s *Server) requestStep(from string) echo.HandlerFunc {
	return func(c echo.Context) error {
		row, err := s.caseFor(c)
		if err != nil {
			return err
		}
		rid := c.Param("rid")
		if !validRequestID(rid) {
			return problem(CodeNotFound, "no request %q in case %s", rid, row.CaseID)
		}
		in := workflows.StepInput{Actor: from}
		var body []byte
		if from == workflows.ActorMarketplace {
			in.Step, in.ActorName, body = butler.StepUrgency, "marketplace", c.Get("raw_body").([]byte)
		} else {
			in.Step = c.Param("step")
			if !slices.Contains(butler.RequestSteps, in.Step) {
				return problem(CodeNotFound, "no step %q for requests; steps: %s", in.Step, strings.Join(butler.RequestSteps, ", "))
			}
			p := principalOf(c)
			in.PartnerID, in.ActorName, in.TokenID = p.PartnerID, p.Name, p.TokenID
			if body, err = readBody(c); err != nil {
				return err
			}
		}
		if len(body) == 0 {
			body = []byte("{}")
		}
		var obj map[string]json.RawMessage
		if err := decodeStrict(body, &obj); err != nil {
			return err
		}
		in.Payload, in.At = body, s.now().UTC()
		var v butler.RequestView
		err = s.update(c, butler.RequestWorkflowID(row.CaseID, rid), in, &v)
		if err != nil {
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				return problem(CodeNotFound, "no open request %q in case %s", rid, row.CaseID)
			}
			return stepError(err, row)
		}
		return c.JSON(http.StatusOK, v)
	}
}

// validRequestID admits request IDs such as inc-1, vul-12, con-3.
func validRequestID(rid string) bool {
	kind, n, ok := strings.Cut(rid, "-")
	if !ok || kind == "" || len(kind) > 8 || n == "" || len(n) > 9 {
		return false
	}
	for _, r := range kind {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

// announceQuotaRefusal writes the request.quota_refused webhook event when err refused a customer's
// request for its quota. It is keyed by the request's Idempotency-Key (or its arrival), so a retried
// request announces once; a failure to write it is logged, never the caller's error.
func (s *Server) announceQuotaRefusal(c echo.Context, row *db.Case, err error) {
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != workflows.RejectQuota {
		return
	}
	var q workflows.QuotaRefusal
	if ae.HasDetails() {
		_ = ae.Details(&q)
	}
	now := s.now().UTC()
	key := c.Request().Header.Get("Idempotency-Key")
	if key == "" {
		key = now.Format(time.RFC3339Nano)
	}
	ev := db.OutboxEvent{Key: row.CaseID + "/quota-refused/" + key, Type: workflows.WebhookQuotaRefused, CreatedAt: now, Data: q}
	if werr := s.store.AppendOutbox(c.Request().Context(), s.store.DB, row.CaseID, ev); werr != nil {
		s.logger.Warn("announce quota refusal", "CaseID", row.CaseID, "Error", werr)
	}
}
