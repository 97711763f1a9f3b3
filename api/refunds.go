package api

import (
	"encoding/csv"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// Refunds that get paid: finance lists them (GET /v1/refunds, JSON or CSV), the marketplace reports each
// one paid with its payment reference (POST /v1/refunds/{id}/paid, signed), a manager may waive one with a
// reason (POST /v1/refunds/{id}/waive). The state machine is db's (MarkRefundPaid, WaiveRefund).

// RefundItem is one refund as finance reads it. Times are RFC 3339 in UTC; a time not reached yet is null.
type RefundItem struct {
	ID           string     `json:"id"`
	CaseID       string     `json:"case_id"`
	OrderID      string     `json:"order_id"`
	CustomerID   string     `json:"customer_id"`
	Service      string     `json:"service"`
	PartnerID    string     `json:"partner_id"`
	Clause       string     `json:"clause"`
	Percent      int        `json:"percent"`
	AmountCents  int64      `json:"amount_cents"`
	Currency     string     `json:"currency"`
	State        string     `json:"state"`
	CreatedAt    time.Time  `json:"created_at"`
	InstructedAt *time.Time `json:"instructed_at"`
	PaidAt       *time.Time `json:"paid_at"`
	Reference    string     `json:"reference"`
	WaivedAt     *time.Time `json:"waived_at"`
	WaivedBy     string     `json:"waived_by"`
	WaivedReason string     `json:"waived_reason"`
}

// RefundSums adds up refunds of one currency by state, in cents; Total is all of them.
type RefundSums struct {
	Owed       int64 `json:"owed"`
	Instructed int64 `json:"instructed"`
	Paid       int64 `json:"paid"`
	Waived     int64 `json:"waived"`
	Total      int64 `json:"total"`
}

// RefundList is the body of GET /v1/refunds: the refunds selected, oldest first, and their sums per
// currency.
type RefundList struct {
	Items []RefundItem          `json:"items"`
	Sums  map[string]RefundSums `json:"sums"`
}

// unknownCurrency keys the sums of refunds whose order is missing (ISO 4217's "no currency").
const unknownCurrency = "XXX"

func refundItem(r db.RefundRow) RefundItem {
	cur := r.Currency
	if cur == "" {
		cur = unknownCurrency
	}
	return RefundItem{
		ID: r.ID, CaseID: r.CaseID, OrderID: r.OrderID, CustomerID: r.CustomerID, Service: r.Service, PartnerID: r.PartnerID,
		Clause: r.Clause, Percent: r.Percent, AmountCents: r.AmountCents, Currency: cur, State: r.State,
		CreatedAt: r.CreatedAt.UTC(), InstructedAt: r.InstructedAt, PaidAt: r.PaidAt, Reference: r.Reference,
		WaivedAt: r.WaivedAt, WaivedBy: r.WaivedBy, WaivedReason: r.WaivedReason,
	}
}

// refundParams are the query parameters GET /v1/refunds takes.
var refundParams = []string{"state", "from", "to", "service", "partner_id", "format"}

func (s *Server) listRefunds(c echo.Context) error {
	q := c.QueryParams()
	for k := range q {
		if !slices.Contains(refundParams, k) {
			return problem(CodeInvalid, "unknown query parameter %q; the filters are %s", k, strings.Join(refundParams, ", "))
		}
	}
	f := db.RefundFilter{State: q.Get("state"), Service: q.Get("service"), PartnerID: q.Get("partner_id")}
	if f.State != "" && !slices.Contains(db.RefundStates(), f.State) {
		return problem(CodeInvalid, "state: one of %s", strings.Join(db.RefundStates(), ", "))
	}
	if f.Service != "" && !workflows.KnownService(f.Service) {
		return problem(CodeInvalid, "service: unknown service %q; one of %s", f.Service, strings.Join(workflows.Services, ", "))
	}
	if len(f.PartnerID) > 128 || !utf8.ValidString(f.PartnerID) || strings.ContainsFunc(f.PartnerID, unicode.IsControl) {
		return problem(CodeInvalid, "partner_id: at most 128 characters, none of them control characters")
	}
	var err error
	if f.From, err = timeParam(q.Get("from"), false); err != nil {
		return problem(CodeInvalid, "from: %v", err)
	}
	if f.To, err = timeParam(q.Get("to"), true); err != nil {
		return problem(CodeInvalid, "to: %v", err)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return problem(CodeInvalid, "to: must be after from")
	}
	asCSV, err := wantsCSV(q.Get("format"), c.Request().Header.Get(echo.HeaderAccept))
	if err != nil {
		return err
	}
	rows, err := s.store.ListRefundsFor(c.Request().Context(), f)
	if err != nil {
		return unavailable(err, "the refund store")
	}
	out := RefundList{Items: make([]RefundItem, 0, len(rows)), Sums: map[string]RefundSums{}}
	for _, r := range rows {
		it := refundItem(r)
		out.Items = append(out.Items, it)
		sum := out.Sums[it.Currency]
		switch it.State {
		case db.RefundOwed:
			sum.Owed += it.AmountCents
		case db.RefundInstructed:
			sum.Instructed += it.AmountCents
		case db.RefundPaid:
			sum.Paid += it.AmountCents
		case db.RefundWaived:
			sum.Waived += it.AmountCents
		}
		sum.Total += it.AmountCents
		out.Sums[it.Currency] = sum
	}
	c.Response().Header().Set(echo.HeaderVary, echo.HeaderAccept)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	if asCSV {
		return writeRefundsCSV(c, out.Items)
	}
	return c.JSON(http.StatusOK, out)
}

// RefundCSVHeader is the header row of GET /v1/refunds as CSV; each row has these columns, times RFC 3339 in
// UTC (empty when not reached).
var RefundCSVHeader = []string{"id", "case_id", "order_id", "customer_id", "service", "partner_id", "clause", "percent", "amount_cents",
	"currency", "state", "created_at", "instructed_at", "paid_at", "reference", "waived_at", "waived_by", "waived_reason"}

func writeRefundsCSV(c echo.Context, items []RefundItem) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="refunds.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write(RefundCSVHeader); err != nil {
		return err
	}
	when := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, it := range items {
		rec := []string{it.ID, it.CaseID, it.OrderID, it.CustomerID, it.Service, it.PartnerID, it.Clause, strconv.Itoa(it.Percent),
			strconv.FormatInt(it.AmountCents, 10), it.Currency, it.State, it.CreatedAt.UTC().Format(time.RFC3339),
			when(it.InstructedAt), when(it.PaidAt), csvText(it.Reference), when(it.WaivedAt), csvText(it.WaivedBy), csvText(it.WaivedReason)}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// csvText keeps free text from being read as a formula by a spreadsheet: a cell starting with = + - @ or a
// tab or carriage return gets a leading apostrophe (OWASP's advice on CSV injection).
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// wantsCSV reads the format parameter (json or csv), else the Accept header: CSV when it prefers text/csv
// to application/json.
func wantsCSV(format, accept string) (bool, error) {
	switch format {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, problem(CodeInvalid, "format: json or csv, not %q", format)
	}
	if strings.TrimSpace(accept) == "" {
		return false, nil
	}
	return acceptQ(accept, "text/csv") > acceptQ(accept, "application/json"), nil
}

// timeParam reads a from or to parameter: RFC 3339, or a date (YYYY-MM-DD), which means the start of that day
// in Beijing time, or for to, the end of it (the next day's start: to is exclusive).
func timeParam(v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseInLocation(time.DateOnly, v, sla.China)
	if err != nil {
		return time.Time{}, errors.New("an RFC 3339 time (2026-03-01T00:00:00+08:00) or a date (2026-03-01, Beijing time)")
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d.UTC(), nil
}

// RefundPaidInput is the marketplace's report that it paid a refund: when (RFC 3339) and its payment's
// reference.
type RefundPaidInput struct {
	PaidAt    string `json:"paid_at"`
	Reference string `json:"reference"`
}

// maxReference bounds a payment reference, in characters.
const maxReference = 128

// Validate checks the report against the clock: paid_at may be ahead of it by the signature window at most.
func (in RefundPaidInput) Validate(now time.Time) (time.Time, error) {
	if in.PaidAt == "" {
		return time.Time{}, errors.New("paid_at: required, an RFC 3339 time")
	}
	at, err := time.Parse(time.RFC3339, in.PaidAt)
	switch {
	case err != nil:
		return time.Time{}, errors.New("paid_at: an RFC 3339 time, e.g. 2026-03-01T09:00:00+08:00")
	case at.After(now.Add(SignatureWindow)):
		return time.Time{}, errors.New("paid_at: in the future")
	case at.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)):
		return time.Time{}, errors.New("paid_at: before 2000")
	}
	if err := printable("reference", in.Reference, maxReference); err != nil {
		return time.Time{}, err
	}
	return at.UTC(), nil
}

// printable checks a required free-text field: 1 to max characters, all printable, no surrounding spaces.
func printable(field, v string, max int) error {
	switch {
	case strings.TrimSpace(v) == "":
		return errors.New(field + ": required")
	case utf8.RuneCountInString(v) > max:
		return errors.New(field + ": at most " + strconv.Itoa(max) + " characters")
	case strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }):
		return errors.New(field + ": printable characters only (no control characters, tabs or line breaks)")
	case strings.TrimSpace(v) != v:
		return errors.New(field + ": no leading or trailing spaces")
	}
	return nil
}

// refundID reads the id path parameter; anything that is not a refund id is no refund.
func refundID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !validHexID(id, "ref_") {
		return "", problem(CodeNotFound, "no refund %q", id)
	}
	return id, nil
}

// validHexID admits prefix followed by 24 lower-case hex digits (db's ids: RefundID, WebhookDeliveryID).
func validHexID(id, prefix string) bool {
	hex, ok := strings.CutPrefix(id, prefix)
	if !ok || len(hex) != 24 {
		return false
	}
	return !strings.ContainsFunc(hex, func(r rune) bool { return (r < '0' || r > '9') && (r < 'a' || r > 'f') })
}

// refundError maps a db error of a refund transition to a problem.
func refundError(err error, id string) error {
	switch {
	case errors.Is(err, db.ErrNotFound):
		return problem(CodeNotFound, "no refund %q", id)
	case errors.Is(err, db.ErrConflict):
		return problem(CodeConflict, "%s", strings.TrimSuffix(err.Error(), ": "+db.ErrConflict.Error()))
	case errors.Is(err, db.ErrInvalid):
		return problem(CodeInvalid, "%s", strings.TrimSuffix(err.Error(), ": "+db.ErrInvalid.Error()))
	}
	return unavailable(err, "the refund store")
}

// refundPaid records the marketplace's payment of a refund: 200 with the refund, the same again 200
// unchanged, another reference 409.
func (s *Server) refundPaid(c echo.Context) error {
	id, err := refundID(c)
	if err != nil {
		return err
	}
	var in RefundPaidInput
	if err := decodeStrict(c.Get("raw_body").([]byte), &in); err != nil {
		return err
	}
	at, err := in.Validate(s.now())
	if err != nil {
		return problem(CodeInvalid, "%v", err)
	}
	r, _, err := s.store.MarkRefundPaid(c.Request().Context(), id, at, in.Reference)
	if err != nil {
		return refundError(err, id)
	}
	return c.JSON(http.StatusOK, refundItem(r))
}

// RefundWaiveInput is a manager's waiver of a refund.
type RefundWaiveInput struct {
	Reason string `json:"reason"`
}

// maxWaiveReason bounds a waiver's reason, in characters.
const maxWaiveReason = 500

// waiveRefund records a manager's waiver: 200 with the refund (again: unchanged), a paid refund 409.
func (s *Server) waiveRefund(c echo.Context) error {
	id, err := refundID(c)
	if err != nil {
		return err
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var in RefundWaiveInput
	if err := decodeStrict(body, &in); err != nil {
		return err
	}
	if err := printable("reason", in.Reason, maxWaiveReason); err != nil {
		return problem(CodeInvalid, "%v", err)
	}
	p := principalOf(c)
	by := p.Name
	if by == "" {
		by = p.TokenID
	}
	r, _, err := s.store.WaiveRefund(c.Request().Context(), id, by, in.Reason, s.now())
	if err != nil {
		return refundError(err, id)
	}
	return c.JSON(http.StatusOK, refundItem(r))
}
