package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

// The customer's view: the marketplace reads a case, or the list of a customer's cases, on the customer's
// behalf, with a v2 signature. The view says where the case stands in words, how each SLA clause is doing,
// what is refunded and whether the report is ready, and keeps out what is the partners' and the provider's
// own: partner assignment (offers, declines, timeouts), engineers' names, the partner's id and the service's
// internal details.

// StagePhrases says each stage in words, as the customer reads it.
var StagePhrases = map[string]string{
	workflows.StageAssignment: "finding a partner engineer for your case",
	workflows.StagePlanning:   "the engineer is preparing the service plan with you",
	workflows.StageReport:     "the engineer is writing the report",
	workflows.StageClosed:     "closed: the work is done",
	workflows.StageExpired:    "closed: the time allowed or the term ran out",
	workflows.StageCancelled:  "cancelled",
	// SOS.
	"confirmation": "waiting for the engineer's first contact and the confirmation of the incident",
	"containment":  "the engineer is containing the attack",
	"eradication":  "the engineer is removing malware, webshells and backdoors",
	"analysis":     "the engineer is analysing the root cause",
	"review":       "the report is ready for your review",
	"out_of_scope": "closed: not a security incident; an ordinary support ticket is the way to go",
	// 等保整改.
	"kickoff":       "a partner accepted; waiting for the service to start formally",
	"rectification": "rectification work is under way",
	"closing":       "the assessment was passed; the service report is being delivered",
	// Security Butler.
	"onboarding": "waiting for the engineer's first contact and the service channel",
	"service":    "the service is running",
	// Hosting.
	"hosted": "hosting is running; requests are worked as they arrive",
	// Security escort.
	"scheduled": "the protection plan is agreed; the covered days have not begun",
	"on_duty":   "engineers are on duty for the covered days",
	// Engagements.
	"scheduling": "agreeing the dates of the engagement",
	"delivery":   "the work is being delivered",
	"acceptance": "the deliverable is ready for your acceptance",
}

// stageText is a stage in words; a stage without a phrase reads as its name.
func stageText(stage string) string {
	if p, ok := StagePhrases[stage]; ok {
		return p
	}
	return strings.ReplaceAll(stage, "_", " ")
}

// CustomerRefund is one refund in the customer's view.
type CustomerRefund struct {
	ID          string     `json:"id"`
	Clause      string     `json:"clause"`
	Percent     int        `json:"percent"`
	AmountCents int64      `json:"amount_cents"`
	Currency    string     `json:"currency"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
}

// ReportAvailability says whether GET /v1/cases/{id}/report would answer, and with which document.
type ReportAvailability struct {
	Available bool   `json:"available"`
	Kind      string `json:"kind,omitempty"`
	Version   int    `json:"version,omitempty"`
}

// CustomerCaseView is a case as its customer sees it. Times are RFC 3339 in UTC.
type CustomerCaseView struct {
	CaseID      string                    `json:"case_id"`
	Service     string                    `json:"service"`
	Spec        string                    `json:"spec,omitempty"`
	Stage       string                    `json:"stage"`
	StageText   string                    `json:"stage_text"`
	Status      string                    `json:"status"`
	CustomerID  string                    `json:"customer_id"`
	OrderID     string                    `json:"order_id"`
	AmountCents int64                     `json:"amount_cents"`
	Currency    string                    `json:"currency,omitempty"`
	OpenedAt    time.Time                 `json:"opened_at"`
	ClosedAt    *time.Time                `json:"closed_at,omitempty"`
	SLA         []workflows.SLAEntry      `json:"sla"`
	Refund      workflows.Refund          `json:"refund"`
	Refunds     []CustomerRefund          `json:"refunds"`
	Report      ReportAvailability        `json:"report"`
	Timeline    []workflows.TimelineEntry `json:"timeline"`
}

// customerCase answers GET /v1/cases/{id}?customer_id= signed by the marketplace: the customer's view. A
// customer id that is not the case's is answered exactly like a missing case.
func (s *Server) customerCase(c echo.Context) error {
	for k := range c.QueryParams() {
		if k != "customer_id" {
			return problem(CodeInvalid, "unknown query parameter %q; the marketplace reads a case with customer_id", k)
		}
	}
	customer := c.QueryParam("customer_id")
	if !validCustomerID(customer) {
		return problem(CodeInvalid, "customer_id: required, 1 to 64 letters, digits, '.', '_' or '-'")
	}
	row, err := s.caseFor(c)
	if err != nil {
		return err
	}
	if row.CustomerID != customer {
		return problem(CodeNotFound, "no case %q", c.Param("id"))
	}
	ctx := c.Request().Context()
	v, err := s.caseView(ctx, row, principalOf(c)) // the marketplace's: no line names anyone
	if err != nil {
		return err
	}
	out := CustomerCaseView{
		CaseID: row.CaseID, Service: v.Service, Spec: v.Spec, Stage: v.Stage, StageText: stageText(v.Stage), Status: v.Status,
		CustomerID: row.CustomerID, OrderID: row.OrderID, AmountCents: v.AmountCents, Currency: v.Currency,
		OpenedAt: row.OpenedAt.UTC(), ClosedAt: row.ClosedAt, SLA: v.SLA, Refund: v.Refund,
		Refunds: []CustomerRefund{},
	}
	if out.Currency == "" {
		o, err := s.store.GetOrder(ctx, row.OrderID)
		switch {
		case err == nil:
			out.Currency = o.Currency
		case !errors.Is(err, db.ErrNotFound):
			return unavailable(err, "the order store")
		}
	}
	refunds, err := s.store.ListRefunds(ctx, row.CaseID)
	if err != nil {
		return unavailable(err, "the refund store")
	}
	for _, r := range refunds {
		out.Refunds = append(out.Refunds, CustomerRefund{ID: r.ID, Clause: r.Clause, Percent: r.Percent, AmountCents: r.AmountCents,
			Currency: out.Currency, State: r.State, CreatedAt: r.CreatedAt.UTC(), PaidAt: r.PaidAt})
	}
	if out.Report, err = s.reportAvailability(ctx, row); err != nil {
		return err
	}
	if out.Timeline, err = s.customerTimeline(ctx, row, v.Timeline); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, out)
}

// reportAvailability finds the document GET /v1/cases/{id}/report answers without parameters.
func (s *Server) reportAvailability(ctx context.Context, row *db.Case) (ReportAvailability, error) {
	kinds, _ := reportKinds("", row.Service) // without a kind parameter there is no error
	for _, kind := range kinds {
		r, err := s.store.LatestReport(ctx, row.CaseID, kind, db.FormatHTML)
		switch {
		case err == nil:
			return ReportAvailability{Available: true, Kind: r.Kind, Version: r.Version}, nil
		case !errors.Is(err, db.ErrNotFound):
			return ReportAvailability{}, unavailable(err, "the report store")
		}
	}
	return ReportAvailability{}, nil
}

// actorKinds are the actors a customer's timeline names; anything else reads as the system.
var actorKinds = []string{workflows.ActorPartner, workflows.ActorMarketplace, workflows.ActorManager, workflows.ActorSystem}

// customerTimeline is a case's timeline without partner assignment (which names other partners) and
// without engineers' names: each line's actor is its kind, and the token name an acceptance line carries
// is taken out.
func (s *Server) customerTimeline(ctx context.Context, row *db.Case, timeline []workflows.TimelineEntry) ([]workflows.TimelineEntry, error) {
	out := make([]workflows.TimelineEntry, 0, len(timeline))
	var names []string
	loaded := false
	for _, e := range timeline {
		if slices.Contains(workflows.AssignmentEvents, workflows.Event(e.Event)) {
			continue
		}
		if !slices.Contains(actorKinds, e.Actor) {
			e.Actor = workflows.ActorSystem
		}
		e.By = nil // no engineer's or manager's name
		if e.Event == string(workflows.EventPartnerAccepted) {
			if !loaded {
				var err error
				if names, err = s.partnerTokenNames(ctx, row.PartnerID); err != nil {
					return nil, err
				}
				loaded = true
			}
			e.Detail = withoutEngineer(e.Detail, names)
		}
		out = append(out, e)
	}
	return out, nil
}

// partnerTokenNames lists the names of a partner's tokens, revoked ones too.
func (s *Server) partnerTokenNames(ctx context.Context, partnerID string) ([]string, error) {
	toks, err := s.store.ListTokens(ctx)
	if err != nil {
		return nil, unavailable(err, "the token store")
	}
	var names []string
	for _, t := range toks {
		if t.Role == db.RolePartner && t.PartnerID == partnerID && t.Name != "" {
			names = append(names, t.Name)
		}
	}
	return names, nil
}

// withoutEngineer takes the engineer's name out of an acceptance line, "P accepted (NAME)[; note]": the
// name of one of the partner's tokens, or else whatever the parentheses hold.
func withoutEngineer(detail string, names []string) string {
	i := strings.Index(detail, " accepted (")
	if i < 0 {
		return detail
	}
	head, rest := detail[:i]+" accepted", detail[i+len(" accepted ("):]
	// The longest matching name first, so that "eng" does not cut "eng (night)" short.
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	for _, n := range names {
		if after, ok := strings.CutPrefix(rest, n+")"); ok {
			return head + after
		}
	}
	if j := strings.Index(rest, ")"); j >= 0 {
		return head + rest[j+1:]
	}
	return head
}

// validCustomerID admits the customer ids a purchase takes: 1 to 64 letters, digits, '.', '_' or '-'.
func validCustomerID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return !strings.ContainsFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	})
}

// CustomerCaseSummary is one case in a customer's list.
type CustomerCaseSummary struct {
	CaseID        string    `json:"case_id"`
	Service       string    `json:"service"`
	Spec          string    `json:"spec,omitempty"`
	Stage         string    `json:"stage"`
	StageText     string    `json:"stage_text"`
	Status        string    `json:"status"`
	SLAStatus     string    `json:"sla_status"`
	RefundPercent int       `json:"refund_percent"`
	OpenedAt      time.Time `json:"opened_at"`
}

// CustomerCaseList is the body of GET /v1/customers/{customer_id}/cases.
type CustomerCaseList struct {
	Cases []CustomerCaseSummary `json:"cases"`
}

// customerCases lists a customer's cases, newest first, limit and offset as GET /v1/cases takes them.
func (s *Server) customerCases(c echo.Context) error {
	q := c.QueryParams()
	for k := range q {
		if k != "limit" && k != "offset" {
			return problem(CodeInvalid, "unknown query parameter %q", k)
		}
	}
	customer := c.Param("customer_id")
	if !validCustomerID(customer) {
		return problem(CodeInvalid, "customer_id: 1 to 64 letters, digits, '.', '_' or '-'")
	}
	limit, err := intParam(q.Get("limit"), db.DefaultCaseLimit, 1, db.MaxCaseLimit)
	if err != nil {
		return problem(CodeInvalid, "limit: %v", err)
	}
	offset, err := intParam(q.Get("offset"), 0, 0, 1_000_000)
	if err != nil {
		return problem(CodeInvalid, "offset: %v", err)
	}
	rows, err := s.store.ListCustomerCases(c.Request().Context(), customer, limit, offset)
	if err != nil {
		return unavailable(err, "the case store")
	}
	out := CustomerCaseList{Cases: make([]CustomerCaseSummary, 0, len(rows))}
	for _, r := range rows {
		out.Cases = append(out.Cases, CustomerCaseSummary{
			CaseID: r.CaseID, Service: r.Service, Spec: r.Spec, Stage: r.Stage, StageText: stageText(r.Stage), Status: r.Status,
			SLAStatus: r.SLAStatus, RefundPercent: r.RefundPercent, OpenedAt: r.OpenedAt.UTC(),
		})
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, out)
}

// requireV2 admits a marketplace call only with v2 signatures (bound to the method and path), every one of
// them: the customer's reads have an empty body, which a v1 signature would not tie to the case read.
func requireV2(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sigs := strings.Split(c.Request().Header.Get(HeaderSignature), ",")
		if slices.ContainsFunc(sigs, func(sig string) bool { return !strings.HasPrefix(strings.TrimSpace(sig), "v2=") }) {
			return problem(CodeUnauthorized, "marketplace signature rejected: sign this call with v2= (it covers the method and path)")
		}
		return next(c)
	}
}

// caseAuth admits who may read a case: the marketplace by a v2 signature (the customer's view), otherwise
// a partner's or manager's bearer token (the case view). A request with a signature header and no bearer
// token goes the marketplace way, as for the report.
func (s *Server) caseAuth(next echo.HandlerFunc) echo.HandlerFunc {
	signed := requireV2(s.marketplaceAuth(next))
	bearer := s.tokenAuth(requireRole(RolePartner, RoleManager)(next))
	return func(c echo.Context) error {
		h := c.Request().Header
		if h.Get(echo.HeaderAuthorization) == "" && (h.Get(HeaderSignature) != "" || h.Get(HeaderTimestamp) != "") {
			return signed(c)
		}
		return bearer(c)
	}
}

// readCase answers GET /v1/cases/{id}: the customer's view to the marketplace, the case view to partners
// and managers.
func (s *Server) readCase(c echo.Context) error {
	if principalOf(c).Role == RoleMarketplace {
		return s.customerCase(c)
	}
	return s.getCase(c)
}
