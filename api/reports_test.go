package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

// The hand-made set is dbtest.ReportSet; T is 10:00 on 2 November 2026, Beijing time.
var repT = dbtest.ReportT

func repAt(d time.Duration) time.Time { return repT.Add(d) }

// seedReportSet writes the set straight to the store: p1 is the fixture's (name P1, capacity 1), p2 has
// capacity 2, p3 (named to test CSV defusing) none of the work.
func (f *fixture) seedReportSet(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []db.Partner{{ID: "p2", Name: "Beta", Capacity: 2, Active: true}, {ID: "p3", Name: "=Idle", Capacity: 3}} {
		require.NoError(t, f.store.AddPartner(ctx, &p))
	}
	for _, c := range dbtest.ReportSet() {
		caseID := f.seedCase(t, c.Order, "cust-"+c.Order, c.Service, c.Partner, c.Currency, c.Amount, repAt(-2*time.Hour))
		dbtest.SeedReportCase(t, f.store, caseID, c)
	}
}

func fp(v float64) *float64 { return &v }
func ip(v int64) *int64     { return &v }

type repMoney = map[string]db.RefundMoney

// november is the set's month: 1 to 30 November 2026, Beijing dates.
const november = "from=2026-11-01&to=2026-11-30"

func (f *fixture) getReport(t *testing.T, path string, header map[string]string) []byte {
	t.Helper()
	if header == nil {
		header = f.bearer(f.manager)
	}
	rec, _ := f.call(t, http.MethodGet, path, nil, header)
	require.Equal(t, http.StatusOK, rec.Code, "%s: %s", path, rec.Body)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	return rec.Body.Bytes()
}

// TestSLAReportAPI: GET /v1/reports/sla answers the hand-made set's figures for each grouping, the window
// as dates in Beijing time or RFC 3339, and the filters; figures not computable are null.
func TestSLAReportAPI(t *testing.T) {
	f := newFixture(t)
	f.seedReportSet(t)
	get := func(query string) SLAReportBody {
		t.Helper()
		return decodeAs[SLAReportBody](t, f.getReport(t, "/v1/reports/sla?"+query, nil))
	}

	b := get(november)
	require.NotNil(t, b.From)
	assert.Equal(t, time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC), *b.From, "midnight in Beijing")
	assert.Equal(t, time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC), *b.To, "to includes its day")
	assert.Equal(t, "service", b.GroupBy)
	assert.Equal(t, []db.SLAGroup{
		{Key: "dengbao", Service: "dengbao", Started: 2, Breached: 1, Open: 1, AttainmentPct: fp(0), Refunds: repMoney{"USD": {Waived: 100_00}}},
		{Key: "onboarding", Service: "onboarding", Started: 1, Met: 1, AttainmentPct: fp(100), MedianToMeet: ip(5400), P90ToMeet: ip(5400), Refunds: repMoney{}},
		{Key: "sos", Service: "sos", Started: 8, Met: 4, Breached: 2, Open: 1, Stopped: 1, AttainmentPct: fp(66.67), MedianToMeet: ip(3600), P90ToMeet: ip(7200),
			Refunds: repMoney{"CNY": {Owed: 1500_00, Paid: 1000_00}}},
	}, b.Groups)
	assert.Equal(t, db.SLAGroup{Started: 11, Met: 5, Breached: 3, Open: 2, Stopped: 1, AttainmentPct: fp(62.5), MedianToMeet: ip(5400), P90ToMeet: ip(7200),
		Refunds: repMoney{"CNY": {Owed: 1500_00, Paid: 1000_00}, "USD": {Waived: 100_00}}}, b.Total)

	// Nulls are there as nulls.
	var raw struct {
		Groups []map[string]any `json:"groups"`
	}
	require.NoError(t, json.Unmarshal(f.getReport(t, "/v1/reports/sla?group_by=clause&"+november, nil), &raw))
	require.Len(t, raw.Groups, 5)
	assert.Equal(t, "dengbao/effect", raw.Groups[0]["key"])
	for _, k := range []string{"attainment_pct", "median_to_meet_seconds", "p90_to_meet_seconds"} {
		v, ok := raw.Groups[0][k]
		assert.True(t, ok && v == nil, "%s: %v", k, v)
	}

	keys := func(b SLAReportBody) []string {
		var out []string
		for _, g := range b.Groups {
			out = append(out, g.Key)
		}
		return out
	}
	assert.Equal(t, []string{"dengbao/effect", "dengbao/handling", "onboarding/onboarding_contact", "sos/handling", "sos/response"}, keys(get("group_by=clause&"+november)))
	resp := get("group_by=clause&" + november).Groups[4]
	assert.Equal(t, db.SLAGroup{Key: "sos/response", Service: "sos", Clause: "response", Started: 5, Met: 1, Breached: 2, Open: 1, Stopped: 1, AttainmentPct: fp(33.33),
		MedianToMeet: ip(1800), P90ToMeet: ip(1800), Refunds: repMoney{"CNY": {Owed: 1500_00, Paid: 1000_00}}}, resp)

	byPartner := get("group_by=partner&" + november)
	assert.Equal(t, []string{"", "p1", "p2"}, keys(byPartner))
	assert.Equal(t, db.SLAGroup{Key: "p2", PartnerID: "p2", Started: 4, Met: 2, Breached: 1, Open: 1, AttainmentPct: fp(66.67), MedianToMeet: ip(3600), P90ToMeet: ip(5400),
		Refunds: repMoney{"USD": {Waived: 100_00}}}, byPartner.Groups[2])
	assert.Equal(t, db.SLAGroup{Key: "", Started: 1, Breached: 1, AttainmentPct: fp(0), Refunds: repMoney{"CNY": {Owed: 500_00}}}, byPartner.Groups[0], "D breached before any partner")

	months := get("group_by=month")
	assert.Nil(t, months.From)
	assert.Equal(t, []string{"2026-10", "2026-11"}, keys(months))
	assert.Equal(t, int64(1), months.Groups[0].Started)
	assert.Equal(t, int64(11), months.Groups[1].Started, "G started at 00:30 on 1 November, Beijing time")
	assert.Equal(t, []string{"2026-11"}, keys(get("group_by=month&from=2026-11-01")))
	assert.Equal(t, []string{"2026-10"}, keys(get("group_by=month&to=2026-10-31")))

	// Filters and an RFC 3339 window: [T, T+1h) holds A's two clocks and B's response.
	sos := get("service=sos&partner_id=p1&group_by=clause&" + november)
	assert.Equal(t, "sos", sos.Service)
	assert.Equal(t, "p1", sos.PartnerID)
	require.Len(t, sos.Groups, 2)
	assert.Equal(t, int64(2), sos.Groups[0].Started)
	assert.Equal(t, int64(4), sos.Groups[1].Started)
	assert.Equal(t, fp(50), sos.Groups[1].AttainmentPct)
	hour := get("from=2026-11-02T10:00:00%2B08:00&to=2026-11-02T03:00:00Z")
	require.Len(t, hour.Groups, 1)
	assert.Equal(t, int64(3), hour.Groups[0].Started)
	assert.Equal(t, fp(66.67), hour.Groups[0].AttainmentPct, "A's two met, B's response breached")
	assert.JSONEq(t, `{"from":null,"to":null,"service":"escort","group_by":"service","groups":[],"total":{"key":"","started":0,"met":0,"breached":0,"open":0,"stopped":0,`+
		`"attainment_pct":null,"median_to_meet_seconds":null,"p90_to_meet_seconds":null,"refunds":{}}}`, string(f.getReport(t, "/v1/reports/sla?service=escort", nil)))
}

// csvTable reads a CSV body into its header and rows as maps by column.
func csvTable(t *testing.T, body []byte) ([]string, []map[string]string) {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, h := range rows[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return rows[0], out
}

func csvInt(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err, "%q", s)
	return v
}

func csvOptInt(t *testing.T, s string) *int64 {
	if s == "" {
		return nil
	}
	return ip(csvInt(t, s))
}

func csvOptFloat(t *testing.T, s string) *float64 {
	t.Helper()
	if s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "%q", s)
	return &v
}

// csvMoney reads the per-currency columns of a row back into refunds (a currency all zero is absent).
func csvMoney(t *testing.T, header []string, row map[string]string) repMoney {
	out := repMoney{}
	for _, h := range header {
		cur, ok := strings.CutPrefix(h, "owed_cents_")
		if !ok {
			continue
		}
		m := db.RefundMoney{Owed: csvInt(t, row[h]), Paid: csvInt(t, row["paid_cents_"+cur]), Waived: csvInt(t, row["waived_cents_"+cur])}
		if m != (db.RefundMoney{}) {
			out[cur] = m
		}
	}
	return out
}

// unCSV undoes csvText.
func unCSV(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}

// TestSLAReportCSV: for each grouping, the CSV (by Accept or format=csv) parsed back is the JSON report.
func TestSLAReportCSV(t *testing.T) {
	f := newFixture(t)
	f.seedReportSet(t)
	for _, group := range []string{"service", "clause", "partner", "month"} {
		t.Run(group, func(t *testing.T) {
			query := "/v1/reports/sla?group_by=" + group
			want := decodeAs[SLAReportBody](t, f.getReport(t, query, nil))
			for _, body := range [][]byte{
				f.getReport(t, query, map[string]string{"Authorization": "Bearer " + f.manager, "Accept": "text/csv"}),
				f.getReport(t, query+"&format=csv", nil),
			} {
				header, rows := csvTable(t, body)
				assert.Equal(t, SLACSVHeader, header[:len(SLACSVHeader)])
				assert.Equal(t, []string{"owed_cents_CNY", "paid_cents_CNY", "waived_cents_CNY", "owed_cents_USD", "paid_cents_USD", "waived_cents_USD"}, header[len(SLACSVHeader):])
				var got []db.SLAGroup
				for _, r := range rows {
					got = append(got, db.SLAGroup{Key: unCSV(r["key"]), Service: r["service"], Clause: r["clause"], PartnerID: unCSV(r["partner_id"]), Month: r["month"],
						Started: csvInt(t, r["started"]), Met: csvInt(t, r["met"]), Breached: csvInt(t, r["breached"]), Open: csvInt(t, r["open"]),
						Stopped: csvInt(t, r["stopped"]), AttainmentPct: csvOptFloat(t, r["attainment_pct"]), MedianToMeet: csvOptInt(t, r["median_to_meet_seconds"]),
						P90ToMeet: csvOptInt(t, r["p90_to_meet_seconds"]), Refunds: csvMoney(t, header, r)})
				}
				require.Len(t, rows, len(want.Groups)+1)
				for _, r := range rows[:len(want.Groups)] {
					assert.Equal(t, "group", r["row"])
				}
				assert.Equal(t, "total", rows[len(rows)-1]["row"])
				assert.Equal(t, append(want.Groups, want.Total), got)
			}
		})
	}
	rec, _ := f.call(t, http.MethodGet, "/v1/reports/sla?format=csv", nil, f.bearer(f.manager))
	assert.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Header().Get("Content-Disposition"), "sla-report.csv")
}

// TestPartnerReportAPI: GET /v1/reports/partners answers every column of the scorecard on the hand-made
// set, and its CSV parsed back is the JSON.
func TestPartnerReportAPI(t *testing.T) {
	f := newFixture(t)
	f.seedReportSet(t)
	body := f.getReport(t, "/v1/reports/partners?"+november, nil)
	b := decodeAs[PartnerReportBody](t, body)
	assert.Equal(t, []db.PartnerScore{
		{PartnerID: "p1", Name: "P1", Active: true, Offers: 4, Accepted: 3, TimedOut: 1, MedianToAccept: ip(600), MedianToContact: ip(1800),
			ResponseMet: 1, ResponseBreached: 1, ResponsePct: fp(50), HandlingMet: 2, HandlingPct: fp(100), Breaches: 1,
			Refunds: repMoney{"CNY": {Owed: 1000_00, Paid: 1000_00}}, Disputed: 1, Ratings: 2, AverageRating: fp(4), OpenCases: 1, Capacity: 1, LoadPct: fp(100)},
		{PartnerID: "p2", Name: "Beta", Active: true, Offers: 4, Accepted: 3, Declined: 1, TimedOut: 1, MedianToAccept: ip(2400), MedianToContact: ip(5400),
			ResponseMet: 1, ResponsePct: fp(100), HandlingMet: 1, HandlingBreached: 1, HandlingPct: fp(50), Breaches: 1,
			Refunds: repMoney{"USD": {Waived: 100_00}}, Ratings: 2, AverageRating: fp(2.5), OpenCases: 2, Capacity: 2, LoadPct: fp(100)},
		{PartnerID: "p3", Name: "=Idle", Capacity: 3, LoadPct: fp(0), Refunds: repMoney{}},
		{PartnerID: "", ResponseBreached: 1, ResponsePct: fp(0), Breaches: 1, Refunds: repMoney{"CNY": {Owed: 500_00}}},
	}, b.Partners)
	var raw struct {
		Partners []map[string]any `json:"partners"`
	}
	require.NoError(t, json.Unmarshal(body, &raw))
	for _, k := range []string{"median_to_accept_seconds", "median_to_first_contact_seconds", "response_attainment_pct", "handling_attainment_pct", "average_rating"} {
		v, ok := raw.Partners[2][k]
		assert.True(t, ok && v == nil, "p3's %s is null: %v", k, v)
	}

	csvBody := f.getReport(t, "/v1/reports/partners?format=csv&"+november, nil)
	header, rows := csvTable(t, csvBody)
	assert.Equal(t, PartnerCSVHeader, header[:len(PartnerCSVHeader)])
	require.Len(t, rows, len(b.Partners))
	var got []db.PartnerScore
	for _, r := range rows {
		active, err := strconv.ParseBool(r["active"])
		require.NoError(t, err)
		got = append(got, db.PartnerScore{PartnerID: unCSV(r["partner_id"]), Name: unCSV(r["name"]), Active: active, Offers: csvInt(t, r["offers"]),
			Accepted: csvInt(t, r["accepted"]), Declined: csvInt(t, r["declined"]), TimedOut: csvInt(t, r["timed_out"]),
			MedianToAccept: csvOptInt(t, r["median_to_accept_seconds"]), MedianToContact: csvOptInt(t, r["median_to_first_contact_seconds"]),
			ResponseMet: csvInt(t, r["response_met"]), ResponseBreached: csvInt(t, r["response_breached"]), ResponsePct: csvOptFloat(t, r["response_attainment_pct"]),
			HandlingMet: csvInt(t, r["handling_met"]), HandlingBreached: csvInt(t, r["handling_breached"]), HandlingPct: csvOptFloat(t, r["handling_attainment_pct"]),
			Breaches: csvInt(t, r["breaches"]), Refunds: csvMoney(t, header, r), Disputed: csvInt(t, r["reports_disputed"]), Ratings: csvInt(t, r["ratings"]),
			AverageRating: csvOptFloat(t, r["average_rating"]), OpenCases: int(csvInt(t, r["open_cases"])), Capacity: int(csvInt(t, r["capacity"])),
			LoadPct: csvOptFloat(t, r["load_pct"])})
	}
	assert.Equal(t, b.Partners, got)
	assert.Equal(t, "'=Idle", rows[2]["name"], "a name cannot become a formula")

	// Without a window, F's October work counts: p1 offered 5 times.
	all := decodeAs[PartnerReportBody](t, f.getReport(t, "/v1/reports/partners", nil))
	assert.Nil(t, all.From)
	assert.Equal(t, int64(5), all.Partners[0].Offers)
}

// TestReportsBadInput: managers only; a bad parameter is 422 naming it.
func TestReportsBadInput(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/v1/reports/sla", "/v1/reports/partners"} {
		rec, _ := f.call(t, http.MethodGet, path, nil, nil)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, path)
		rec, _ = f.call(t, http.MethodGet, path, nil, f.bearer(f.partner))
		assert.Equal(t, http.StatusForbidden, rec.Code, path)
		rec, _ = f.call(t, http.MethodGet, path, nil, f.signedFor(http.MethodGet, path, f.now, nil))
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s: not the marketplace's", path)
		rec, _ = f.call(t, http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer stw_nope"})
		assert.Equal(t, http.StatusUnauthorized, rec.Code, path)
	}
	for query, field := range map[string]string{
		"sla?group_by=week":                          "group_by",
		"sla?service=spa":                            "service",
		"sla?partner_id=" + strings.Repeat("p", 129): "partner_id",
		"sla?partner_id=%07":                         "partner_id",
		"sla?from=yesterday":                         "from",
		"sla?to=2026-13-01":                          "to",
		"sla?from=2026-11-02&to=2026-11-01":          "to",
		"sla?format=xml":                             "format",
		"sla?state=paid":                             "state",
		"partners?from=2026-11-31":                   "from",
		"partners?to=now":                            "to",
		"partners?from=2026-11-02T00:00:00Z&to=2026-11-02T00:00:00Z": "to",
		"partners?format=pdf":       "format",
		"partners?group_by=service": "group_by",
	} {
		rec, p := f.call(t, http.MethodGet, "/v1/reports/"+query, nil, f.bearer(f.manager))
		assert.Equal(t, http.StatusUnprocessableEntity, rec.Code, "%s: %s", query, rec.Body)
		assert.True(t, strings.HasPrefix(p.Detail, field) || strings.Contains(p.Detail, `"`+field+`"`), "%s: %s", query, p.Detail)
	}
}
