package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/dialect"
	"go.temporal.io/sdk/converter"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/notifications/dingtalktest"
)

// logBuffer collects log lines from the stack's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// notifyBoth hands every message to each notifier: the recorder, and the log notifier steward uses when
// no Slack token is set.
type notifyBoth []notifications.Notifier

func (n notifyBoth) Notify(ctx context.Context, m notifications.Message) error {
	for _, x := range n {
		if err := x.Notify(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// tableText reads every table of the database into one string per table, for searching.
func tableText(t *testing.T, store *db.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if store.Dialect().Name() == dialect.PG {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	var tables []string
	require.NoError(t, store.NewRaw(q).Scan(ctx, &tables))
	out := map[string]string{}
	for _, table := range tables {
		rows, err := store.QueryContext(ctx, "SELECT * FROM "+table)
		require.NoError(t, err, table)
		cols, err := rows.Columns()
		require.NoError(t, err)
		var b strings.Builder
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				if raw, ok := v.([]byte); ok {
					b.Write(raw)
				} else {
					fmt.Fprint(&b, v)
				}
				b.WriteByte('\t')
			}
			b.WriteByte('\n')
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		out[table] = b.String()
	}
	return out
}

// TestSecretsStayOut runs an SOS case from purchase to close — its response clock breached, so chat hears
// of it — with the customer's contact in the purchase, the partner reading it, and bad tokens and
// signatures along the way. The credentials' life cycle runs through it too: the engineer's token is rotated
// mid-case and the successor takes the steps, an expired token is refused, and a second API process verifies
// the marketplace's calls during a secret rotation (the current and the previous secret) with the limit on
// failed authentication, which a flood of bad tokens reaches. Then no log line holds a secret, a token or
// the contact; the database holds no secret or token anywhere (tokens are kept hashed, with their id, last
// use and successor) and the contact only in the orders table; and the workflow's search attributes,
// metadata and history (whose steps name the token's holder and id) and the chat messages hold none of them
// either.
func TestSecretsStayOut(t *testing.T) {
	logs := &logBuffer{}
	const marketSecret = "mkt-secret-5d1f0a7c93b2e4"
	s := newStackWith(t, stackOptions{logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), secret: marketSecret, logNotes: true})
	ctx := context.Background()
	contact := map[string]any{"name": "Zhao Mingyu", "phone": "+86 139 2468 1357", "email": "zhao.mingyu@customer.example"}
	// The customer's DingTalk robot (its access token and signing secret are credentials) and e-mail.
	require.NoError(t, s.store.SetSecretKey("c2VjcmV0LWtleS1mb3ItdGhlLXNlY3JldHMtdGVzdCE="))
	robot := dingtalktest.NewServer(dingtalktest.Options{})
	t.Cleanup(robot.Close)
	const robotToken, robotSecret, customerMail = "robot-token-8c1e5f0b7d", "SECrobot-secret-4a9d2e6f", "soc.lead@customer.example"
	box := &mailbox{}
	s.runCustomerDispatcher(t, robot, box, &alerts{})
	body := purchaseBody("ORD-SECRET")
	body["contact"] = contact
	body["customer_channel"] = map[string]any{"dingtalk": map[string]string{"webhook": robot.AddRobot(robotToken, robotSecret), "secret": robotSecret},
		"emails": []string{customerMail}}
	body["paid_at"] = time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	caseID, path, partner := "sos:ORD-SECRET", "/v1/cases/sos:ORD-SECRET", s.partners["p-alpha"]
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, "p-alpha", s.view(c, path, partner).PartnerID)
	}, 20*time.Second, 100*time.Millisecond)

	ok := func(r response) {
		t.Helper()
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	}
	step := func(name, payload string) {
		ok(s.bearer(http.MethodPost, path+"/steps/"+name, partner, []byte(payload)))
	}
	step("accept", `{}`)
	// The engineer's token is rotated: the old one still works in its grace period, the successor from now on.
	engineer, err := s.store.Authenticate(ctx, partner)
	require.NoError(t, err)
	rotatedToken, successor, err := s.store.RotateToken(ctx, engineer.ID, time.Hour, db.DefaultTokenTTL, time.Now())
	require.NoError(t, err)
	ok(s.bearer(http.MethodGet, path, partner, nil))
	oldToken := partner
	partner = rotatedToken
	// The marketplace secret is rotated on a second API process: the current secret and the previous one.
	const newMarketSecret = "mkt-secret-next-8e2b6c0d41f7a9"
	second := httptest.NewServer(api.New(api.Config{Temporal: s.temporal, Store: s.store, Logger: s.logger,
		MarketplaceSecrets: [][]byte{[]byte(newMarketSecret), []byte(marketSecret)}, AuthFailureLimit: 1, AuthFailureBurst: 3}).Handler())
	t.Cleanup(second.Close)
	viaSecond := func(method, p string, secret string, b []byte, header ...string) response {
		t.Helper()
		ts := time.Now()
		req, err := http.NewRequest(method, second.URL+p, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set(api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		req.Header.Set(api.HeaderSignature, api.SignRequest([]byte(secret), ts, method, strings.Split(p, "?")[0], b))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return s.do(req)
	}
	ok(viaSecond(http.MethodPost, path+"/assets", newMarketSecret, []byte(`{"hosts":[{"instance_id":"i-web1","ip":"10.0.0.11","os":"CentOS 7"}]}`)))
	ok(viaSecond(http.MethodGet, path+"?customer_id=cust-42", marketSecret, nil))
	require.Contains(t, logs.String(), "signed with the previous marketplace secret", "the rotation's progress is logged")
	r := s.bearer(http.MethodGet, path+"/contact", partner, nil)
	ok(r)
	assert.Contains(t, string(r.Body), "zhao.mingyu@customer.example", "the partner holding the case reads the contact")
	step("contact", `{"note":"reached the on-call admin"}`)
	step("confirm", `{"security_incident":true,"incident_class":"malware","incident_type":"webshell","summary":"webshell in uploads"}`)
	step("eradicate", `{"cleaned":["removed the webshell"],"malware_removed":true}`)
	step("analyze", `{"cause":"unpatched upload form"}`)
	step("report", `{"summary":"webshell removed","recommendations":["patch the upload form"]}`)
	ok(s.signed(http.MethodPost, path+"/report/confirm", []byte(`{"rating":5}`)))
	step("close", `{"follow_up":"no recurrence"}`)
	ok(s.bearer(http.MethodGet, path+"/report", s.manager, nil))
	ok(s.bearer(http.MethodGet, "/v1/cases?service=sos", s.manager, nil))

	// Refused credentials are not logged either: a wrong token, an expired one, a bad signature, a flood.
	const wrongToken = "stw_wrong_token_0c8e1f5a2b"
	assert.Equal(t, http.StatusUnauthorized, s.bearer(http.MethodGet, path, wrongToken, nil).Status)
	expiredToken, _, err := s.store.IssueTokenTTL(ctx, db.RoleManager, "", "short-lived", time.Nanosecond)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, s.bearer(http.MethodGet, path, expiredToken, nil).Status)
	limited := 0
	for range 6 {
		req, err := http.NewRequest(http.MethodGet, second.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+wrongToken)
		if s.do(req).Status == http.StatusTooManyRequests {
			limited++
		}
	}
	assert.Positive(t, limited, "the flood reached the limit on failed authentication")
	wrongSig := s.raw(http.MethodPost, path+"/cancel", []byte(`{}`), api.HeaderTimestamp, "1", api.HeaderSignature, "v1=deadbeef")
	assert.Equal(t, http.StatusUnauthorized, wrongSig.Status)

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.NotEmpty(c, s.notes.Messages(), "the breach reached chat")
		assert.GreaterOrEqual(c, len(robot.Messages(robotToken)), 6, "the customer's group heard of the case")
		assert.Equal(c, len(robot.Messages(robotToken)), len(box.sent()), "and their e-mail")
	}, 20*time.Second, 100*time.Millisecond)

	secrets := map[string]string{"marketplace secret": marketSecret, "manager token": s.manager, "wrong token": wrongToken,
		"customer robot's access token": robotToken, "customer robot's secret": robotSecret,
		"next marketplace secret": newMarketSecret, "rotated engineer's token": oldToken, "its successor": rotatedToken,
		"successor without its prefix": strings.TrimPrefix(rotatedToken, "stw_"), "expired token": expiredToken}
	for id, tok := range s.partners {
		secrets["token of "+id] = tok
		secrets["token of "+id+" without its prefix"] = strings.TrimPrefix(tok, "stw_")
	}
	personal := map[string]string{}
	for k, v := range contact {
		personal["contact "+k] = v.(string)
	}
	personal["customer channel e-mail"] = customerMail
	both := map[string]string{}
	for k, v := range secrets {
		both[k] = v
	}
	for k, v := range personal {
		both[k] = v
	}

	// Logs: the capture works (the API logged each request), and holds none of them.
	out := logs.String()
	require.Contains(t, out, `"route":"/v1/cases/:id/contact"`, "the API's request log was captured")
	require.Contains(t, out, `"msg":"notification"`, "the log notifier's lines were captured")
	for what, v := range both {
		assert.NotContains(t, out, v, "a log line holds the %s", what)
	}

	// Database: no secret or token in any table (tokens are stored as hashes); the contact only in orders.
	tables := tableText(t, s.store)
	require.Contains(t, tables, "tokens")
	for table, text := range tables {
		for what, v := range secrets {
			assert.NotContains(t, text, v, "table %s holds the %s", table, what)
		}
		if table == "orders" || table == "customer_channels" {
			continue
		}
		for what, v := range personal {
			assert.NotContains(t, text, v, "table %s holds the %s", table, what)
		}
	}
	assert.Contains(t, tables["orders"], "zhao.mingyu@customer.example", "the order keeps the contact")
	assert.Contains(t, tables["customer_channels"], customerMail, "the channel keeps the customer's addresses")
	assert.Contains(t, tables["customer_channels"], "sealed:v1:", "and the robot, sealed")

	// Temporal: search attributes, metadata and history hold no personal data and no secret.
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, caseID, "")
	require.NoError(t, err)
	attrs := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	require.NotEmpty(t, attrs)
	for name, p := range attrs {
		var v any
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &v), name)
		for what, x := range both {
			assert.NotContains(t, fmt.Sprint(v), x, "search attribute %s holds the %s", name, what)
		}
	}
	describe := desc.String()
	for what, v := range both {
		assert.NotContains(t, describe, v, "the workflow's description holds the %s", what)
	}
	named := false
	for _, ev := range history(t, s, caseID, "").Events {
		text := ev.String()
		for what, v := range both {
			assert.NotContains(t, text, v, "history event %d holds the %s", ev.EventId, what)
		}
		named = named || strings.Contains(text, successor.ID)
	}
	assert.True(t, named, "the steps name the successor token by its id, never its secret")
	assert.Contains(t, tables["tokens"], successor.ID)
	assert.Contains(t, tables["tokens"], "127.0.0.1", "the tokens' last use and client address")
	assert.Contains(t, tables["case_events"], successor.ID, "the timeline names the token")

	// Chat: no message carries the contact or a secret.
	for _, m := range s.notes.Messages() {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		for what, v := range both {
			assert.NotContains(t, string(b), v, "message %q holds the %s", m.Title, what)
		}
	}
}
