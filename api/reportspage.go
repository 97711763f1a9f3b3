package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// The managers' page, GET /reports: the reports (SLA attainment per service and clause over months, refunds
// per month, the partner scorecard) as server-rendered HTML with SVG charts drawn here, nothing fetched from
// elsewhere and no script. Sign-in is one form: POST /reports/login checks a manager token as the API does
// and sets a cookie holding a random session id (never the token), mapped in memory to the token's id;
// GET /reports/logout ends the session. Each figure links to the matching Temporal Web UI query when the
// API knows the UI's address (Config.WebUIURL).

//go:embed reportspage/*.html
var reportsPageFS embed.FS

// Paths of the page.
const (
	ReportsPath       = "/reports"
	ReportsLoginPath  = "/reports/login"
	ReportsLogoutPath = "/reports/logout"
	// ReportsCookie names the page's session cookie.
	ReportsCookie = "steward_reports"
	// reportsSessionTTL is how long a sign-in lasts.
	reportsSessionTTL = 12 * time.Hour
	// maxReportsSessions bounds the sessions kept in memory.
	maxReportsSessions = 10000
	// maxReportMonths bounds the window the page charts.
	maxReportMonths = 60
)

// reportSource is what the page reads: the reports' queries (db/reports_sla.go), which *db.Store answers.
type reportSource interface {
	SLAReport(ctx context.Context, f db.SLAReportFilter) (db.SLAReport, error)
	PartnerReport(ctx context.Context, f db.PartnerReportFilter) ([]db.PartnerScore, error)
}

// attainmentRow counts the clocks of one service and clause started in one month.
type attainmentRow struct {
	Service, Clause string
	Month           time.Time // the month's first day, Beijing time
	Started, Met    int
	Breached, Open  int
}

// refundMonthRow sums the refunds of one currency of the clocks started in one month, in cents.
type refundMonthRow struct {
	Month      time.Time
	Currency   string
	Owed, Paid int64 // Owed: every refund not waived, paid or not; Paid: those paid
}

// scoreRow is one partner's line of the scorecard. A nil figure is one with nothing to measure.
type scoreRow struct {
	PartnerID, Name                        string
	Offers, Accepted, Declined             int
	TimedOut                               int
	AcceptMedian, ContactMedian            *time.Duration
	ResponseAttainment, HandlingAttainment *float64 // percent
	Breaches                               int
	Refunds                                map[string]int64 // cents by currency
	Disputed                               int
	Rating                                 *float64
	Open, Capacity                         int
}

// reportsPage serves /reports.
type reportsPage struct {
	s         *Server
	source    reportSource
	uiURL     string
	namespace string
	tmpl      *template.Template

	mu       sync.Mutex
	sessions map[string]reportsSession
}

type reportsSession struct {
	tokenID, name string
	expires       time.Time
}

func newReportsPage(s *Server, cfg Config, source reportSource) *reportsPage {
	ns := cfg.Namespace
	if ns == "" {
		ns = "default"
	}
	return &reportsPage{
		s: s, source: source, uiURL: strings.TrimRight(cfg.WebUIURL, "/"), namespace: ns,
		tmpl:     template.Must(template.New("").Funcs(reportsFuncs).ParseFS(reportsPageFS, "reportspage/*.html")),
		sessions: map[string]reportsSession{},
	}
}

// routes registers the page's routes; limit is the API's rate limit per credential.
func (p *reportsPage) routes(e *echo.Echo, limit echo.MiddlewareFunc) {
	e.GET(ReportsPath, p.page, p.session, limit)
	e.POST(ReportsLoginPath, p.login, p.s.preAuth) // a wrong token is an authentication failure like any other
	e.GET(ReportsLogoutPath, p.logout)
}

// session admits a request with a live session of a live manager token; without one it shows the sign-in
// form.
func (p *reportsPage) session(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, ok := p.lookup(c)
		if ok {
			live, err := p.liveManager(c.Request().Context(), sess.tokenID)
			if err != nil {
				return unavailable(err, "the token store")
			}
			if !live {
				p.drop(c)
				ok = false
			}
		}
		if !ok {
			return p.render(c, http.StatusOK, "login.html", loginView{})
		}
		c.Set("principal", Principal{Role: RoleManager, TokenID: sess.tokenID, Name: sess.name})
		return next(c)
	}
}

// lookup returns the request's session, if its cookie names one that has not expired.
func (p *reportsPage) lookup(c echo.Context) (reportsSession, bool) {
	ck, err := c.Cookie(ReportsCookie)
	if err != nil || ck.Value == "" {
		return reportsSession{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	sess, ok := p.sessions[ck.Value]
	if ok && !p.s.now().Before(sess.expires) {
		delete(p.sessions, ck.Value)
		ok = false
	}
	return sess, ok
}

// liveManager reports whether the token is a manager's, neither revoked nor expired. It reads the database
// on every request, so a revocation ends the session at once.
func (p *reportsPage) liveManager(ctx context.Context, tokenID string) (bool, error) {
	t, err := p.s.store.GetToken(ctx, tokenID)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	st := t.State(p.s.now())
	return t.Role == db.RoleManager && (st == db.TokenLive || st == db.TokenRotated), nil
}

// drop forgets the request's session and clears its cookie.
func (p *reportsPage) drop(c echo.Context) {
	if ck, err := c.Cookie(ReportsCookie); err == nil {
		p.mu.Lock()
		delete(p.sessions, ck.Value)
		p.mu.Unlock()
	}
	c.SetCookie(p.cookie(c, "", -1))
}

func (p *reportsPage) cookie(c echo.Context, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: ReportsCookie, Value: value, Path: ReportsPath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Request().TLS != nil || c.Scheme() == "https",
	}
}

type loginView struct {
	Error string
}

// login checks the form's manager token and starts a session: 303 to the page. A wrong token shows the
// form again, 401. A form posted from another site's page is refused (login CSRF).
func (p *reportsPage) login(c echo.Context) error {
	if !sameOrigin(c.Request()) {
		return p.render(c, http.StatusForbidden, "login.html", loginView{Error: "请从本页登录 sign in from this page"})
	}
	secret := strings.TrimSpace(c.FormValue("token"))
	if secret == "" {
		return p.render(c, http.StatusUnauthorized, "login.html", loginView{Error: "请输入经理令牌 enter the manager token"})
	}
	tok, err := p.s.store.AuthenticateAt(c.Request().Context(), secret, p.s.now())
	if errors.Is(err, db.ErrNotFound) || (err == nil && tok.Role != db.RoleManager) {
		return p.render(c, http.StatusUnauthorized, "login.html", loginView{Error: "令牌无效 unknown, expired, revoked or not a manager token"})
	}
	if err != nil {
		return unavailable(err, "the token store")
	}
	id := newSessionID()
	now := p.s.now()
	p.mu.Lock()
	for k, v := range p.sessions {
		if !now.Before(v.expires) || len(p.sessions) >= maxReportsSessions {
			delete(p.sessions, k)
		}
	}
	p.sessions[id] = reportsSession{tokenID: tok.ID, name: tok.Name, expires: now.Add(reportsSessionTTL)}
	p.mu.Unlock()
	p.s.logger.InfoContext(c.Request().Context(), "reports page: signed in", slog.String("token_id", tok.ID))
	c.SetCookie(p.cookie(c, id, int(reportsSessionTTL/time.Second)))
	return c.Redirect(http.StatusSeeOther, ReportsPath)
}

// logout ends the session and shows the sign-in form.
func (p *reportsPage) logout(c echo.Context) error {
	p.drop(c)
	return c.Redirect(http.StatusSeeOther, ReportsPath)
}

// sameOrigin admits a form post from this host's pages. A browser's Sec-Fetch-Site decides when sent: the
// same origin, or none (the user's own action). Without it an Origin header, when present, must name the
// host the request was sent to; under the API's Referrer-Policy no-referrer a browser sends "null", which
// then says nothing.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && subtle.ConstantTimeCompare([]byte(u.Host), []byte(r.Host)) == 1
}

func newSessionID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p *reportsPage) render(c echo.Context, status int, name string, data any) error {
	var b strings.Builder
	if err := p.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return internal(err, "rendering the reports page")
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	return c.HTML(status, b.String())
}

// The page's view.

type pageView struct {
	Manager   string
	From, To  string // the window's dates as the form shows them (to inclusive)
	Window    string
	Error     string
	Months    []string
	Charts    []clauseChart
	Refunds   []refundChart
	Columns   []scoreColumn
	Partners  []scoreLine
	Generated string
	UI        string // the Web UI's query page, "" without a UI
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH   = 360.0, 150.0
	chartL, chartR   = 34.0, 8.0
	chartT, chartB   = 12.0, 28.0
	chartPlotW       = chartW - chartL - chartR
	chartPlotH       = chartH - chartT - chartB
	barChartW        = 720.0
	barChartPlotW    = barChartW - chartL - chartR
	attainmentTarget = 100.0
)

type clauseChart struct {
	ID, Service, Clause  string
	Started, Met, Opened int
	Breached             int
	Attainment           string // "87.5%", "—" when nothing was judged
	Line                 string // polyline points
	Points               []chartPoint
	Ticks                []chartTick
	Link, BreachedLink   string
}

type chartPoint struct {
	X, Y       float64
	W, H       float64 // bars
	Label      string  // the month
	Value      string
	Title      string
	Link       string
	Has        bool
	PaidH      float64
	PaidY      float64
	ValueY     float64
	LabelShown bool
}

type chartTick struct {
	Y     float64
	Label string
}

type refundChart struct {
	ID, Currency string
	Total, Paid  string
	Bars         []chartPoint
	Ticks        []chartTick
	Link         string
}

type scoreColumn struct {
	Key, Label, Link, Sort string // Sort: ascending, descending or none (aria-sort)
	Arrow                  string
}

type scoreLine struct {
	Cells []scoreCell
}

type scoreCell struct {
	Text, Link string
	Num        bool
}

// The scorecard's columns, in order: the sort key and the label.
type scoreColumnDef struct {
	key, label string
	less       func(a, b scoreRow) int
}

var scoreColumns = []scoreColumnDef{
	{"partner", "合作方 partner", func(a, b scoreRow) int { return cmp.Compare(a.PartnerID, b.PartnerID) }},
	{"offers", "派单 offers", func(a, b scoreRow) int { return cmp.Compare(a.Offers, b.Offers) }},
	{"accepted", "接单 accepted", func(a, b scoreRow) int { return cmp.Compare(a.Accepted, b.Accepted) }},
	{"declined", "拒单 declined", func(a, b scoreRow) int { return cmp.Compare(a.Declined, b.Declined) }},
	{"timed_out", "超时 timed out", func(a, b scoreRow) int { return cmp.Compare(a.TimedOut, b.TimedOut) }},
	{"accept_median", "接单中位 median to accept", func(a, b scoreRow) int { return cmpDur(a.AcceptMedian, b.AcceptMedian) }},
	{"contact_median", "首次联系中位 median to contact", func(a, b scoreRow) int { return cmpDur(a.ContactMedian, b.ContactMedian) }},
	{"response", "响应达成 response", func(a, b scoreRow) int { return cmpFloat(a.ResponseAttainment, b.ResponseAttainment) }},
	{"handling", "处置达成 handling", func(a, b scoreRow) int { return cmpFloat(a.HandlingAttainment, b.HandlingAttainment) }},
	{"breaches", "违约 breaches", func(a, b scoreRow) int { return cmp.Compare(a.Breaches, b.Breaches) }},
	{"refunds", "退款 refunds", func(a, b scoreRow) int { return cmp.Compare(sumCents(a.Refunds), sumCents(b.Refunds)) }},
	{"disputed", "报告争议 disputed", func(a, b scoreRow) int { return cmp.Compare(a.Disputed, b.Disputed) }},
	{"rating", "客户评分 rating", func(a, b scoreRow) int { return cmpFloat(a.Rating, b.Rating) }},
	{"open", "在办/容量 open / capacity", func(a, b scoreRow) int { return cmp.Compare(a.Open, b.Open) }},
}

func cmpDur(a, b *time.Duration) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

func cmpFloat(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

func sumCents(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// page renders the reports for the window in the query (from, to: dates in Beijing time, to inclusive;
// default the last 12 months) and the scorecard sorted by sort and dir.
func (p *reportsPage) page(c echo.Context) error {
	now := p.s.now().In(sla.China)
	v := pageView{Manager: principalOf(c).Name, Generated: now.Format("2006-01-02 15:04 MST")}
	if p.uiURL != "" {
		v.UI = p.uiURL + "/namespaces/" + url.PathEscape(p.namespace) + "/workflows"
	}
	from, to, err := reportWindow(c.QueryParam("from"), c.QueryParam("to"), now)
	if err != nil {
		v.Error = err.Error()
		from, to, _ = reportWindow("", "", now)
	}
	v.From, v.To = from.Format(time.DateOnly), to.AddDate(0, 0, -1).Format(time.DateOnly)
	v.Window = v.From + " – " + v.To
	sortKey, dir := c.QueryParam("sort"), c.QueryParam("dir")
	if !slices.ContainsFunc(scoreColumns, func(col scoreColumnDef) bool { return col.key == sortKey }) {
		sortKey = "partner"
	}
	if dir != "desc" {
		dir = "asc"
	}

	ctx := c.Request().Context()
	if p.source == nil {
		return unavailable(errors.New("no report source"), "the reports")
	}
	months := monthsOf(from, to)
	att, ref, err := p.monthly(ctx, months, from, to)
	if err != nil {
		return unavailable(err, "the reports")
	}
	scores, err := p.source.PartnerReport(ctx, db.PartnerReportFilter{From: from, To: to})
	if err != nil {
		return unavailable(err, "the reports")
	}
	score := make([]scoreRow, 0, len(scores))
	for _, sc := range scores {
		score = append(score, scoreRowOf(sc))
	}
	for _, m := range months {
		v.Months = append(v.Months, m.Format("2006-01"))
	}
	v.Charts = p.clauseCharts(att, months, from, to)
	v.Refunds = p.refundCharts(ref, months, from, to)
	v.Columns, v.Partners = p.scorecard(score, sortKey, dir, from, to)
	return p.render(c, http.StatusOK, "page.html", v)
}

// monthly reads the SLA report month by month: each month's clocks by service and clause, and all the
// window's clocks by month for their refunds (a refund is in the month its clause's clock started, as in
// GET /v1/reports/sla?group_by=month).
func (p *reportsPage) monthly(ctx context.Context, months []time.Time, from, to time.Time) ([]attainmentRow, []refundMonthRow, error) {
	var att []attainmentRow
	for _, m := range months {
		a, b := monthWindow(m, from, to)
		rep, err := p.source.SLAReport(ctx, db.SLAReportFilter{From: a, To: b, GroupBy: db.GroupClause})
		if err != nil {
			return nil, nil, err
		}
		for _, g := range rep.Groups {
			att = append(att, attainmentRow{Service: g.Service, Clause: g.Clause, Month: m,
				Started: int(g.Started), Met: int(g.Met), Breached: int(g.Breached), Open: int(g.Open)})
		}
	}
	rep, err := p.source.SLAReport(ctx, db.SLAReportFilter{From: from, To: to, GroupBy: db.GroupMonth})
	if err != nil {
		return nil, nil, err
	}
	var ref []refundMonthRow
	for _, g := range rep.Groups {
		m, err := time.ParseInLocation("2006-01", g.Month, sla.China)
		if err != nil {
			return nil, nil, fmt.Errorf("sla report: month %q: %w", g.Month, err)
		}
		for cur, r := range g.Refunds {
			if r.Owed > 0 || r.Paid > 0 {
				ref = append(ref, refundMonthRow{Month: m, Currency: cur, Owed: r.Owed, Paid: r.Paid})
			}
		}
	}
	return att, ref, nil
}

// scoreRowOf is a partner's line of the scorecard: its refunds are those owed (paid or not; not waived).
func scoreRowOf(sc db.PartnerScore) scoreRow {
	secs := func(s *int64) *time.Duration {
		if s == nil {
			return nil
		}
		d := time.Duration(*s) * time.Second
		return &d
	}
	r := scoreRow{PartnerID: sc.PartnerID, Name: sc.Name, Offers: int(sc.Offers), Accepted: int(sc.Accepted), Declined: int(sc.Declined),
		TimedOut: int(sc.TimedOut), AcceptMedian: secs(sc.MedianToAccept), ContactMedian: secs(sc.MedianToContact),
		ResponseAttainment: sc.ResponsePct, HandlingAttainment: sc.HandlingPct, Breaches: int(sc.Breaches), Refunds: map[string]int64{},
		Disputed: int(sc.Disputed), Rating: sc.AverageRating, Open: sc.OpenCases, Capacity: sc.Capacity}
	for cur, m := range sc.Refunds {
		if m.Owed > 0 {
			r.Refunds[cur] = m.Owed
		}
	}
	return r
}

// reportWindow reads the form's dates (Beijing time; to inclusive) into [from, to). Without them it is the
// last 12 months: from the first of the month eleven months back to the end of this month.
func reportWindow(fromQ, toQ string, now time.Time) (time.Time, time.Time, error) {
	now = now.In(sla.China)
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, sla.China)
	from, to := thisMonth.AddDate(0, -11, 0), thisMonth.AddDate(0, 1, 0)
	if fromQ != "" {
		t, err := time.ParseInLocation(time.DateOnly, fromQ, sla.China)
		if err != nil {
			return from, to, errors.New("起始日期无效 from: a date, YYYY-MM-DD")
		}
		from = t
	}
	if toQ != "" {
		t, err := time.ParseInLocation(time.DateOnly, toQ, sla.China)
		if err != nil {
			return from, to, errors.New("截止日期无效 to: a date, YYYY-MM-DD")
		}
		to = t.AddDate(0, 0, 1)
	}
	switch {
	case !to.After(from):
		return from, to, errors.New("截止日期须晚于起始日期 to: must not be before from")
	case len(monthsOf(from, to)) > maxReportMonths:
		return from, to, fmt.Errorf("时间窗口过长 the window: at most %d months", maxReportMonths)
	}
	return from, to, nil
}

// monthsOf lists the first days of the months that [from, to) touches, Beijing time.
func monthsOf(from, to time.Time) []time.Time {
	from, to = from.In(sla.China), to.In(sla.China)
	var out []time.Time
	for m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, sla.China); m.Before(to); m = m.AddDate(0, 1, 0) {
		out = append(out, m)
		if len(out) > maxReportMonths {
			break
		}
	}
	return out
}

// monthWindow is [month, next month) clipped to [from, to).
func monthWindow(m, from, to time.Time) (time.Time, time.Time) {
	a, b := m, m.AddDate(0, 1, 0)
	if a.Before(from) {
		a = from
	}
	if b.After(to) {
		b = to
	}
	return a, b
}

// uiLink is the Web UI's list of workflows matching the visibility query, "" without a UI.
func (p *reportsPage) uiLink(query string) string {
	if p.uiURL == "" {
		return ""
	}
	return p.uiURL + "/namespaces/" + url.PathEscape(p.namespace) + "/workflows?query=" + strings.ReplaceAll(url.QueryEscape(query), "+", "%20")
}

// uiQuery joins the conditions of a visibility query: the case workflows started in [from, to) and more.
func uiQuery(from, to time.Time, conds ...string) string {
	all := append(conds, "StartTime >= '"+from.In(sla.China).Format(time.RFC3339)+"'", "StartTime < '"+to.In(sla.China).Format(time.RFC3339)+"'")
	return strings.Join(all, " AND ")
}

func quoteQ(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// is is the visibility condition that search attribute attr equals v.
func is(attr, v string) string { return attr + " = " + quoteQ(v) }

func percent(met, judged int) string {
	if judged == 0 {
		return "—"
	}
	return strconv.FormatFloat(math.Round(1000*float64(met)/float64(judged))/10, 'f', -1, 64) + "%"
}

func percentTicks() []chartTick {
	var ts []chartTick
	for _, v := range []float64{0, 50, 100} {
		ts = append(ts, chartTick{Y: chartT + chartPlotH*(1-v/attainmentTarget), Label: strconv.FormatFloat(v, 'f', 0, 64) + "%"})
	}
	return ts
}

// clauseCharts draws one line chart per service and clause: attainment (met ÷ judged) per month.
func (p *reportsPage) clauseCharts(rows []attainmentRow, months []time.Time, from, to time.Time) []clauseChart {
	type key struct{ service, clause string }
	byKey := map[key]map[string]attainmentRow{}
	var keys []key
	for _, r := range rows {
		k := key{r.Service, r.Clause}
		if byKey[k] == nil {
			byKey[k] = map[string]attainmentRow{}
			keys = append(keys, k)
		}
		m := r.Month.In(sla.China).Format("2006-01")
		acc := byKey[k][m]
		acc.Started += r.Started
		acc.Met += r.Met
		acc.Breached += r.Breached
		acc.Open += r.Open
		byKey[k][m] = acc
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.clause, b.clause)) })
	var out []clauseChart
	for i, k := range keys {
		ch := clauseChart{ID: "att-" + strconv.Itoa(i), Service: k.service, Clause: k.clause, Ticks: percentTicks(),
			Link:         p.uiLink(uiQuery(from, to, is(workflows.AttrServiceType.GetName(), k.service))),
			BreachedLink: p.uiLink(uiQuery(from, to, is(workflows.AttrServiceType.GetName(), k.service), is(workflows.AttrSLAStatus.GetName(), workflows.SLABreached)))}
		step := chartPlotW / float64(max(1, len(months)))
		var line []string
		every := max(1, (len(months)+5)/6)
		for j, m := range months {
			label := m.Format("2006-01")
			r := byKey[k][label]
			ch.Started += r.Started
			ch.Met += r.Met
			ch.Breached += r.Breached
			ch.Opened += r.Open
			a, b := monthWindow(m, from, to)
			pt := chartPoint{X: chartL + step*(float64(j)+0.5), Label: label, LabelShown: j%every == 0,
				Link: p.uiLink(uiQuery(a, b, is(workflows.AttrServiceType.GetName(), k.service), is(workflows.AttrSLAStatus.GetName(), workflows.SLABreached)))}
			judged := r.Met + r.Breached
			pt.Value = percent(r.Met, judged)
			pt.Title = fmt.Sprintf("%s %s %s: %s (%d met, %d breached, %d open)", k.service, k.clause, label, pt.Value, r.Met, r.Breached, r.Open)
			if judged > 0 {
				pt.Has = true
				pt.Y = chartT + chartPlotH*(1-float64(r.Met)/float64(judged))
				pt.ValueY = pt.Y - 5
				if pt.ValueY < chartT+2 {
					pt.ValueY = pt.Y + 12
				}
				line = append(line, fmt.Sprintf("%.1f,%.1f", pt.X, pt.Y))
			}
			ch.Points = append(ch.Points, pt)
		}
		ch.Line = strings.Join(line, " ")
		ch.Attainment = percent(ch.Met, ch.Met+ch.Breached)
		out = append(out, ch)
	}
	return out
}

// refundCharts draws one bar chart per currency: the refunds created each month, the paid part darker.
func (p *reportsPage) refundCharts(rows []refundMonthRow, months []time.Time, from, to time.Time) []refundChart {
	byCur := map[string]map[string]refundMonthRow{}
	var curs []string
	for _, r := range rows {
		cur := cmp.Or(r.Currency, unknownCurrency)
		if byCur[cur] == nil {
			byCur[cur] = map[string]refundMonthRow{}
			curs = append(curs, cur)
		}
		m := r.Month.In(sla.China).Format("2006-01")
		acc := byCur[cur][m]
		acc.Owed += r.Owed
		acc.Paid += r.Paid
		byCur[cur][m] = acc
	}
	slices.Sort(curs)
	var out []refundChart
	for i, cur := range curs {
		var top, total, paid int64
		for _, r := range byCur[cur] {
			top = max(top, r.Owed)
			total += r.Owed
			paid += r.Paid
		}
		ch := refundChart{ID: "ref-" + strconv.Itoa(i), Currency: cur, Total: money(total, cur), Paid: money(paid, cur),
			Link: p.uiLink(uiQuery(from, to, workflows.AttrRefundCents.GetName()+" > 0"))}
		scale := niceCeil(top)
		for _, v := range []int64{0, scale / 2, scale} {
			ch.Ticks = append(ch.Ticks, chartTick{Y: chartT + chartPlotH*(1-float64(v)/float64(scale)), Label: shortMoney(v)})
		}
		step := barChartPlotW / float64(max(1, len(months)))
		for _, m := range months {
			label := m.Format("2006-01")
			r := byCur[cur][label]
			a, b := monthWindow(m, from, to)
			bar := chartPoint{X: chartL + step*0.15 + step*float64(len(ch.Bars)), W: step * 0.7, Label: label, LabelShown: true,
				Value: money(r.Owed, cur), Has: r.Owed > 0, Link: p.uiLink(uiQuery(a, b, workflows.AttrRefundCents.GetName()+" > 0"))}
			bar.H = chartPlotH * float64(r.Owed) / float64(scale)
			bar.Y = chartT + chartPlotH - bar.H
			bar.PaidH = chartPlotH * float64(r.Paid) / float64(scale)
			bar.PaidY = chartT + chartPlotH - bar.PaidH
			bar.ValueY = bar.Y - 4
			bar.Title = fmt.Sprintf("%s %s: %s refunded, %s paid", cur, label, bar.Value, money(r.Paid, cur))
			ch.Bars = append(ch.Bars, bar)
		}
		out = append(out, ch)
	}
	return out
}

// niceCeil rounds cents up to 1, 2 or 5 times a power of ten, at least 100 (one unit).
func niceCeil(c int64) int64 {
	if c <= 100 {
		return 100
	}
	p := int64(1)
	for p*10 <= c {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= c {
			return m * p
		}
	}
	return 10 * p
}

// money formats cents of a currency: ¥2,500.00 for CNY, "USD 12.00" for another.
func money(cents int64, cur string) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	s := strconv.FormatInt(cents/100, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	s += "." + strconv.FormatInt(100+cents%100, 10)[1:]
	if cur == "CNY" {
		return sign + "¥" + s
	}
	return sign + cur + " " + s
}

// shortMoney is an axis label: whole units, thousands as k.
func shortMoney(cents int64) string {
	u := cents / 100
	if u >= 10000 && u%1000 == 0 {
		return strconv.FormatInt(u/1000, 10) + "k"
	}
	return strconv.FormatInt(u, 10)
}

func duration(d *time.Duration) string {
	if d == nil {
		return "—"
	}
	switch r := d.Round(time.Minute); {
	case r >= 48*time.Hour:
		return strconv.FormatFloat(r.Hours()/24, 'f', 1, 64) + " d"
	case r >= time.Hour:
		return strconv.FormatFloat(r.Hours(), 'f', 1, 64) + " h"
	default:
		return strconv.Itoa(int(d.Round(time.Second).Minutes())) + " min"
	}
}

func pct(f *float64) string {
	if f == nil {
		return "—"
	}
	return strconv.FormatFloat(math.Round(*f*10)/10, 'f', -1, 64) + "%"
}

// scorecard sorts the partners by the column and direction and lays out the table, each header a link that
// sorts by it (the other way when it is the current order).
func (p *reportsPage) scorecard(rows []scoreRow, sortKey, dir string, from, to time.Time) ([]scoreColumn, []scoreLine) {
	rows = slices.Clone(rows)
	for _, col := range scoreColumns {
		if col.key == sortKey {
			slices.SortStableFunc(rows, func(a, b scoreRow) int {
				c := cmp.Or(col.less(a, b), cmp.Compare(a.PartnerID, b.PartnerID))
				if dir == "desc" {
					return -c
				}
				return c
			})
		}
	}
	window := url.Values{"from": {from.In(sla.China).Format(time.DateOnly)}, "to": {to.In(sla.China).AddDate(0, 0, -1).Format(time.DateOnly)}}
	var cols []scoreColumn
	for _, col := range scoreColumns {
		q := url.Values{"from": window["from"], "to": window["to"], "sort": {col.key}, "dir": {"asc"}}
		sc := scoreColumn{Key: col.key, Label: col.label, Sort: "none"}
		if col.key == sortKey {
			if dir == "asc" {
				sc.Sort, sc.Arrow = "ascending", "▲"
				q.Set("dir", "desc")
			} else {
				sc.Sort, sc.Arrow = "descending", "▼"
			}
		}
		sc.Link = ReportsPath + "?" + q.Encode() + "#partners"
		cols = append(cols, sc)
	}
	var lines []scoreLine
	for _, r := range rows {
		name := r.PartnerID
		if r.Name != "" && r.Name != r.PartnerID {
			name += " (" + r.Name + ")"
		}
		pq := is(workflows.AttrPartnerID.GetName(), r.PartnerID)
		link, breachedLink := p.uiLink(uiQuery(from, to, pq)), p.uiLink(uiQuery(from, to, pq, is(workflows.AttrSLAStatus.GetName(), workflows.SLABreached)))
		if r.PartnerID == "" {
			// Clocks that breached before any partner accepted: no partner to look up.
			name, link, breachedLink = "无合作方 no partner", "", ""
		}
		var refunds []string
		curs := make([]string, 0, len(r.Refunds))
		for cur := range r.Refunds {
			curs = append(curs, cur)
		}
		slices.Sort(curs)
		for _, cur := range curs {
			refunds = append(refunds, money(r.Refunds[cur], cur))
		}
		rating := "—"
		if r.Rating != nil {
			rating = strconv.FormatFloat(*r.Rating, 'f', 1, 64)
		}
		num := func(n int) scoreCell { return scoreCell{Text: strconv.Itoa(n), Num: true} }
		lines = append(lines, scoreLine{Cells: []scoreCell{
			{Text: name, Link: link},
			num(r.Offers), num(r.Accepted), num(r.Declined), num(r.TimedOut),
			{Text: duration(r.AcceptMedian), Num: true}, {Text: duration(r.ContactMedian), Num: true},
			{Text: pct(r.ResponseAttainment), Num: true}, {Text: pct(r.HandlingAttainment), Num: true},
			{Text: strconv.Itoa(r.Breaches), Num: true, Link: breachedLink},
			{Text: cmp.Or(strings.Join(refunds, " "), "—"), Num: true},
			num(r.Disputed),
			{Text: rating, Num: true},
			{Text: strconv.Itoa(r.Open) + " / " + strconv.Itoa(r.Capacity), Num: true},
		}})
	}
	return cols, lines
}

var reportsFuncs = template.FuncMap{
	"f": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
}
