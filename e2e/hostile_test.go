package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/sos"
)

// caseState is what a hostile request must leave as it was: the case as a manager sees it, its rows and
// its workflow history, and what the whole database and chat hold.
type caseState struct {
	Stage, Status, PartnerID string
	Timeline                 int
	Refund                   workflows.Refund
	EventRows, RefundRows    int
	History                  int
	Orders, Cases            int64
	Notes                    int
	Order                    db.Order
}

func (s *stack) caseState(c assert.TestingT, caseID string) caseState {
	ctx := context.Background()
	var st caseState
	res := s.bearer(http.MethodGet, "/v1/cases/"+caseID, s.manager, nil)
	var v workflows.CaseView
	if assert.Equal(c, http.StatusOK, res.Status, "%s", res.Body) && assert.NoError(c, json.Unmarshal(res.Body, &v)) {
		st.Stage, st.Status, st.PartnerID, st.Timeline, st.Refund = v.Stage, v.Status, v.PartnerID, len(v.Timeline), v.Refund
	}
	events, err := s.store.ListEvents(ctx, caseID)
	assert.NoError(c, err)
	refunds, err := s.store.ListRefunds(ctx, caseID)
	assert.NoError(c, err)
	st.EventRows, st.RefundRows = len(events), len(refunds)
	it := s.temporal.GetWorkflowHistory(ctx, caseID, "", false, 0)
	for it.HasNext() {
		_, err := it.Next()
		if !assert.NoError(c, err) {
			break
		}
		st.History++
	}
	st.Orders, err = s.store.NewSelect().Model((*db.Order)(nil)).Count(ctx)
	assert.NoError(c, err)
	st.Cases, err = s.store.NewSelect().Model((*db.Case)(nil)).Count(ctx)
	assert.NoError(c, err)
	st.Notes = len(s.notes.Messages())
	o, err := s.store.GetOrder(ctx, strings.TrimPrefix(caseID, "sos:"))
	if assert.NoError(c, err) {
		o.CreatedAt = o.CreatedAt.UTC()
		st.Order = *o
	}
	return st
}

// raw sends a request with only the headers given (pairs of name and value).
func (s *stack) raw(method, path string, body []byte, header ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.api.URL+path, bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return s.do(req)
}

// signedV2 sends a marketplace call with a v2 signature (bound to method and path) made now.
func (s *stack) signedV2(method, path string, body []byte) response {
	s.t.Helper()
	ts := time.Now()
	return s.raw(method, path, body, api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10), api.HeaderSignature, api.SignRequest(s.secret, ts, method, path, body))
}

// TestHostileRequests sends a table of hostile requests — forged, expired and replayed signatures, bad and
// revoked tokens, another partner, steps out of order, oversize and malformed bodies, injection in fields
// that must be refused, unknown cases and wrong methods — at an open SOS case. Every one is a 4xx
// problem+json, and afterwards the case, its rows and its history are as they were.
func TestHostileRequests(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	const order = "ORD-HOSTILE"
	caseID := workflows.CaseWorkflowID(workflows.ServiceSOS, order)
	path := "/v1/cases/" + caseID
	alpha, beta := s.partners["p-alpha"], s.partners["p-beta"]

	// An open case, accepted by p-alpha, assets in, the customer contacted: stage confirmation.
	good := purchaseBody(order)
	res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, good))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, "p-alpha", s.view(c, path, alpha).PartnerID)
	}, 20*time.Second, 100*time.Millisecond)
	for _, r := range []response{
		s.bearer(http.MethodPost, path+"/steps/accept", alpha, []byte(`{}`)),
		s.signed(http.MethodPost, path+"/assets", []byte(`{"hosts":[{"instance_id":"i-web1","ip":"10.0.0.11","os":"CentOS 7"}]}`)),
		s.bearer(http.MethodPost, path+"/steps/contact", alpha, []byte(`{"note":"called the admin"}`)),
	} {
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	}
	revoked, tok, err := s.store.IssueToken(ctx, db.RolePartner, "p-alpha", "former engineer")
	require.NoError(t, err)
	require.NoError(t, s.store.RevokeToken(ctx, tok.ID))

	// The case at rest: the same twice in a row, a moment apart.
	var before caseState
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		a := s.caseState(c, caseID)
		time.Sleep(300 * time.Millisecond)
		before = s.caseState(c, caseID)
		assert.Equal(c, a, before)
		assert.Equal(c, sos.StageConfirmation, before.Stage)
	}, 20*time.Second, 200*time.Millisecond)

	purchase := func(mutate func(map[string]any)) []byte {
		m := purchaseBody("ORD-HOSTILE-NEW")
		mutate(m)
		return mustJSON(t, m)
	}
	confirm := func(mutate func(map[string]any)) []byte {
		m := map[string]any{"security_incident": true, "incident_class": "malware", "incident_type": "webshell", "summary": "defaced pages"}
		mutate(m)
		return mustJSON(t, m)
	}
	now := func() string { return strconv.FormatInt(time.Now().Unix(), 10) }
	body := []byte(`{}`)
	// One v1 signature, used first on a call that fails validation, then replayed.
	v1ts := time.Now()
	v1 := []string{api.HeaderTimestamp, strconv.FormatInt(v1ts.Unix(), 10), api.HeaderSignature, api.Sign(s.secret, v1ts, body)}
	v1Upper := []string{v1[0], v1[1], v1[2], "v1=" + strings.ToUpper(strings.TrimPrefix(v1[3], "v1="))}
	oversize := []byte(`{"summary":"` + strings.Repeat("a", 1<<20) + `"}`)

	tests := []struct {
		name   string
		status int
		send   func() response
	}{
		// Marketplace signatures.
		{"purchase without a signature", 401, func() response { return s.raw("POST", "/v1/purchases", purchase(func(map[string]any) {})) }},
		{"purchase signed with another secret", 401, func() response {
			b, ts := purchase(func(map[string]any) {}), time.Now()
			return s.raw("POST", "/v1/purchases", b, api.HeaderTimestamp, now(), api.HeaderSignature, api.Sign([]byte("not-the-secret"), ts, b))
		}},
		{"signature not hex", 401, func() response {
			return s.raw("POST", path+"/cancel", body, api.HeaderTimestamp, now(), api.HeaderSignature, "v1=zzzz")
		}},
		{"signature version v3", 401, func() response {
			return s.raw("POST", path+"/cancel", body, api.HeaderTimestamp, now(), api.HeaderSignature, "v3="+strings.Repeat("0", 64))
		}},
		{"timestamp not a number", 401, func() response {
			return s.raw("POST", path+"/cancel", body, api.HeaderTimestamp, "yesterday", api.HeaderSignature, api.Sign(s.secret, time.Now(), body))
		}},
		{"expired signature (301 s old)", 401, func() response { return s.signedAt("POST", path+"/cancel", body, time.Now().Add(-301*time.Second)) }},
		{"signature from the future (301 s ahead)", 401, func() response {
			return s.signedAt("POST", path+"/cancel", body, time.Now().Add(301*time.Second))
		}},
		{"expired purchase (an hour old)", 401, func() response {
			return s.signedAt("POST", "/v1/purchases", purchase(func(map[string]any) {}), time.Now().Add(-time.Hour))
		}},
		{"body changed after signing", 401, func() response {
			ts := time.Now()
			return s.raw("POST", path+"/cancel", []byte(`{"reason":"refund me"}`), api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10), api.HeaderSignature, api.Sign(s.secret, ts, body))
		}},
		{"v2 signature made for another case", 401, func() response {
			ts := time.Now()
			return s.raw("POST", path+"/cancel", body, api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10), api.HeaderSignature, api.SignRequest(s.secret, ts, "POST", "/v1/cases/sos:OTHER/cancel", body))
		}},
		{"v2 signature made for another method", 401, func() response {
			ts := time.Now()
			return s.raw("POST", path+"/cancel", body, api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10), api.HeaderSignature, api.SignRequest(s.secret, ts, "GET", path+"/cancel", body))
		}},
		{"bearer token on a marketplace call", 401, func() response { return s.bearer("POST", path+"/cancel", s.manager, body) }},
		{"v1 signature, first use: a dispute without a comment", 422, func() response { return s.raw("POST", path+"/report/dispute", body, v1...) }},
		{"v1 signature replayed on cancel", 401, func() response { return s.raw("POST", path+"/cancel", body, v1...) }},
		{"v1 signature replayed on cancel in upper-case hex", 401, func() response { return s.raw("POST", path+"/cancel", body, v1Upper...) }},
		{"v1 signature replayed on the assets call", 401, func() response { return s.raw("POST", path+"/assets", body, v1...) }},

		// Bearer tokens.
		{"no Authorization header", 401, func() response { return s.raw("GET", path, nil) }},
		{"empty bearer token", 401, func() response { return s.raw("GET", path, nil, "Authorization", "Bearer ") }},
		{"basic auth", 401, func() response { return s.raw("GET", path, nil, "Authorization", "Basic cC1hbHBoYTpzZWNyZXQ=") }},
		{"unknown token", 401, func() response { return s.bearer("GET", path, "stw_"+strings.Repeat("x", 43), nil) }},
		{"token with a character added", 401, func() response { return s.bearer("GET", path, alpha+"x", nil) }},
		{"token of 8 KiB", 401, func() response { return s.bearer("GET", path, strings.Repeat("t", 8<<10), nil) }},
		{"revoked token reads the case", 401, func() response { return s.bearer("GET", path, revoked, nil) }},
		{"revoked token sends a step", 401, func() response {
			return s.bearer("POST", path+"/steps/confirm", revoked, confirm(func(map[string]any) {}))
		}},
		{"marketplace signature on a partner step", 401, func() response {
			return s.signedV2("POST", path+"/steps/confirm", confirm(func(map[string]any) {}))
		}},
		{"partner lists every case", 403, func() response { return s.bearer("GET", "/v1/cases", alpha, nil) }},
		{"manager sends a partner step", 403, func() response {
			return s.bearer("POST", path+"/steps/confirm", s.manager, confirm(func(map[string]any) {}))
		}},

		// Another partner's case.
		{"other partner reads the case", 404, func() response { return s.bearer("GET", path, beta, nil) }},
		{"other partner reads the contact", 404, func() response { return s.bearer("GET", path+"/contact", beta, nil) }},
		{"other partner reads the report", 404, func() response { return s.bearer("GET", path+"/report", beta, nil) }},
		{"other partner accepts", 404, func() response { return s.bearer("POST", path+"/steps/accept", beta, body) }},
		{"other partner confirms", 404, func() response {
			return s.bearer("POST", path+"/steps/confirm", beta, confirm(func(map[string]any) {}))
		}},
		{"other partner closes", 404, func() response {
			return s.bearer("POST", path+"/steps/close", beta, []byte(`{"follow_up":"closing someone else's case"}`))
		}},

		// Steps out of order, repeated, unknown.
		{"accept again", 409, func() response { return s.bearer("POST", path+"/steps/accept", alpha, body) }},
		{"decline after accepting", 409, func() response {
			return s.bearer("POST", path+"/steps/decline", alpha, []byte(`{"reason":"too late"}`))
		}},
		{"eradicate before confirming", 409, func() response {
			return s.bearer("POST", path+"/steps/eradicate", alpha, []byte(`{"cleaned":["x"],"malware_removed":true}`))
		}},
		{"report before eradicating", 409, func() response {
			return s.bearer("POST", path+"/steps/report", alpha, []byte(`{"summary":"s","recommendations":["r"]}`))
		}},
		{"close before the report", 409, func() response { return s.bearer("POST", path+"/steps/close", alpha, []byte(`{"follow_up":"done"}`)) }},
		{"assets a second time", 409, func() response {
			return s.signedV2("POST", path+"/assets", []byte(`{"hosts":[{"instance_id":"i-evil","ip":"10.6.6.6","os":"x"}]}`))
		}},
		{"customer confirms a report not yet written", 409, func() response { return s.signedV2("POST", path+"/report/confirm", []byte(`{"rating":5}`)) }},
		{"unknown step", 404, func() response { return s.bearer("POST", path+"/steps/pwn", alpha, body) }},
		{"a 等保 step on an SOS case", 404, func() response { return s.bearer("POST", path+"/steps/kickoff", alpha, body) }},
		{"step name with a path in it", 404, func() response { return s.bearer("POST", path+"/steps/..%2Faccept", alpha, body) }},
		{"request step on an SOS case", 404, func() response { return s.bearer("POST", path+"/requests/inc-1/steps/respond", alpha, body) }},

		// Bodies.
		{"step body over 1 MiB", 413, func() response { return s.bearer("POST", path+"/steps/confirm", alpha, oversize) }},
		{"purchase over 1 MiB", 413, func() response { return s.signedV2("POST", "/v1/purchases", oversize) }},
		{"invalid UTF-8 in a step", 400, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, []byte("{\"security_incident\":true,\"summary\":\"\xff\xfe\"}"))
		}},
		{"invalid JSON in a step", 400, func() response { return s.bearer("POST", path+"/steps/confirm", alpha, []byte(`{"summary":`)) }},
		{"a JSON array as a step", 400, func() response { return s.bearer("POST", path+"/steps/confirm", alpha, []byte(`[{"summary":"x"}]`)) }},
		{"null as a step", 400, func() response { return s.bearer("POST", path+"/steps/confirm", alpha, []byte(`null`)) }},
		{"data after the object", 400, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, append(confirm(func(map[string]any) {}), []byte(`{"again":1}`)...))
		}},
		{"JSON nested 20000 deep", 400, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, []byte(`{"summary":`+strings.Repeat(`[`, 20000)))
		}},
		{"unknown field in a step", 422, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, confirm(func(m map[string]any) { m["partner_id"] = "p-beta" }))
		}},
		{"NUL character in a step", 422, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, confirm(func(m map[string]any) { m["summary"] = "a\x00b" }))
		}},
		{"SQL as the incident class", 422, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, confirm(func(m map[string]any) { m["incident_class"] = "malware' OR '1'='1" }))
		}},
		{"HTML as the incident class", 422, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, confirm(func(m map[string]any) { m["incident_class"] = "<script>alert(1)</script>" }))
		}},
		{"confirm without security_incident", 422, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, confirm(func(m map[string]any) { delete(m, "security_incident") }))
		}},
		{"summary of 4001 characters", 422, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, confirm(func(m map[string]any) { m["summary"] = strings.Repeat("长", 4001) }))
		}},
		{"security_incident as a string", 422, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, confirm(func(m map[string]any) { m["security_incident"] = "yes" }))
		}},
		{"Idempotency-Key of 129 characters", 422, func() response {
			return s.bearer("POST", path+"/steps/confirm", alpha, confirm(func(map[string]any) {}), "Idempotency-Key", strings.Repeat("k", 129))
		}},
		{"empty dispute", 400, func() response { return s.signedV2("POST", path+"/report/dispute", nil) }},
		{"assets with an IP that is no IP", 422, func() response {
			return s.signedV2("POST", path+"/assets", []byte(`{"hosts":[{"instance_id":"i-1","ip":"10.0.0.1; DROP TABLE cases","os":"x"}]}`))
		}},

		// Purchases that must be refused.
		{"unknown service", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["service"] = "spa" }))
		}},
		{"negative amount", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["amount_cents"] = -1 }))
		}},
		{"amount beyond any order", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["amount_cents"] = int64(1) << 62 }))
		}},
		{"amount as a string", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["amount_cents"] = "100" }))
		}},
		{"far-future paid_at", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["paid_at"] = "2099-01-01T00:00:00Z" }))
		}},
		{"paid_at before 2000", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["paid_at"] = "1999-12-31T00:00:00Z" }))
		}},
		{"quantity of a million", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["quantity"] = 1_000_000 }))
		}},
		{"currency in lower case", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["currency"] = "cny" }))
		}},
		{"SQL in order_id", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["order_id"] = "x'; DROP TABLE orders; --" }))
		}},
		{"HTML in customer_id", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["customer_id"] = "<img src=x onerror=alert(1)>" }))
		}},
		{"HTML as the contact e-mail", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) {
				m["contact"] = map[string]any{"name": "x", "email": "<script>alert(1)</script>@example.com"}
			}))
		}},
		{"SQL as the contact phone", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["contact"] = map[string]any{"name": "x", "phone": "1' OR '1'='1"} }))
		}},
		{"unknown field in a purchase", 422, func() response {
			return s.signedV2("POST", "/v1/purchases", purchase(func(m map[string]any) { m["refund_percent"] = 100 }))
		}},
		{"this case's order again with another amount", 409, func() response {
			m := purchaseBody(order)
			m["paid_at"], m["amount_cents"] = good["paid_at"], 1
			return s.signedV2("POST", "/v1/purchases", mustJSON(t, m))
		}},
		{"invalid JSON in a purchase", 400, func() response { return s.signedV2("POST", "/v1/purchases", []byte(`{"order_id":"A"`)) }},
		{"invalid UTF-8 in a purchase", 400, func() response {
			return s.signedV2("POST", "/v1/purchases", bytes.Replace(purchase(func(map[string]any) {}), []byte("Wang Li"), []byte("Wang \xc3\x28"), 1))
		}},

		// Case IDs.
		{"malformed case ID", 404, func() response { return s.bearer("GET", "/v1/cases/nope", s.manager, nil) }},
		{"unknown service in the case ID", 404, func() response { return s.bearer("GET", "/v1/cases/spa:"+order, s.manager, nil) }},
		{"this order under another service", 404, func() response { return s.bearer("GET", "/v1/cases/dengbao:"+order, s.manager, nil) }},
		{"SQL in the case ID", 404, func() response { return s.bearer("GET", "/v1/cases/sos:x'%20OR%20'1'='1", s.manager, nil) }},
		{"NUL in the case ID", 404, func() response { return s.bearer("GET", path+"%00", s.manager, nil) }},
		{"invalid UTF-8 in the case ID", 404, func() response {
			return s.bearer("POST", path+"%FF/steps/confirm", alpha, confirm(func(map[string]any) {}))
		}},
		{"case ID of 5000 characters", 404, func() response { return s.bearer("GET", "/v1/cases/sos:"+strings.Repeat("A", 5000), s.manager, nil) }},
		{"step on an unknown case", 404, func() response { return s.bearer("POST", "/v1/cases/sos:NOPE/steps/contact", alpha, body) }},
		{"cancel of an unknown case", 404, func() response { return s.signedV2("POST", "/v1/cases/sos:NOPE/cancel", body) }},

		// Methods, routes and queries.
		{"DELETE the case", 405, func() response { return s.bearer("DELETE", path, s.manager, nil) }},
		{"PUT a step", 405, func() response {
			return s.bearer("PUT", path+"/steps/confirm", alpha, confirm(func(map[string]any) {}))
		}},
		{"GET the purchase callback", 405, func() response { return s.raw("GET", "/v1/purchases", nil) }},
		{"PATCH the cancel call", 405, func() response { return s.signedV2("PATCH", path+"/cancel", body) }},
		{"unknown route", 404, func() response { return s.bearer("GET", "/v1/admin", s.manager, nil) }},
		{"list with an unknown filter", 422, func() response { return s.bearer("GET", "/v1/cases?customer=cust-42", s.manager, nil) }},
		{"list with SQL as the service", 422, func() response { return s.bearer("GET", "/v1/cases?service=sos'%20OR%20'1'='1", s.manager, nil) }},
		{"list with a NUL in the stage", 422, func() response { return s.bearer("GET", "/v1/cases?stage=%00", s.manager, nil) }},
		{"list with limit -1", 422, func() response { return s.bearer("GET", "/v1/cases?limit=-1", s.manager, nil) }},
		{"report of an unknown kind", 422, func() response { return s.bearer("GET", path+"/report?kind=passwords", s.manager, nil) }},
		{"report in an unknown format", 422, func() response { return s.bearer("GET", path+"/report?format=docx", s.manager, nil) }},
	}

	counts := map[int]int{}
	for _, tt := range tests {
		r := tt.send()
		counts[r.Status]++
		assert.Equal(t, tt.status, r.Status, "%s: %s", tt.name, r.Body)
		assert.True(t, r.Status >= 400 && r.Status < 500, "%s: status %d", tt.name, r.Status)
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "%s", tt.name)
		var p api.Problem
		if assert.NoError(t, json.Unmarshal(r.Body, &p), "%s: %s", tt.name, r.Body) {
			assert.Equal(t, r.Status, p.Status, tt.name)
			assert.Equal(t, api.ProblemTypeBase+p.Code, p.Type, tt.name)
			assert.NotEmpty(t, p.Detail, tt.name)
		}
	}
	statuses := slices.Sorted(maps.Keys(counts))
	summary := make([]string, 0, len(statuses))
	for _, st := range statuses {
		summary = append(summary, fmt.Sprintf("%d×%d", counts[st], st))
	}
	t.Logf("hostile requests: %d, by status: %s", len(tests), strings.Join(summary, " "))
	assert.GreaterOrEqual(t, len(tests), 50)
	for st := range counts {
		assert.Less(t, st, 500, "no hostile request may cause a server error")
	}

	// Nothing changed: the case, its rows, its history (refused updates never reach it), the database and chat.
	assert.Equal(t, before, s.caseState(t, caseID))

	// Injection in a free-text field is data: a confirm whose summary holds SQL and HTML is taken, stored
	// verbatim, and sent back escaped in JSON.
	const injected = `<script>alert("x")</script> '; DROP TABLE cases; --`
	r := s.bearer("POST", path+"/steps/confirm", alpha, confirm(func(m map[string]any) { m["summary"] = injected }))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	m := s.bearer("GET", path, s.manager, nil)
	require.Equal(t, http.StatusOK, m.Status, "%s", m.Body)
	assert.NotContains(t, string(m.Body), "<script>", "HTML is escaped in JSON")
	var v workflows.CaseView
	m.json(t, &v)
	assert.Equal(t, sos.StageEradication, v.Stage)
	events, err := s.store.ListEvents(ctx, caseID)
	require.NoError(t, err)
	var details []string
	for _, e := range events {
		if e.Event == string(workflows.EventIncidentConfirmed) {
			details = append(details, e.Detail)
		}
	}
	assert.Equal(t, []string{"malware / webshell: " + injected}, details, "stored verbatim")
	n, err := s.store.NewSelect().Model((*db.Case)(nil)).Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, before.Cases, n, "the cases table is whole")
}
