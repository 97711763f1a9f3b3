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
	"github.com/steward-oss/steward/workflows"
)

// seedCase stores an order and its case for the refund and customer tests, and returns the case id.
func (f *fixture) seedCase(t *testing.T, order, customer, service, partner, currency string, amount int64, opened time.Time) string {
	t.Helper()
	caseID := service + ":" + order
	_, _, err := f.store.PutOrderAndCase(context.Background(), &db.Order{OrderID: order, CustomerID: customer, Service: service, Quantity: 1,
		AmountCents: amount, Currency: currency, PaidAt: opened, BodyHash: "h-" + order, CaseID: caseID, WorkflowID: caseID, CreatedAt: opened,
		Contact: db.Contact{Name: "Zhang San", Phone: "13800000000"}},
		&db.Case{CaseID: caseID, WorkflowID: caseID, Service: service, Stage: workflows.StageAssignment, PartnerID: partner, CustomerID: customer,
			OrderID: order, AmountCents: amount, SLAStatus: workflows.SLAOnTrack, OpenedAt: opened, UpdatedAt: opened})
	require.NoError(t, err)
	return caseID
}

// seedRefund records an owed refund of a case and returns its id.
func (f *fixture) seedRefund(t *testing.T, caseID, clause string, percent int, amount int64, at time.Time) string {
	t.Helper()
	r := db.Refund{Key: caseID + "/refund/" + clause, CaseID: caseID, Clause: clause, Percent: percent, AmountCents: amount, Reason: clause + " breached", CreatedAt: at}
	_, err := f.store.RecordRefund(context.Background(), &r)
	require.NoError(t, err)
	return r.ID
}

func (f *fixture) bearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

func decodeAs[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	return v
}

func paidBody(at time.Time, ref string) []byte {
	b, _ := json.Marshal(map[string]string{"paid_at": at.Format(time.RFC3339), "reference": ref})
	return b
}

// TestRefundPaid: the marketplace's signed report pays an owed refund once; the same report again is 200
// and changes nothing, another reference is 409; a waived refund cannot be paid; unknown ids are 404.
func TestRefundPaid(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	caseID := f.seedCase(t, "P1", "cust-1", "sos", "p1", "CNY", 1000_00, f.now.Add(-time.Hour))
	id := f.seedRefund(t, caseID, "response", 50, 500_00, f.now.Add(-30*time.Minute))
	other := f.seedRefund(t, caseID, "handling", 50, 500_00, f.now.Add(-20*time.Minute))
	path := "/v1/refunds/" + id + "/paid"
	paidAt := f.now.Add(-time.Minute).Truncate(time.Second).UTC()

	body := paidBody(paidAt, "WX-2026-0001")
	rec, _ := f.call(t, http.MethodPost, path, body, f.signedFor(http.MethodPost, path, f.now, body))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	r := decodeAs[RefundItem](t, rec.Body.Bytes())
	assert.Equal(t, id, r.ID)
	assert.Equal(t, db.RefundPaid, r.State)
	assert.Equal(t, "WX-2026-0001", r.Reference)
	require.NotNil(t, r.PaidAt)
	assert.Equal(t, paidAt, *r.PaidAt)
	assert.Equal(t, "CNY", r.Currency)
	assert.Equal(t, int64(500_00), r.AmountCents)
	assert.Equal(t, caseID, r.CaseID)
	assert.Equal(t, "P1", r.OrderID)

	// The same report again, v1-signed this time (another timestamp, so another signature): unchanged.
	again := paidBody(paidAt.Add(time.Minute), "WX-2026-0001")
	rec, _ = f.call(t, http.MethodPost, path, again, f.signed(f.now.Add(time.Second), again))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	r2 := decodeAs[RefundItem](t, rec.Body.Bytes())
	assert.Equal(t, paidAt, *r2.PaidAt, "the first report stands")

	diff := paidBody(paidAt, "WX-2026-0002")
	rec, p := f.call(t, http.MethodPost, path, diff, f.signedFor(http.MethodPost, path, f.now, diff))
	assert.Equal(t, http.StatusConflict, rec.Code, "%s", rec.Body)
	assert.Equal(t, CodeConflict, p.Code)
	assert.Contains(t, p.Detail, "WX-2026-0001")

	es, err := f.store.ListWebhookEvents(ctx, caseID)
	require.NoError(t, err)
	require.Len(t, es, 1, "one refund.paid event however often it is reported")
	assert.Equal(t, workflows.WebhookRefundPaid, es[0].Type)

	// A waived refund is not paid.
	_, _, err = f.store.WaiveRefund(ctx, other, "mgr", "goodwill settled otherwise", f.now)
	require.NoError(t, err)
	opath := "/v1/refunds/" + other + "/paid"
	rec, p = f.call(t, http.MethodPost, opath, body, f.signedFor(http.MethodPost, opath, f.now, body))
	assert.Equal(t, http.StatusConflict, rec.Code, "%s", rec.Body)
	assert.Contains(t, p.Detail, "waived")

	for _, id := range []string{"ref_0123456789abcdef01234567", "ref_nope", "ref_0123456789ABCDEF01234567", "x"} {
		path := "/v1/refunds/" + id + "/paid"
		rec, p := f.call(t, http.MethodPost, path, body, f.signedFor(http.MethodPost, path, f.now, body))
		assert.Equal(t, http.StatusNotFound, rec.Code, "%s: %s", id, rec.Body)
		assert.Equal(t, CodeNotFound, p.Code)
	}
}

// TestRefundPaidAuth: only the marketplace's valid signature reports a payment.
func TestRefundPaidAuth(t *testing.T) {
	f := newFixture(t)
	caseID := f.seedCase(t, "PA", "cust-1", "sos", "p1", "CNY", 1000_00, f.now)
	id := f.seedRefund(t, caseID, "response", 50, 500_00, f.now)
	path := "/v1/refunds/" + id + "/paid"
	body := paidBody(f.now, "WX-1")
	other := "/v1/refunds/ref_0123456789abcdef01234567/paid"
	for name, h := range map[string]map[string]string{
		"unsigned":             nil,
		"manager token":        f.bearer(f.manager),
		"expired":              f.signedFor(http.MethodPost, path, f.now.Add(-10*time.Minute), body),
		"signed for elsewhere": f.signedFor(http.MethodPost, other, f.now, body),
		"wrong secret":         {HeaderTimestamp: strconv.FormatInt(f.now.Unix(), 10), HeaderSignature: SignRequest([]byte("nope"), f.now, http.MethodPost, path, body)},
	} {
		rec, p := f.call(t, http.MethodPost, path, body, h)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s", name, rec.Body)
		assert.Equal(t, CodeUnauthorized, p.Code, name)
	}
	r, err := f.store.GetRefund(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, db.RefundOwed, r.State)
}

// TestRefundPaidBadInput: the body is strict JSON with both fields; a bad one is 422 naming it.
func TestRefundPaidBadInput(t *testing.T) {
	f := newFixture(t)
	caseID := f.seedCase(t, "PB", "cust-1", "sos", "p1", "CNY", 1000_00, f.now)
	id := f.seedRefund(t, caseID, "response", 50, 500_00, f.now)
	path := "/v1/refunds/" + id + "/paid"
	ts := f.now.Format(time.RFC3339)
	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"empty body", ``, 400, ""},
		{"not an object", `[]`, 400, ""},
		{"no paid_at", `{"reference":"WX-1"}`, 422, "paid_at"},
		{"no reference", `{"paid_at":"` + ts + `"}`, 422, "reference"},
		{"empty reference", `{"paid_at":"` + ts + `","reference":""}`, 422, "reference"},
		{"a date, not a time", `{"paid_at":"2026-03-01","reference":"WX-1"}`, 422, "paid_at"},
		{"paid_at a number", `{"paid_at":1700000000,"reference":"WX-1"}`, 422, "paid_at"},
		{"in the future", `{"paid_at":"` + f.now.Add(SignatureWindow+time.Minute).Format(time.RFC3339) + `","reference":"WX-1"}`, 422, "paid_at"},
		{"long ago", `{"paid_at":"1999-12-31T23:59:59Z","reference":"WX-1"}`, 422, "paid_at"},
		{"reference too long", `{"paid_at":"` + ts + `","reference":"` + strings.Repeat("x", 129) + `"}`, 422, "reference"},
		{"reference with a tab", `{"paid_at":"` + ts + `","reference":"WX\t1"}`, 422, "reference"},
		{"reference with a line break", `{"paid_at":"` + ts + `","reference":"WX\n1"}`, 422, "reference"},
		{"reference with spaces around", `{"paid_at":"` + ts + `","reference":" WX-1"}`, 422, "reference"},
		{"unknown field", `{"paid_at":"` + ts + `","reference":"WX-1","amount_cents":1}`, 422, "amount_cents"},
		{"NUL", `{"paid_at":"` + ts + `","reference":"WX\u00001"}`, 422, "U+0000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			rec, p := f.call(t, http.MethodPost, path, body, f.signedFor(http.MethodPost, path, f.now, body))
			assert.Equal(t, tt.status, rec.Code, "%s", rec.Body)
			assert.Contains(t, p.Detail, tt.field)
		})
	}
	r, err := f.store.GetRefund(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, db.RefundOwed, r.State, "no bad report paid it")

	// At the edge: within the signature window ahead of the clock, 128 printable characters (not ASCII).
	body := paidBody(f.now.Add(SignatureWindow-time.Second), strings.Repeat("支", 128))
	rec, _ := f.call(t, http.MethodPost, path, body, f.signedFor(http.MethodPost, path, f.now, body))
	assert.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
}

// TestWaiveRefund: a manager waives an owed refund with a reason (again: unchanged); a paid one is 409.
func TestWaiveRefund(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	caseID := f.seedCase(t, "WV", "cust-1", "sos", "p1", "CNY", 1000_00, f.now)
	id := f.seedRefund(t, caseID, "response", 50, 500_00, f.now)
	paid := f.seedRefund(t, caseID, "handling", 50, 500_00, f.now)
	_, _, err := f.store.MarkRefundPaid(ctx, paid, f.now, "WX-1")
	require.NoError(t, err)
	path := "/v1/refunds/" + id + "/waive"

	rec, _ := f.call(t, http.MethodPost, path, []byte(`{"reason":"customer asked for service credit instead"}`), f.bearer(f.manager))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	r := decodeAs[RefundItem](t, rec.Body.Bytes())
	assert.Equal(t, db.RefundWaived, r.State)
	assert.Equal(t, "mgr", r.WaivedBy)
	assert.Equal(t, "customer asked for service credit instead", r.WaivedReason)
	require.NotNil(t, r.WaivedAt)

	rec, _ = f.call(t, http.MethodPost, path, []byte(`{"reason":"again"}`), f.bearer(f.manager))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	assert.Equal(t, "customer asked for service credit instead", decodeAs[RefundItem](t, rec.Body.Bytes()).WaivedReason)

	ppath := "/v1/refunds/" + paid + "/waive"
	rec, p := f.call(t, http.MethodPost, ppath, []byte(`{"reason":"too late"}`), f.bearer(f.manager))
	assert.Equal(t, http.StatusConflict, rec.Code, "%s", rec.Body)
	assert.Contains(t, p.Detail, "already paid")

	for _, tt := range []struct {
		name   string
		body   string
		header map[string]string
		status int
		field  string
	}{
		{"partner", `{"reason":"x"}`, f.bearer(f.partner), 403, ""},
		{"no token", `{"reason":"x"}`, nil, 401, ""},
		{"marketplace", `{"reason":"x"}`, f.signedFor(http.MethodPost, ppath, f.now, []byte(`{"reason":"x"}`)), 401, ""},
		{"no reason", `{}`, f.bearer(f.manager), 422, "reason"},
		{"blank reason", `{"reason":"  "}`, f.bearer(f.manager), 422, "reason"},
		{"long reason", `{"reason":"` + strings.Repeat("r", 501) + `"}`, f.bearer(f.manager), 422, "reason"},
		{"unknown field", `{"reason":"x","by":"boss"}`, f.bearer(f.manager), 422, "by"},
	} {
		rec, p := f.call(t, http.MethodPost, ppath, []byte(tt.body), tt.header)
		assert.Equal(t, tt.status, rec.Code, "%s: %s", tt.name, rec.Body)
		assert.Contains(t, p.Detail, tt.field, tt.name)
	}
	rec, _ = f.call(t, http.MethodPost, "/v1/refunds/ref_0123456789abcdef01234567/waive", []byte(`{"reason":"x"}`), f.bearer(f.manager))
	assert.Equal(t, http.StatusNotFound, rec.Code)

	es, err := f.store.ListWebhookEvents(ctx, caseID)
	require.NoError(t, err)
	var types []string
	for _, e := range es {
		types = append(types, e.Type)
	}
	assert.Equal(t, []string{workflows.WebhookRefundPaid, workflows.WebhookRefundWaived}, types)
}

// refundsFixture seeds refunds in two currencies, in every state, over three days.
func refundsFixture(t *testing.T) (*fixture, map[string]string) {
	f := newFixture(t)
	ctx := context.Background()
	day := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC) // 10:00 in Beijing
	a := f.seedCase(t, "A", "cust-1", "sos", "p1", "CNY", 1000_00, day)
	b := f.seedCase(t, "B", "cust-2", "sos", "p2", "USD", 400_00, day)
	c := f.seedCase(t, "C", "cust-3", "dengbao", "p1", "CNY", 3000_00, day)
	ids := map[string]string{
		"a-response": f.seedRefund(t, a, "response", 50, 500_00, day),
		"a-handling": f.seedRefund(t, a, "handling", 50, 500_00, day.Add(24*time.Hour)),
		"b-response": f.seedRefund(t, b, "response", 50, 200_00, day.Add(24*time.Hour+time.Minute)),
		"c-cancel":   f.seedRefund(t, c, "cancellation", 100, 3000_00, day.Add(48*time.Hour)),
	}
	require.NoError(t, f.store.MarkRefundInstructed(ctx, ids["a-response"], day.Add(time.Minute)))
	_, _, err := f.store.MarkRefundPaid(ctx, ids["a-handling"], day.Add(30*time.Hour), "=HYPERLINK(\"http://x\")")
	require.NoError(t, err)
	_, _, err = f.store.MarkRefundPaid(ctx, ids["b-response"], day.Add(30*time.Hour), "US-7")
	require.NoError(t, err)
	_, _, err = f.store.WaiveRefund(ctx, ids["c-cancel"], "mgr", "re-sold, customer agreed", day.Add(50*time.Hour))
	require.NoError(t, err)
	return f, ids
}

// TestListRefunds: every refund with its case, order and state, sums per currency and state; the filters.
func TestListRefunds(t *testing.T) {
	f, ids := refundsFixture(t)
	rec, _ := f.call(t, http.MethodGet, "/v1/refunds", nil, f.bearer(f.manager))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	l := decodeAs[RefundList](t, rec.Body.Bytes())
	require.Len(t, l.Items, 4)
	assert.Equal(t, ids["a-response"], l.Items[0].ID, "oldest first")
	assert.Equal(t, db.RefundInstructed, l.Items[0].State)
	assert.NotNil(t, l.Items[0].InstructedAt)
	assert.Equal(t, map[string]RefundSums{
		"CNY": {Instructed: 500_00, Paid: 500_00, Waived: 3000_00, Total: 4000_00},
		"USD": {Paid: 200_00, Total: 200_00},
	}, l.Sums)
	// Every documented field is there, a time not reached as null.
	var raw struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	for _, k := range []string{"id", "case_id", "order_id", "clause", "percent", "amount_cents", "currency", "state", "created_at",
		"instructed_at", "paid_at", "reference", "waived_at", "waived_reason"} {
		assert.Contains(t, raw.Items[0], k)
	}
	assert.Nil(t, raw.Items[0]["paid_at"])

	tests := []struct {
		query string
		want  []string
	}{
		{"?state=paid", []string{"a-handling", "b-response"}},
		{"?state=owed", nil},
		{"?service=dengbao", []string{"c-cancel"}},
		{"?partner_id=p1", []string{"a-response", "a-handling", "c-cancel"}},
		{"?partner_id=p1&state=waived", []string{"c-cancel"}},
		{"?from=2026-03-02", []string{"a-handling", "b-response", "c-cancel"}},
		{"?to=2026-03-02", []string{"a-response", "a-handling", "b-response"}}, // a date includes its day, Beijing time
		{"?from=2026-03-02T02:00:00Z&to=2026-03-02T02:01:00Z", []string{"a-handling"}},
		{"?from=2026-03-02T10:00:00%2B08:00&to=2026-03-03", []string{"a-handling", "b-response", "c-cancel"}},
	}
	for _, tt := range tests {
		rec, _ := f.call(t, http.MethodGet, "/v1/refunds"+tt.query, nil, f.bearer(f.manager))
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", tt.query, rec.Body)
		var got []string
		for _, it := range decodeAs[RefundList](t, rec.Body.Bytes()).Items {
			for k, id := range ids {
				if id == it.ID {
					got = append(got, k)
				}
			}
		}
		assert.Equal(t, tt.want, got, "GET /v1/refunds%s", tt.query)
	}
	rec, _ = f.call(t, http.MethodGet, "/v1/refunds?state=owed", nil, f.bearer(f.manager))
	assert.JSONEq(t, `{"items":[],"sums":{}}`, rec.Body.String())
}

// TestListRefundsCSV: Accept: text/csv (or format=csv) answers the same refunds as CSV with a header row;
// parsed back, its rows are the JSON items and add up to the same sums. Free text cannot become a formula.
func TestListRefundsCSV(t *testing.T) {
	f, ids := refundsFixture(t)
	rec, _ := f.call(t, http.MethodGet, "/v1/refunds", nil, f.bearer(f.manager))
	require.Equal(t, http.StatusOK, rec.Code)
	want := decodeAs[RefundList](t, rec.Body.Bytes())

	for name, req := range map[string]struct {
		query  string
		header map[string]string
	}{
		"accept": {"", map[string]string{"Authorization": "Bearer " + f.manager, "Accept": "text/csv"}},
		"format": {"?format=csv", f.bearer(f.manager)},
		"q":      {"", map[string]string{"Authorization": "Bearer " + f.manager, "Accept": "application/json;q=0.5, text/csv"}},
	} {
		t.Run(name, func(t *testing.T) {
			rec, _ := f.call(t, http.MethodGet, "/v1/refunds"+req.query, nil, req.header)
			require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
			assert.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
			rows, err := csv.NewReader(bytes.NewReader(rec.Body.Bytes())).ReadAll()
			require.NoError(t, err)
			require.Len(t, rows, 1+len(want.Items))
			assert.Equal(t, RefundCSVHeader, rows[0])
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			sums := map[string]RefundSums{}
			for i, row := range rows[1:] {
				it := want.Items[i]
				assert.Equal(t, it.ID, row[col["id"]])
				assert.Equal(t, it.CaseID, row[col["case_id"]])
				assert.Equal(t, it.OrderID, row[col["order_id"]])
				assert.Equal(t, it.State, row[col["state"]])
				assert.Equal(t, it.Clause, row[col["clause"]])
				assert.Equal(t, it.CreatedAt.Format(time.RFC3339), row[col["created_at"]])
				amount, err := strconv.ParseInt(row[col["amount_cents"]], 10, 64)
				require.NoError(t, err)
				assert.Equal(t, it.AmountCents, amount)
				s := sums[row[col["currency"]]]
				switch row[col["state"]] {
				case db.RefundOwed:
					s.Owed += amount
				case db.RefundInstructed:
					s.Instructed += amount
				case db.RefundPaid:
					s.Paid += amount
				case db.RefundWaived:
					s.Waived += amount
				}
				s.Total += amount
				sums[row[col["currency"]]] = s
				if it.ID == ids["a-handling"] {
					assert.Equal(t, `'=HYPERLINK("http://x")`, row[col["reference"]], "a formula is defused")
				}
				if it.ID == ids["a-response"] {
					assert.Empty(t, row[col["paid_at"]], "a time not reached is empty")
				}
			}
			assert.Equal(t, want.Sums, sums)
		})
	}
	rec, _ = f.call(t, http.MethodGet, "/v1/refunds?format=csv&service=dengbao", nil, f.bearer(f.manager))
	rows, err := csv.NewReader(bytes.NewReader(rec.Body.Bytes())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2, "filters apply to CSV too")
	assert.Equal(t, ids["c-cancel"], rows[1][0])
}

// TestListRefundsBadInput: wrong role 401/403; bad filters 422 naming the field.
func TestListRefundsBadInput(t *testing.T) {
	f := newFixture(t)
	rec, _ := f.call(t, http.MethodGet, "/v1/refunds", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	rec, _ = f.call(t, http.MethodGet, "/v1/refunds", nil, f.bearer(f.partner))
	assert.Equal(t, http.StatusForbidden, rec.Code)
	rec, _ = f.call(t, http.MethodGet, "/v1/refunds", nil, f.signedFor(http.MethodGet, "/v1/refunds", f.now, nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "finance's list is not the marketplace's")
	for query, field := range map[string]string{
		"?state=pending":                          "state",
		"?from=yesterday":                         "from",
		"?to=2026-13-01":                          "to",
		"?from=2026-03-02&to=2026-03-01":          "to",
		"?service=spa":                            "service",
		"?partner_id=" + strings.Repeat("p", 129): "partner_id",
		"?format=xml":                             "format",
		"?customer=c1":                            "customer",
		"?partner_id=%07":                         "partner_id",
	} {
		rec, p := f.call(t, http.MethodGet, "/v1/refunds"+query, nil, f.bearer(f.manager))
		assert.Equal(t, http.StatusUnprocessableEntity, rec.Code, "%s: %s", query, rec.Body)
		assert.True(t, strings.HasPrefix(p.Detail, field) || strings.Contains(p.Detail, `"`+field+`"`), "%s: %s", query, p.Detail)
	}
}

// TestRefundEventNames: db writes the refund events under the catalogue's names.
func TestRefundEventNames(t *testing.T) {
	assert.Equal(t, workflows.WebhookRefundPaid, db.EventRefundPaid)
	assert.Equal(t, workflows.WebhookRefundWaived, db.EventRefundWaived)
}
