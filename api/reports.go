package api

import (
	"encoding/csv"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

// The managers' reports: SLA attainment (GET /v1/reports/sla) and the partner scorecard (GET
// /v1/reports/partners), as JSON or CSV. The figures are db's (db.SLAReport, db.PartnerReport); what each
// one means is docs/reports.md.

// SLAReportBody is the body of GET /v1/reports/sla: the window and filters it answers for (a bound not
// given is null), its groups in key order and their total.
type SLAReportBody struct {
	From      *time.Time    `json:"from"`
	To        *time.Time    `json:"to"`
	Service   string        `json:"service,omitempty"`
	PartnerID string        `json:"partner_id,omitempty"`
	GroupBy   string        `json:"group_by"`
	Groups    []db.SLAGroup `json:"groups"`
	Total     db.SLAGroup   `json:"total"`
}

// PartnerReportBody is the body of GET /v1/reports/partners: the window and a row per partner company
// (by id; "" — no partner — last).
type PartnerReportBody struct {
	From     *time.Time        `json:"from"`
	To       *time.Time        `json:"to"`
	Partners []db.PartnerScore `json:"partners"`
}

var (
	slaReportParams     = []string{"from", "to", "service", "partner_id", "group_by", "format"}
	partnerReportParams = []string{"from", "to", "format"}
)

// knownParams refuses a query parameter not in known.
func knownParams(c echo.Context, known []string) error {
	for k := range c.QueryParams() {
		if !slices.Contains(known, k) {
			return problem(CodeInvalid, "unknown query parameter %q; the parameters are %s", k, strings.Join(known, ", "))
		}
	}
	return nil
}

// windowParams reads from and to (timeParam's forms; to after from).
func windowParams(c echo.Context) (from, to time.Time, err error) {
	if from, err = timeParam(c.QueryParam("from"), false); err != nil {
		return from, to, problem(CodeInvalid, "from: %v", err)
	}
	if to, err = timeParam(c.QueryParam("to"), true); err != nil {
		return from, to, problem(CodeInvalid, "to: %v", err)
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return from, to, problem(CodeInvalid, "to: must be after from")
	}
	return from, to, nil
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func noStore(c echo.Context) {
	c.Response().Header().Set(echo.HeaderVary, echo.HeaderAccept)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
}

func (s *Server) slaReport(c echo.Context) error {
	if err := knownParams(c, slaReportParams); err != nil {
		return err
	}
	q := c.QueryParams()
	f := db.SLAReportFilter{Service: q.Get("service"), PartnerID: q.Get("partner_id"), GroupBy: q.Get("group_by")}
	if f.Service != "" && !workflows.KnownService(f.Service) {
		return problem(CodeInvalid, "service: unknown service %q; one of %s", f.Service, strings.Join(workflows.Services, ", "))
	}
	if len(f.PartnerID) > 128 || !utf8.ValidString(f.PartnerID) || strings.ContainsFunc(f.PartnerID, unicode.IsControl) {
		return problem(CodeInvalid, "partner_id: at most 128 characters, none of them control characters")
	}
	if f.GroupBy == "" {
		f.GroupBy = db.GroupService
	}
	if !slices.Contains(db.SLAGroupings(), f.GroupBy) {
		return problem(CodeInvalid, "group_by: one of %s", strings.Join(db.SLAGroupings(), ", "))
	}
	var err error
	if f.From, f.To, err = windowParams(c); err != nil {
		return err
	}
	asCSV, err := wantsCSV(q.Get("format"), c.Request().Header.Get(echo.HeaderAccept))
	if err != nil {
		return err
	}
	r, err := s.store.SLAReport(c.Request().Context(), f)
	if err != nil {
		return unavailable(err, "the report store")
	}
	noStore(c)
	body := SLAReportBody{From: optTime(f.From), To: optTime(f.To), Service: f.Service, PartnerID: f.PartnerID, GroupBy: f.GroupBy,
		Groups: r.Groups, Total: r.Total}
	if asCSV {
		return writeSLACSV(c, body)
	}
	return c.JSON(http.StatusOK, body)
}

func (s *Server) partnerReport(c echo.Context) error {
	if err := knownParams(c, partnerReportParams); err != nil {
		return err
	}
	from, to, err := windowParams(c)
	if err != nil {
		return err
	}
	asCSV, err := wantsCSV(c.QueryParam("format"), c.Request().Header.Get(echo.HeaderAccept))
	if err != nil {
		return err
	}
	rows, err := s.store.PartnerReport(c.Request().Context(), db.PartnerReportFilter{From: from, To: to})
	if err != nil {
		return unavailable(err, "the report store")
	}
	noStore(c)
	body := PartnerReportBody{From: optTime(from), To: optTime(to), Partners: rows}
	if asCSV {
		return writePartnersCSV(c, body)
	}
	return c.JSON(http.StatusOK, body)
}

// SLACSVHeader is the fixed part of GET /v1/reports/sla's CSV header: row is "group" or "total" (the last
// row); a figure that is null in JSON is an empty cell. After these come three columns per currency of the
// report, sorted: owed_cents_CNY, paid_cents_CNY, waived_cents_CNY, ….
var SLACSVHeader = []string{"row", "key", "service", "clause", "partner_id", "month", "started", "met", "breached", "open", "stopped",
	"attainment_pct", "median_to_meet_seconds", "p90_to_meet_seconds"}

// PartnerCSVHeader is the fixed part of GET /v1/reports/partners' CSV header, followed by three columns
// per currency as in SLACSVHeader.
var PartnerCSVHeader = []string{"partner_id", "name", "active", "offers", "accepted", "declined", "timed_out", "median_to_accept_seconds",
	"median_to_first_contact_seconds", "response_met", "response_breached", "response_attainment_pct", "handling_met", "handling_breached",
	"handling_attainment_pct", "breaches", "reports_disputed", "ratings", "average_rating", "open_cases", "capacity", "load_pct"}

// reportCurrencies lists the currencies of refunds, sorted: a report CSV has three columns for each.
func reportCurrencies(refunds ...map[string]db.RefundMoney) []string {
	var curs []string
	for _, m := range refunds {
		for cur := range m {
			if !slices.Contains(curs, cur) {
				curs = append(curs, cur)
			}
		}
	}
	sort.Strings(curs)
	return curs
}

func moneyCells(m map[string]db.RefundMoney, curs []string) []string {
	out := make([]string, 0, 3*len(curs))
	for _, cur := range curs {
		v := m[cur]
		out = append(out, strconv.FormatInt(v.Owed, 10), strconv.FormatInt(v.Paid, 10), strconv.FormatInt(v.Waived, 10))
	}
	return out
}

func moneyHeader(curs []string) []string {
	out := make([]string, 0, 3*len(curs))
	for _, cur := range curs {
		out = append(out, "owed_cents_"+cur, "paid_cents_"+cur, "waived_cents_"+cur)
	}
	return out
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func optInt(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

func optFloat(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

func csvStart(c echo.Context, name string) *csv.Writer {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Response().WriteHeader(http.StatusOK)
	return csv.NewWriter(c.Response())
}

func writeSLACSV(c echo.Context, b SLAReportBody) error {
	maps := []map[string]db.RefundMoney{b.Total.Refunds}
	for _, g := range b.Groups {
		maps = append(maps, g.Refunds)
	}
	curs := reportCurrencies(maps...)
	w := csvStart(c, "sla-report.csv")
	if err := w.Write(append(slices.Clone(SLACSVHeader), moneyHeader(curs)...)); err != nil {
		return err
	}
	row := func(kind string, g db.SLAGroup) []string {
		return append([]string{kind, csvText(g.Key), g.Service, g.Clause, csvText(g.PartnerID), g.Month, i64(g.Started), i64(g.Met), i64(g.Breached),
			i64(g.Open), i64(g.Stopped), optFloat(g.AttainmentPct), optInt(g.MedianToMeet), optInt(g.P90ToMeet)}, moneyCells(g.Refunds, curs)...)
	}
	for _, g := range b.Groups {
		if err := w.Write(row("group", g)); err != nil {
			return err
		}
	}
	if err := w.Write(row("total", b.Total)); err != nil {
		return err
	}
	w.Flush()
	return w.Error()
}

func writePartnersCSV(c echo.Context, b PartnerReportBody) error {
	maps := make([]map[string]db.RefundMoney, 0, len(b.Partners))
	for _, p := range b.Partners {
		maps = append(maps, p.Refunds)
	}
	curs := reportCurrencies(maps...)
	w := csvStart(c, "partner-report.csv")
	if err := w.Write(append(slices.Clone(PartnerCSVHeader), moneyHeader(curs)...)); err != nil {
		return err
	}
	for _, p := range b.Partners {
		rec := append([]string{csvText(p.PartnerID), csvText(p.Name), strconv.FormatBool(p.Active), i64(p.Offers), i64(p.Accepted), i64(p.Declined),
			i64(p.TimedOut), optInt(p.MedianToAccept), optInt(p.MedianToContact), i64(p.ResponseMet), i64(p.ResponseBreached), optFloat(p.ResponsePct),
			i64(p.HandlingMet), i64(p.HandlingBreached), optFloat(p.HandlingPct), i64(p.Breaches), i64(p.Disputed), i64(p.Ratings),
			optFloat(p.AverageRating), strconv.Itoa(p.OpenCases), strconv.Itoa(p.Capacity), optFloat(p.LoadPct)}, moneyCells(p.Refunds, curs)...)
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
