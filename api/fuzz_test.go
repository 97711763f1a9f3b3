package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/sos"
)

// The fuzz targets run their seeds with every `go test`; `go test -fuzz FuzzX ./api/` explores further.
// Each asserts properties of any input, not answers to particular ones: the API never answers 5xx (a panic
// would be one, through the recover middleware), every 4xx is a coherent problem document, and what reaches
// the workflow service is well formed.

// serve sends one request to the fixture's server.
func (f *fixture) serve(method, path string, body []byte, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// checkAnswer holds for every answer: no 5xx; a 4xx is problem+json whose status, code and type agree with
// the error table and which says what was wrong.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("status %d without the security headers", rec.Code)
	}
	if rec.Code < 400 {
		return
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d with Content-Type %q: %s", rec.Code, ct, rec.Body)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("status %d, problem does not decode: %v: %s", rec.Code, err, rec.Body)
	}
	if p.Status != rec.Code || problemStatus[p.Code] != rec.Code || p.Type != ProblemTypeBase+p.Code {
		t.Fatalf("status %d with problem status %d, code %q, type %q", rec.Code, p.Status, p.Code, p.Type)
	}
	if strings.TrimSpace(p.Detail) == "" || !utf8.ValidString(p.Detail) {
		t.Fatalf("status %d with detail %q", rec.Code, p.Detail)
	}
}

// isJSONObject reports whether body is one JSON object and nothing else, in valid UTF-8.
func isJSONObject(body []byte) bool {
	var m map[string]json.RawMessage
	return utf8.Valid(body) && json.Unmarshal(body, &m) == nil && m != nil
}

func FuzzPurchase(f *testing.F) {
	fx := newFixture(f)
	var started []client.StartWorkflowOptions
	var args []any
	fx.temporal.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, o client.StartWorkflowOptions, _ any, a ...any) (client.WorkflowRun, error) {
			started, args = append(started, o), append(args, a...)
			return &mocks.WorkflowRun{}, nil
		})
	valid := func(order string) map[string]any {
		return map[string]any{
			"order_id": order, "customer_id": "cust-1", "service": "sos", "spec": "handling", "quantity": 3,
			"amount_cents": 500000, "currency": "CNY", "paid_at": fx.now.Add(-time.Hour).UTC().Format(time.RFC3339),
			"contact": map[string]any{"name": "Wang Li", "phone": "+86 138 0000 0000", "email": "ops@example.com"},
		}
	}
	seed := func(order string, mutate func(map[string]any)) {
		m := valid(order)
		if mutate != nil {
			mutate(m)
		}
		b, _ := json.Marshal(m)
		f.Add(b)
	}
	seed("F-1", nil)
	seed("F-2", func(m map[string]any) { m["service"] = "dengbao"; m["spec"] = "" })
	seed("F-3", func(m map[string]any) { m["service"] = "butler"; m["spec"] = "enterprise" })
	seed("F-4", func(m map[string]any) { m["amount_cents"] = -1 })
	seed("F-5", func(m map[string]any) { m["paid_at"] = "2999-01-01T00:00:00Z" })
	seed("F-6", func(m map[string]any) { m["paid_at"] = "1999-12-31T23:59:59-01:00" })
	seed("F-7", func(m map[string]any) { m["extra"] = true })
	seed("F-8", func(m map[string]any) {
		m["contact"] = map[string]any{"name": "<script>alert(1)</script>", "email": "a@b.c"}
	})
	seed("x' OR '1'='1", nil)
	seed("F-9", func(m map[string]any) { m["quantity"] = 1e12 })
	seed("F-10", func(m map[string]any) { m["amount_cents"] = "100" })
	seed("F-11", func(m map[string]any) { m["contact"] = map[string]any{"name": "Li", "phone": "call me"} })
	seed("F-12", func(m map[string]any) { m["contact"] = map[string]any{"name": "Li\u0000", "phone": "110"} })
	seed("F-13", func(m map[string]any) { m["contact"] = map[string]any{"name": "Li\x00Wang", "phone": "110"} })
	for _, b := range []string{``, ` `, `null`, `[]`, `"x"`, `0`, `{}`, `{"order_id":"\ud800"}`, "{\"order_id\":\"\xff\"}", `{} {}`,
		`{"order_id":1e999}`, `{"paid_at":"2026-02-30T00:00:00Z"}`, strings.Repeat(`[`, 20000), `{"order_id":"A","order_id":"B"}`} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		started, args = started[:0], args[:0]
		fx.temporal.Calls = fx.temporal.Calls[:0] // the mock records every call; a fuzz run makes many
		var in PurchaseInput
		lenient := json.Unmarshal(body, &in) == nil
		var existed bool
		if lenient && in.OrderID != "" {
			_, err := fx.store.GetOrder(context.Background(), in.OrderID)
			existed = err == nil
		}
		rec := fx.serve(http.MethodPost, "/v1/purchases", body, fx.signedFor(http.MethodPost, "/v1/purchases", fx.now, body))
		checkAnswer(t, rec)
		if rec.Code >= 400 {
			if len(started) > 0 {
				t.Fatalf("status %d, yet a workflow was started", rec.Code)
			}
			return
		}
		// Accepted: the body was one valid JSON object that passes validation, stored once.
		if !isJSONObject(body) || !lenient {
			t.Fatalf("status %d for a body that is not a JSON object: %q", rec.Code, body)
		}
		if err := in.Validate(fx.now); err != nil {
			t.Fatalf("status %d for an invalid purchase: %v", rec.Code, err)
		}
		if (rec.Code == http.StatusCreated) == existed {
			t.Fatalf("status %d; the order existed before: %v", rec.Code, existed)
		}
		var res PurchaseResult
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || res.CaseID != workflows.CaseWorkflowID(in.Service, in.OrderID) {
			t.Fatalf("result %s (%v)", rec.Body, err)
		}
		if len(started) != 1 || started[0].ID != res.CaseID || started[0].TaskQueue != workflows.TaskQueue {
			t.Fatalf("started %+v for case %s", started, res.CaseID)
		}
		// The customer's contact is in the order row as sent, and nowhere in what the workflow receives.
		if strings.ContainsRune(in.Contact.Name+in.Contact.Phone+in.Contact.Email, 0) {
			t.Fatalf("accepted a contact with U+0000, which PostgreSQL cannot store: %+v", in.Contact)
		}
		o, err := fx.store.GetOrder(context.Background(), in.OrderID)
		if err != nil || (o.Contact != db.Contact{Name: in.Contact.Name, Phone: in.Contact.Phone, Email: in.Contact.Email}) {
			t.Fatalf("stored order %+v (%v); sent contact %+v", o, err, in.Contact)
		}
		for _, a := range args {
			b, err := json.Marshal(a)
			var fields map[string]any
			if err != nil || json.Unmarshal(b, &fields) != nil {
				t.Fatalf("workflow input %T does not marshal to an object: %v", a, err)
			}
			for _, k := range []string{"contact", "name", "phone", "email"} {
				if _, ok := fields[k]; ok {
					t.Fatalf("workflow input carries %q: %s", k, b)
				}
			}
		}
	})
}

// holdsNUL reports whether a decoded JSON value has U+0000 in any string or key.
func holdsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		return slices.ContainsFunc(v, holdsNUL)
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || holdsNUL(e) {
				return true
			}
		}
	}
	return false
}

// fakeUpdate is a workflow update's outcome.
type fakeUpdate struct{ err error }

func (u fakeUpdate) WorkflowID() string                 { return "" }
func (u fakeUpdate) RunID() string                      { return "" }
func (u fakeUpdate) UpdateID() string                   { return "" }
func (u fakeUpdate) Get(_ context.Context, _ any) error { return u.err }

func FuzzStep(f *testing.F) {
	fx := newFixture(f)
	const caseID = "sos:FUZZ"
	if err := fx.store.UpsertCase(context.Background(), &db.Case{CaseID: caseID, WorkflowID: caseID, Service: "sos", Stage: sos.StageConfirmation,
		Status: workflows.StatusOpen, PartnerID: "p1", CustomerID: "c", OrderID: "FUZZ", OpenedAt: fx.now, UpdatedAt: fx.now}); err != nil {
		f.Fatal(err)
	}
	// The workflow accepts a contact, refuses a confirm's fields and finds every other step out of order,
	// so that each of the API's answers to the workflow's verdicts is exercised.
	var sent []client.UpdateWorkflowOptions
	fx.temporal.On("UpdateWorkflow", mock.Anything, mock.Anything).Return(
		func(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
			sent = append(sent, o)
			switch o.Args[0].(workflows.StepInput).Step {
			case workflows.StepContact:
				return fakeUpdate{}, nil
			case sos.StepConfirm:
				return fakeUpdate{temporal.NewApplicationError("incident_class: one of malware, ...", workflows.RejectInvalid)}, nil
			}
			return fakeUpdate{temporal.NewApplicationError("contact the customer first", workflows.RejectConflict)}, nil
		})
	fx.temporal.On("QueryWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil, serviceerror.NewNotFound("archived"))

	for _, s := range []struct{ step, body, key string }{
		{"contact", `{"note":"called the admin"}`, ""},
		{"contact", ``, "k-1"},
		{"contact", ` `, ""},
		{"contact", `null`, ""},
		{"contact", `[]`, ""},
		{"contact", `{"note":"x"} trailing`, ""},
		{"confirm", `{"security_incident":true,"incident_class":"'; DROP TABLE cases;--","summary":"<img src=x onerror=alert(1)>"}`, ""},
		{"close", `{"follow_up":"done"}`, strings.Repeat("k", 129)},
		{"report", "{\"summary\":\"\xc3\x28\"}", ""},
		{"../accept", `{}`, ""},
		{"", `{}`, ""},
		{"contact", `{"note":` + strings.Repeat(`{"a":`, 5000), ""},
		{"contact", `{"note":"\u0000\u202e"}`, "\n"},
		{"contact", `{"note":"\\u0000 is a literal, \\\u0000 is not"}`, ""},
		{"contact", `{"note":"\\u0000 is only a literal here"}`, ""},
		{"contact", `{"note\u0000":"x"}`, ""},
	} {
		f.Add(s.step, []byte(s.body), s.key)
	}
	f.Fuzz(func(t *testing.T, step string, body []byte, key string) {
		sent = sent[:0]
		fx.temporal.Calls = fx.temporal.Calls[:0] // the mock records every call; a fuzz run makes many
		h := map[string]string{"Authorization": "Bearer " + fx.partner}
		if key != "" {
			h["Idempotency-Key"] = key
		}
		rec := fx.serve(http.MethodPost, "/v1/cases/"+caseID+"/steps/"+url.PathEscape(step), body, h)
		checkAnswer(t, rec)
		known := slices.Contains(sos.Steps, step)
		var decoded any
		_ = json.Unmarshal(body, &decoded)
		object := len(body) == 0 || (isJSONObject(body) && !holdsNUL(decoded)) // no body at all stands for {}
		if !known || !object || len(key) > 128 {
			if len(sent) > 0 || rec.Code < 400 {
				t.Fatalf("step %q, body %q, key of %d: status %d and %d updates sent", step, body, len(key), rec.Code, len(sent))
			}
			return
		}
		// What reaches the workflow: one well-formed step, its sender taken from the token, never the body.
		if len(sent) != 1 {
			t.Fatalf("step %q: %d updates sent (status %d: %s)", step, len(sent), rec.Code, rec.Body)
		}
		o := sent[0]
		in := o.Args[0].(workflows.StepInput)
		if o.WorkflowID != caseID || o.UpdateName != step || in.Step != step || in.Actor != workflows.ActorPartner ||
			in.PartnerID != "p1" || in.ActorName != "eng" || !in.At.Equal(fx.now) || !isJSONObject(in.Payload) {
			t.Fatalf("sent %+v with input %+v", o, in)
		}
		var payload any
		if err := json.Unmarshal(in.Payload, &payload); err != nil || holdsNUL(payload) {
			t.Fatalf("sent a payload with U+0000, which PostgreSQL cannot store: %q", in.Payload)
		}
		if key != "" && o.UpdateID != step+"/"+workflows.ActorPartner+"/"+key {
			t.Fatalf("update id %q for key %q", o.UpdateID, key)
		}
		want := map[string]int{workflows.StepContact: http.StatusOK, sos.StepConfirm: http.StatusUnprocessableEntity}[step]
		if want == 0 {
			want = http.StatusConflict
		}
		if rec.Code != want {
			t.Fatalf("step %q: status %d, want %d: %s", step, rec.Code, want, rec.Body)
		}
		if rec.Code == http.StatusOK {
			var v workflows.CaseView
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.CaseID != caseID {
				t.Fatalf("case view %s (%v)", rec.Body, err)
			}
		}
	})
}

// FuzzSignatureMutation: a signature made by Sign or SignRequest verifies, and changing any one part of
// what it covers — a bit of the body, the timestamp, the secret, a bit of the MAC, and for v2 the method
// or the path — makes it fail. (FuzzVerifySignature, beside VerifySignature's tests, checks that no
// header it did not make is accepted.)
func FuzzSignatureMutation(f *testing.F) {
	f.Add([]byte("s3cret-s3cret-s3cret"), int64(1_780_000_000), "POST", "/v1/purchases", []byte(`{"order_id":"O-1"}`), uint(3))
	f.Add([]byte{}, int64(0), "GET", "/v1/cases/sos:A/report", []byte{}, uint(0))
	f.Add([]byte("k"), int64(-62135596800), "", "", []byte("\xff\x00"), uint(1<<40))
	f.Add([]byte("k"), int64(9_223_372_036_854_775_807), "POST", "/v1/cases/sos:A.1/cancel", []byte(`{}`), uint(7))
	f.Fuzz(func(t *testing.T, secret []byte, unix int64, method, path string, body []byte, which uint) {
		ts := time.Unix(unix, 0)
		tsh := strconv.FormatInt(unix, 10)
		verify := func(secret []byte, tsh, sig, method, path string, body []byte) (bool, error) {
			return VerifySignature(secret, ts, tsh, sig, method, path, body)
		}
		v1, v2 := Sign(secret, ts, body), SignRequest(secret, ts, method, path, body)
		if bound, err := verify(secret, tsh, v1, method, path, body); err != nil || bound {
			t.Fatalf("v1 signature of its own request: bound %v, %v", bound, err)
		}
		if bound, err := verify(secret, tsh, v2, method, path, body); err != nil || !bound {
			t.Fatalf("v2 signature of its own request: bound %v, %v", bound, err)
		}
		// Hex is case-insensitive: the same MAC spelt in upper case is the same signature.
		if _, err := verify(secret, tsh, "v1="+strings.ToUpper(v1[3:]), method, path, body); err != nil {
			t.Fatalf("v1 in upper case: %v", err)
		}

		rejects := func(what, tsh, sig, method, path string, secret, body []byte) {
			t.Helper()
			if _, err := verify(secret, tsh, sig, method, path, body); err == nil {
				t.Fatalf("%s: still verifies", what)
			}
		}
		for _, sig := range []string{v1, v2} {
			if len(body) > 0 {
				b := bytes.Clone(body)
				b[which%uint(len(b))] ^= 1 << (which % 8)
				rejects("body bit flipped", tsh, sig, method, path, secret, b)
			}
			rejects("body extended", tsh, sig, method, path, secret, append(bytes.Clone(body), ' '))
			other := unix + 1
			if unix == 1<<63-1 {
				other = unix - 1
			}
			rejects("timestamp changed", strconv.FormatInt(other, 10), sig, method, path, secret, body)
			rejects("secret changed", tsh, sig, method, path, append(bytes.Clone(secret), 'x'), body)
			mac, err := hex.DecodeString(sig[3:])
			if err != nil || len(mac) != 32 {
				t.Fatalf("%s is not v1=/v2= and 32 bytes of hex", sig)
			}
			mac[which%32] ^= 1 << (which % 8)
			rejects("MAC bit flipped", tsh, sig[:3]+hex.EncodeToString(mac), method, path, secret, body)
			rejects("MAC truncated", tsh, sig[:len(sig)-2], method, path, secret, body)
		}
		rejects("v2 for another path", tsh, v2, method, path+"/", secret, body)
		rejects("v2 for another method", tsh, v2, method+"X", path, secret, body)
		if m, err := hex.DecodeString(v1[3:]); err == nil {
			rejects("v1 MAC sent as v2", tsh, "v2="+hex.EncodeToString(m), method, path, secret, body)
		}
	})
}

var _ client.WorkflowUpdateHandle = fakeUpdate{}
