package notifications_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/notifications"
)

// post is one chat.postMessage call the fake Slack received.
type post struct {
	Channel  string
	Text     string
	Blocks   string
	Metadata string
	At       time.Time
}

// fakeSlack records chat.postMessage calls. respond, when set, may answer a call itself (to
// simulate 429 and 500) and return true.
type fakeSlack struct {
	mu      sync.Mutex
	calls   int
	posts   []post
	respond func(call int, w http.ResponseWriter) bool
}

func (f *fakeSlack) handler(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls++
	call := f.calls
	respond := f.respond
	f.mu.Unlock()
	if respond != nil && respond(call, w) {
		return
	}
	f.mu.Lock()
	f.posts = append(f.posts, post{Channel: r.FormValue("channel"), Text: r.FormValue("text"), Blocks: r.FormValue("blocks"), Metadata: r.FormValue("metadata"), At: time.Now()})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": r.FormValue("channel"), "ts": "1700000000.000100"})
}

func (f *fakeSlack) Posts() []post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]post(nil), f.posts...)
}

func newSlack(t *testing.T, f *fakeSlack) *notifications.Slack {
	t.Helper()
	srv := slacktest.NewTestServer(func(c slacktest.Customize) { c.Handle("/chat.postMessage", f.handler) })
	srv.Start()
	t.Cleanup(srv.Stop)
	return notifications.NewSlack("xoxb-test", "#ops", slack.OptionAPIURL(srv.GetAPIURL()))
}

func breachMessage() notifications.Message {
	return notifications.Message{
		Key:        "sos:o-1/breach/response",
		CaseID:     "c-1",
		WorkflowID: "sos:o-1",
		Service:    "sos",
		Severity:   notifications.SeverityCritical,
		Title:      "SLA breached: response",
		Text:       "Partner did not contact the customer within 30 minutes <a & b>",
		Fields: []notifications.Field{
			{Name: "Partner", Value: "p-acme"},
			{Name: "Refund", Value: "10%"},
		},
		Link: "http://localhost:8233/namespaces/default/workflows/sos:o-1",
	}
}

func TestSlackRouting(t *testing.T) {
	tests := []struct {
		name           string
		partnerChannel string
		want           []string
	}{
		{"partner and ops", "#partner-acme", []string{"#partner-acme", "#ops"}},
		{"ops only", "", []string{"#ops"}},
		{"partner channel is ops", "#ops", []string{"#ops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSlack{}
			s := newSlack(t, f)
			m := breachMessage()
			m.PartnerChannel = tt.partnerChannel
			require.NoError(t, s.Notify(context.Background(), m))
			var got []string
			for _, p := range f.Posts() {
				got = append(got, p.Channel)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSlackBlocks(t *testing.T) {
	f := &fakeSlack{}
	s := newSlack(t, f)
	require.NoError(t, s.Notify(context.Background(), breachMessage()))
	posts := f.Posts()
	require.Len(t, posts, 1)
	p := posts[0]

	assert.Contains(t, p.Text, "SLA breached: response", "fallback text")
	assert.Contains(t, p.Text, "c-1")

	var blocks []map[string]any
	require.NoError(t, json.Unmarshal([]byte(p.Blocks), &blocks), p.Blocks)
	var types []string
	for _, b := range blocks {
		types = append(types, b["type"].(string))
	}
	assert.Equal(t, []string{"header", "section", "section", "context", "actions"}, types)
	// Compare against the blocks re-encoded without JSON's HTML escaping of & < >.
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(blocks))
	for _, want := range []string{
		"🚨 SLA breached: response",
		"&lt;a &amp; b&gt;",
		"*Partner*\\np-acme", "*Refund*\\n10%",
		"Case `c-1`", "service sos",
		"Open in Temporal UI", "http://localhost:8233/namespaces/default/workflows/sos:o-1",
	} {
		assert.Contains(t, plain.String(), want)
	}
	assert.NotContains(t, p.Blocks, "sos:o-1/breach/response", "the idempotency key is not shown")
}

func TestBlocksEdgeCases(t *testing.T) {
	many := make([]notifications.Field, 13)
	for i := range many {
		many[i] = notifications.Field{Name: "n", Value: "v"}
	}
	tests := []struct {
		name      string
		m         notifications.Message
		wantTypes []string
	}{
		{"minimal", notifications.Message{Title: "t"}, []string{"header"}},
		{"no link", notifications.Message{Title: "t", CaseID: "c", Text: "x"}, []string{"header", "section", "context"}},
		{"many fields", notifications.Message{Title: "t", Fields: many}, []string{"header", "section", "section"}},
		{"long title", notifications.Message{Title: strings.Repeat("x", 500)}, []string{"header"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks := notifications.Blocks(tt.m)
			var types []string
			for _, b := range blocks {
				types = append(types, string(b.BlockType()))
			}
			assert.Equal(t, tt.wantTypes, types)
			h := blocks[0].(*slack.HeaderBlock)
			assert.LessOrEqual(t, len([]rune(h.Text.Text)), 150)
		})
	}
}

func TestSlackRateLimited(t *testing.T) {
	f := &fakeSlack{respond: func(call int, w http.ResponseWriter) bool {
		if call == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}}
	s := newSlack(t, f)
	m := breachMessage()
	m.PartnerChannel = "#partner-acme"
	start := time.Now()
	require.NoError(t, s.Notify(context.Background(), m))
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "waited Retry-After")
	var got []string
	for _, p := range f.Posts() {
		got = append(got, p.Channel)
	}
	assert.Equal(t, []string{"#partner-acme", "#ops"}, got, "one message per channel")
}

// TestSlackRateLimitHoldsEveryPost: after a 429 with Retry-After, a second message sent meanwhile (another
// activity on the same worker) waits out the limit too instead of hitting the limited workspace.
func TestSlackRateLimitHoldsEveryPost(t *testing.T) {
	limited := make(chan time.Time, 1)
	f := &fakeSlack{respond: func(call int, w http.ResponseWriter) bool {
		if call == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			limited <- time.Now()
			return true
		}
		return false
	}}
	s := newSlack(t, f)
	first := make(chan error, 1)
	go func() { first <- s.Notify(context.Background(), breachMessage()) }()
	at := <-limited
	time.Sleep(500 * time.Millisecond) // the first post has its 429 by now; without a shared limit, the next posts at once
	other := breachMessage()
	other.Key = "sos:o-2/opened"
	require.NoError(t, s.Notify(context.Background(), other))
	require.NoError(t, <-first)
	posts := f.Posts()
	require.Len(t, posts, 2)
	for _, p := range posts {
		assert.GreaterOrEqual(t, p.At.Sub(at), 2*time.Second-50*time.Millisecond, "a post arrived inside the rate limit")
	}
}

// TestSlackMetadataCarriesKey: every message carries the outbox key and case ID as Slack message metadata.
func TestSlackMetadataCarriesKey(t *testing.T) {
	f := &fakeSlack{}
	s := newSlack(t, f)
	require.NoError(t, s.Notify(context.Background(), breachMessage()))
	posts := f.Posts()
	require.Len(t, posts, 1)
	var meta struct {
		EventType    string            `json:"event_type"`
		EventPayload map[string]string `json:"event_payload"`
	}
	require.NoError(t, json.Unmarshal([]byte(posts[0].Metadata), &meta), "metadata %q", posts[0].Metadata)
	assert.Equal(t, notifications.MetadataEventType, meta.EventType)
	assert.Equal(t, map[string]string{"key": "sos:o-1/breach/response", "case_id": "c-1"}, meta.EventPayload)
}

// TestSlackDelivered finds a message in a channel's history by the key in its metadata, and not another's.
func TestSlackDelivered(t *testing.T) {
	var history []map[string]any
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/conversations.history", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			assert.Equal(t, "C0OPS", r.FormValue("channel"))
			assert.Equal(t, "1", r.FormValue("include_all_metadata"))
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": history})
		})
	})
	srv.Start()
	t.Cleanup(srv.Stop)
	s := notifications.NewSlack("xoxb-test", "C0OPS", slack.OptionAPIURL(srv.GetAPIURL()))
	m := breachMessage()
	history = []map[string]any{
		{"type": "message", "ts": "1700000001.000100", "metadata": map[string]any{"event_type": notifications.MetadataEventType, "event_payload": map[string]any{"key": "other"}}},
		{"type": "message", "ts": "1700000000.000100", "text": "no metadata"},
	}
	found, err := s.Delivered(context.Background(), m, "C0OPS", time.Now())
	require.NoError(t, err)
	assert.False(t, found)
	history = append(history, map[string]any{"type": "message", "ts": "1700000002.000100",
		"metadata": map[string]any{"event_type": notifications.MetadataEventType, "event_payload": map[string]any{"key": m.Key, "case_id": m.CaseID}}})
	found, err = s.Delivered(context.Background(), m, "C0OPS", time.Now())
	require.NoError(t, err)
	assert.True(t, found)
}

// TestSlackDeliveredByChannelName resolves a channel name to its ID once (conversations.list, across
// pages) before reading the history, which takes only IDs.
func TestSlackDeliveredByChannelName(t *testing.T) {
	var lists int
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/conversations.list", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			lists++
			if r.FormValue("cursor") == "" {
				_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channels": []map[string]any{{"id": "C0GENERAL", "name": "general"}},
					"response_metadata": map[string]any{"next_cursor": "page2"}})
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channels": []map[string]any{{"id": "C0PARTNER", "name": "partner-acme"}}})
		})
		c.Handle("/conversations.history", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			var msgs []map[string]any
			if r.FormValue("channel") == "C0PARTNER" {
				msgs = append(msgs, map[string]any{"type": "message", "ts": "1700000002.000100",
					"metadata": map[string]any{"event_type": notifications.MetadataEventType, "event_payload": map[string]any{"key": "sos:o-1/breach/response"}}})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": msgs})
		})
	})
	srv.Start()
	t.Cleanup(srv.Stop)
	s := notifications.NewSlack("xoxb-test", "#ops", slack.OptionAPIURL(srv.GetAPIURL()))
	for range 2 {
		found, err := s.Delivered(context.Background(), breachMessage(), "#partner-acme", time.Now())
		require.NoError(t, err)
		assert.True(t, found)
	}
	assert.Equal(t, 2, lists, "two pages listed once; the ID is remembered")
	_, err := s.Delivered(context.Background(), breachMessage(), "#gone", time.Now())
	require.ErrorContains(t, err, "not found")
}

func TestSlackRateLimitedGivesUp(t *testing.T) {
	f := &fakeSlack{respond: func(_ int, w http.ResponseWriter) bool {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}}
	s := newSlack(t, f)
	s.MaxRetries = 1
	err := s.Notify(context.Background(), breachMessage())
	var rl *slack.RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, 2, f.calls, "first try and one retry")
}

func TestSlackRateLimitRespectsContext(t *testing.T) {
	f := &fakeSlack{respond: func(_ int, w http.ResponseWriter) bool {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}}
	s := newSlack(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Notify(ctx, breachMessage())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestSlackServerError(t *testing.T) {
	f := &fakeSlack{respond: func(_ int, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	}}
	s := newSlack(t, f)
	err := s.Notify(context.Background(), breachMessage())
	require.Error(t, err)
	var sce slack.StatusCodeError
	require.ErrorAs(t, err, &sce)
	assert.Equal(t, http.StatusInternalServerError, sce.Code)
	assert.Contains(t, err.Error(), "slack notify #ops")
	assert.Equal(t, 1, f.calls, "a 500 is not retried here; the activity retries")
}

func TestSlackRetrySkipsDeliveredChannel(t *testing.T) {
	// The partner channel succeeds, ops fails once: the activity's retry posts to ops only.
	f := &fakeSlack{respond: func(call int, w http.ResponseWriter) bool {
		if call == 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	}}
	s := newSlack(t, f)
	m := breachMessage()
	m.PartnerChannel = "#partner-acme"
	require.Error(t, s.Notify(context.Background(), m))
	require.NoError(t, s.Notify(context.Background(), m))
	require.NoError(t, s.Notify(context.Background(), m), "all delivered: nothing posted")
	var got []string
	for _, p := range f.Posts() {
		got = append(got, p.Channel)
	}
	assert.Equal(t, []string{"#partner-acme", "#ops"}, got)
}

func TestSlackNoOpsChannel(t *testing.T) {
	s := notifications.NewSlack("xoxb-test", "")
	require.Error(t, s.Notify(context.Background(), breachMessage()))
}

func TestLog(t *testing.T) {
	tests := []struct {
		severity  notifications.Severity
		wantLevel string
	}{
		{notifications.SeverityInfo, "INFO"},
		{notifications.SeverityWarning, "WARN"},
		{notifications.SeverityCritical, "WARN"},
	}
	for _, tt := range tests {
		t.Run(string(tt.severity), func(t *testing.T) {
			var buf bytes.Buffer
			l := &notifications.Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
			m := breachMessage()
			m.Severity = tt.severity
			m.Text = "call Li Lei at +86 138 0000 0000"
			require.NoError(t, l.Notify(context.Background(), m))
			var rec map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
			assert.Equal(t, tt.wantLevel, rec["level"])
			assert.Equal(t, "SLA breached: response", rec["title"])
			assert.Equal(t, "c-1", rec["case_id"])
			assert.Equal(t, string(tt.severity), rec["severity"])
			assert.NotContains(t, buf.String(), "138 0000", "text is not logged")
		})
	}
	require.NoError(t, (&notifications.Log{}).Notify(context.Background(), breachMessage()), "nil logger uses slog.Default")
}

func TestRecorder(t *testing.T) {
	var r notifications.Recorder
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _ = r.Notify(context.Background(), breachMessage()) })
	}
	wg.Wait()
	msgs := r.Messages()
	require.Len(t, msgs, 20)
	msgs[0].Fields[0].Value = "mutated"
	assert.Equal(t, "p-acme", r.Messages()[0].Fields[0].Value, "Messages returns copies")

	boom := errors.New("boom")
	r.SetError(boom)
	require.ErrorIs(t, r.Notify(context.Background(), breachMessage()), boom)
	r.SetError(nil)
	r.Reset()
	assert.Empty(t, r.Messages())
}

// slackError answers a post as Slack does when it refuses it: HTTP 200, ok false, an error code.
func slackError(code string) func(int, http.ResponseWriter) bool {
	return func(_ int, w http.ResponseWriter) bool {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": code})
		return true
	}
}

// TestSlackPermanentErrors: a refusal that no retry fixes is Permanent, with the code as its reason; a rate
// limit, a server error or an unknown code stays temporary, for the activity to retry.
func TestSlackPermanentErrors(t *testing.T) {
	tests := []struct {
		name    string
		respond func(int, http.ResponseWriter) bool
		want    bool
	}{
		{"channel_not_found", slackError("channel_not_found"), true},
		{"not_in_channel", slackError("not_in_channel"), true},
		{"is_archived", slackError("is_archived"), true},
		{"invalid_auth", slackError("invalid_auth"), true},
		{"account_inactive", slackError("account_inactive"), true},
		{"token_revoked", slackError("token_revoked"), true},
		{"missing_scope", slackError("missing_scope"), true},
		{"internal_error", slackError("internal_error"), false},
		{"service_unavailable", slackError("service_unavailable"), false},
		{"an unknown code", slackError("something_new"), false},
		{"HTTP 500", func(_ int, w http.ResponseWriter) bool { w.WriteHeader(http.StatusInternalServerError); return true }, false},
		{"rate limited", func(_ int, w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSlack{respond: tt.respond}
			s := newSlack(t, f)
			s.MaxRetries = 1
			err := s.NotifyChannel(context.Background(), breachMessage(), "#partner-acme")
			require.Error(t, err)
			assert.Equal(t, tt.want, notifications.Permanent(err), "Permanent(%v)", err)
			assert.ErrorContains(t, err, "slack notify #partner-acme")
			if tt.want {
				assert.ErrorIs(t, err, notifications.ErrPermanent)
				assert.Equal(t, "slack "+tt.name, notifications.Reason(err))
				var se slack.SlackErrorResponse
				require.ErrorAs(t, err, &se, "the Slack error is still there to inspect")
				assert.Equal(t, tt.name, se.Err)
			}
		})
	}
}

// TestSlackPermanentErrorSparesTheOtherChannel: the partner's channel refusing for good does not keep the
// message from the ops channel, and the joined error is Permanent.
func TestSlackPermanentErrorSparesTheOtherChannel(t *testing.T) {
	f := &fakeSlack{respond: func(call int, w http.ResponseWriter) bool {
		return call == 1 && slackError("channel_not_found")(call, w)
	}}
	s := newSlack(t, f)
	m := breachMessage()
	m.PartnerChannel = "#partner-gone"
	err := s.Notify(context.Background(), m)
	require.Error(t, err)
	assert.True(t, notifications.Permanent(err))
	posts := f.Posts()
	require.Len(t, posts, 1)
	assert.Equal(t, "#ops", posts[0].Channel)
}

func TestReason(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"marked", fmt.Errorf("slack notify #p1: %w", notifications.Undeliverable("slack channel_not_found", errors.New("channel_not_found"))), "slack channel_not_found"},
		{"not marked", errors.New("slack server error: 500 Internal Server Error"), "slack server error: 500 Internal Server Error"},
		{"address masked", notifications.Undeliverable("smtp recipient 1 of 1 refused: 550 5.1.1 <zhang@example.com>: user unknown", nil),
			"smtp recipient 1 of 1 refused: 550 5.1.1 <[address]>: user unknown"},
		{"token masked", errors.New(`Post "https://slack.com/api/chat.postMessage?token=xoxb-1234-5678-abcdef": EOF`),
			`Post "https://slack.com/api/chat.postMessage?token=[token]": EOF`},
		{"cut", errors.New(strings.Repeat("x", 1000)), strings.Repeat("x", 299) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, notifications.Reason(tt.err), "Reason(%v)", tt.err)
		})
	}
	assert.True(t, notifications.Permanent(notifications.Undeliverable("gone", nil)))
	assert.False(t, notifications.Permanent(nil))
	assert.False(t, notifications.Permanent(context.DeadlineExceeded))
}
