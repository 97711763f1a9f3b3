package activities

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/notifications"
)

// slackWorkspace is a Slack API (slacktest) whose chat.postMessage keeps each channel's messages by outbox
// key, and refuses the channels in refuse with their error code.
type slackWorkspace struct {
	mu      sync.Mutex
	refuse  map[string]string // channel → Slack error code
	posts   map[string][]string
	texts   map[string][]string
	refused int
}

func newSlackWorkspace(t *testing.T, refuse map[string]string) (*slackWorkspace, *notifications.Slack) {
	t.Helper()
	w := &slackWorkspace{refuse: refuse, posts: map[string][]string{}, texts: map[string][]string{}}
	srv := slacktest.NewTestServer(func(c slacktest.Customize) { c.Handle("/chat.postMessage", w.postMessage) })
	srv.Start()
	t.Cleanup(srv.Stop)
	return w, notifications.NewSlack("xoxb-test-secret", "#ops", slack.OptionAPIURL(srv.GetAPIURL()))
}

func (w *slackWorkspace) postMessage(rw http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	ch := r.FormValue("channel")
	var meta struct {
		EventPayload struct {
			Key string `json:"key"`
		} `json:"event_payload"`
	}
	_ = json.Unmarshal([]byte(r.FormValue("metadata")), &meta)
	rw.Header().Set("Content-Type", "application/json")
	w.mu.Lock()
	defer w.mu.Unlock()
	if code := w.refuse[ch]; code != "" {
		w.refused++
		_ = json.NewEncoder(rw).Encode(map[string]any{"ok": false, "error": code})
		return
	}
	w.posts[ch] = append(w.posts[ch], meta.EventPayload.Key)
	w.texts[ch] = append(w.texts[ch], r.FormValue("text")+"\n"+r.FormValue("blocks"))
	_ = json.NewEncoder(rw).Encode(map[string]any{"ok": true, "channel": ch, "ts": "1700000000.000100"})
}

// keys returns the outbox keys of the messages channel received, in order.
func (w *slackWorkspace) keys(ch string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.posts[ch]...)
}

func (w *slackWorkspace) text(ch string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.texts[ch], "\n")
}

// undeliverable asserts that err is Notify's non-retryable NotificationUndeliverable error.
func undeliverable(t *testing.T, err error, wantType string) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, wantType, appErr.Type())
	assert.True(t, appErr.NonRetryable(), "%v is retryable", err)
	return appErr
}

func newNotifyEnv(t *testing.T, n notifications.Notifier, logs *bytes.Buffer) (*Activities, *testsuite.TestActivityEnvironment) {
	t.Helper()
	a := &Activities{Store: dbtest.MustOpen(t), Notifier: n, UIBaseURL: "http://ui", Namespace: "default",
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	require.NoError(t, a.Store.AddPartner(context.Background(), &db.Partner{ID: "p1", Name: "P1", Services: []string{"sos"},
		Capacity: 1, SlackChannel: "#partner-gone", Active: true, CreatedAt: t0}))
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return a, env
}

var offerNotice = NotifyInput{PartnerID: "p1", Message: notifications.Message{
	Key: "sos:O1/offer/p1/3", CaseID: "sos:O1", WorkflowID: "sos:O1", Service: "sos",
	Severity: notifications.SeverityInfo, Title: "New SOS case offered to p1",
}}

// TestNotifyChannelNotFound: the partner's channel does not exist. Notify marks the notification and the
// channel failed with Slack's reason, posts to ops once — the notification and the alert — and fails
// non-retryably; the retry that follows posts nothing and alerts no one again.
func TestNotifyChannelNotFound(t *testing.T) {
	ws, s := newSlackWorkspace(t, map[string]string{"#partner-gone": "channel_not_found"})
	var logs bytes.Buffer
	a, env := newNotifyEnv(t, s, &logs)
	ctx := context.Background()
	key := offerNotice.Message.Key

	for attempt := 1; attempt <= 2; attempt++ {
		_, err := env.ExecuteActivity(a.Notify, offerNotice)
		appErr := undeliverable(t, err, ErrTypeNotificationUndeliverable)
		assert.Contains(t, appErr.Error(), "#partner-gone (slack channel_not_found)", "attempt %d", attempt)
	}
	assert.Equal(t, 1, ws.refused, "the channel given up is not tried again")
	assert.Empty(t, ws.keys("#partner-gone"))
	assert.Equal(t, []string{key, key + "/undeliverable"}, ws.keys("#ops"), "ops: the notification once, the alert once")
	alert := ws.text("#ops")
	for _, want := range []string{"Notification not delivered", "New SOS case offered to p1", "#partner-gone", "slack channel_not_found", key} {
		assert.Contains(t, alert, want)
	}
	assert.NotContains(t, alert, "xoxb-test-secret")

	n, err := a.Store.GetNotification(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationFailed, n.Status)
	require.NotNil(t, n.FailedAt)
	assert.Equal(t, "#partner-gone (slack channel_not_found)", n.FailureReason)
	rows, err := a.Store.ListChannelDeliveries(ctx, key)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, "#ops", rows[0].Channel)
	assert.Equal(t, db.ChannelSent, rows[0].Status)
	assert.Equal(t, "#partner-gone", rows[1].Channel)
	assert.Equal(t, db.ChannelFailed, rows[1].Status)
	assert.Equal(t, "slack channel_not_found", rows[1].FailureReason)
	alertRow, err := a.Store.GetNotification(ctx, key+"/undeliverable")
	require.NoError(t, err)
	assert.Equal(t, db.NotificationSent, alertRow.Status)
	assert.NotContains(t, logs.String(), "xoxb-test-secret")
}

// TestNotifyOpsChannelFailing: when the ops channel itself can never be reached, the partner still gets the
// message once, and only the log hears of the failure — no alert is attempted.
func TestNotifyOpsChannelFailing(t *testing.T) {
	ws, s := newSlackWorkspace(t, map[string]string{"#ops": "is_archived"})
	var logs bytes.Buffer
	a, env := newNotifyEnv(t, s, &logs)
	for range 2 {
		_, err := env.ExecuteActivity(a.Notify, offerNotice)
		undeliverable(t, err, ErrTypeNotificationUndeliverable)
	}
	assert.Equal(t, []string{offerNotice.Message.Key}, ws.keys("#partner-gone"), "the partner: once")
	assert.Equal(t, 1, ws.refused, "ops tried once; no alert posted to it")
	assert.Contains(t, logs.String(), "operations channel among them")
	assert.Contains(t, logs.String(), "#ops (slack is_archived)")
	_, err := a.Store.GetNotification(context.Background(), offerNotice.Message.Key+"/undeliverable")
	assert.ErrorIs(t, err, db.ErrNotFound, "no alert recorded")
}

// TestNotifyPermanentAndTemporary: the partner's channel is gone while ops fails for a while. The attempt
// is retried for ops only; once ops has it, Notify gives up on the partner and alerts once.
func TestNotifyPermanentAndTemporary(t *testing.T) {
	a, _ := newActs(t)
	peer := &chatPeer{gone: map[string]error{"#p1": notifications.Undeliverable("slack not_in_channel", nil)}, refuseChannel: "#ops", refuseFirst: 1}
	a.Notifier = peer
	require.NoError(t, a.Store.AddPartner(context.Background(), &db.Partner{ID: "p1", Name: "P1", Services: []string{"sos"}, Capacity: 1, SlackChannel: "#p1", Active: true, CreatedAt: t0}))
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
	in := NotifyInput{PartnerID: "p1", Message: notifications.Message{Key: "sos:O1/breach/response", CaseID: "sos:O1", Title: "breach"}}

	_, err := env.ExecuteActivity(a.Notify, in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.False(t, appErr.NonRetryable(), "ops may still get it: retried")
	n, err := a.Store.GetNotification(context.Background(), in.Message.Key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationPending, n.Status)

	for range 2 {
		_, err = env.ExecuteActivity(a.Notify, in)
		undeliverable(t, err, ErrTypeNotificationUndeliverable)
	}
	assert.Equal(t, 1, peer.attempts["#p1"], "the partner's channel tried once")
	assert.Equal(t, 1, peer.count("#ops", in.Message.Key), "ops: the notification once")
	assert.Equal(t, 1, peer.count("#ops", in.Message.Key+"/undeliverable"), "ops: the alert once")
	n, err = a.Store.GetNotification(context.Background(), in.Message.Key)
	require.NoError(t, err)
	assert.True(t, n.Undeliverable())
	assert.Equal(t, "#p1 (slack not_in_channel)", n.FailureReason)
}

// TestNotifyAlertRetried: the alert itself failing for now makes the attempt retryable; the retry sends the
// alert (not the notification) and then stops retrying.
func TestNotifyAlertRetried(t *testing.T) {
	a, _ := newActs(t)
	peer := &chatPeer{gone: map[string]error{"#p1": notifications.Undeliverable("slack channel_not_found", nil)}}
	a.Notifier = peer
	require.NoError(t, a.Store.AddPartner(context.Background(), &db.Partner{ID: "p1", Name: "P1", Services: []string{"sos"}, Capacity: 1, SlackChannel: "#p1", Active: true, CreatedAt: t0}))
	in := NotifyInput{PartnerID: "p1", Message: notifications.Message{Key: "sos:O1/opened", CaseID: "sos:O1", Title: "opened"}}
	peer.refuseKey = in.Message.Key + "/undeliverable"
	peer.refuseFirst = 1

	err := a.Notify(context.Background(), in)
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		assert.False(t, appErr.NonRetryable(), "telling operations failed for now: retried")
	}
	undeliverable(t, a.Notify(context.Background(), in), ErrTypeNotificationUndeliverable)
	undeliverable(t, a.Notify(context.Background(), in), ErrTypeNotificationUndeliverable)
	assert.Equal(t, 1, peer.count("#ops", in.Message.Key))
	assert.Equal(t, 1, peer.count("#ops", in.Message.Key+"/undeliverable"))
	assert.Equal(t, 1, peer.attempts["#p1"])
}

// refusingNotifier is a Notifier that does not deliver channel by channel; it refuses the messages in refuse
// with their error and records the others.
type refusingNotifier struct {
	notifications.Recorder
	refuse map[string]error // message key → error
}

func (r *refusingNotifier) Notify(ctx context.Context, m notifications.Message) error {
	if err := r.refuse[m.Key]; err != nil {
		return err
	}
	return r.Recorder.Notify(ctx, m)
}

// TestNotifyUndeliverableWithoutChannels: a Notifier that does not deliver channel by channel and fails for
// good is given up as well, with its reason, and operations are told once.
func TestNotifyUndeliverableWithoutChannels(t *testing.T) {
	a, _ := newActs(t)
	in := NotifyInput{Message: notifications.Message{Key: "sos:O1/opened", CaseID: "sos:O1", Title: "opened"}}
	n := &refusingNotifier{refuse: map[string]error{in.Message.Key: fmt.Errorf("webhook: %w", notifications.Undeliverable("webhook 410 gone", nil))}}
	a.Notifier = n
	for range 2 {
		undeliverable(t, a.Notify(context.Background(), in), ErrTypeNotificationUndeliverable)
	}
	msgs := n.Messages()
	require.Len(t, msgs, 1, "the alert, once")
	assert.Equal(t, in.Message.Key+"/undeliverable", msgs[0].Key)
	assert.Contains(t, msgs[0].Text, "could not be delivered: webhook 410 gone")
	row, err := a.Store.GetNotification(context.Background(), in.Message.Key)
	require.NoError(t, err)
	assert.True(t, row.Undeliverable())

	// When the alert is refused for good too, only the log hears of it, and Notify still stops.
	other := in
	other.Message.Key = "sos:O1/closed"
	n.refuse[other.Message.Key] = n.refuse[in.Message.Key]
	n.refuse[other.Message.Key+"/undeliverable"] = n.refuse[in.Message.Key]
	undeliverable(t, a.Notify(context.Background(), other), ErrTypeNotificationUndeliverable)
	alert, err := a.Store.GetNotification(context.Background(), other.Message.Key+"/undeliverable")
	require.NoError(t, err)
	assert.True(t, alert.Undeliverable())
}

// smtpServer is an in-process SMTP server that refuses one recipient with 550 and counts the messages it
// accepted and the conversations it had.
type smtpServer struct {
	addr   string
	refuse string

	mu            sync.Mutex
	conversations int
	accepted      int
}

func startSMTPServer(t *testing.T, refuse string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	s := &smtpServer{addr: ln.Addr().String(), refuse: refuse}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpServer) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	s.mu.Lock()
	s.conversations++
	s.mu.Unlock()
	r := bufio.NewReader(conn)
	say := func(line string) { _, _ = fmt.Fprintf(conn, "%s\r\n", line) }
	say("220 fake.test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			say("250 fake.test")
		case "MAIL", "RSET", "NOOP":
			say("250 2.1.0 ok")
		case "RCPT":
			if strings.Contains(arg, "<"+s.refuse+">") {
				say("550 5.1.1 <" + s.refuse + ">: Recipient address rejected: User unknown")
			} else {
				say("250 2.1.5 ok")
			}
		case "DATA":
			say("354 go ahead")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			s.mu.Lock()
			s.accepted++
			s.mu.Unlock()
			say("250 2.0.0 queued")
		case "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			say("502 5.5.2 not implemented")
		}
	}
}

func (s *smtpServer) counts() (conversations, accepted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conversations, s.accepted
}

// TestSendEmailRefusedRecipient: the mail server refuses the address with 550. SendEmail marks the e-mail
// failed with the reply (the address masked), tells ops once, and fails non-retryably; the retry neither
// talks to the server nor tells ops again.
func TestSendEmailRefusedRecipient(t *testing.T) {
	srv := startSMTPServer(t, "gone@example.com")
	ws, s := newSlackWorkspace(t, nil)
	var logs bytes.Buffer
	a, env := newNotifyEnv(t, s, &logs)
	a.Mailer = &notifications.SMTP{Addr: srv.addr, From: "noreply@steward.test", Timeout: 5 * time.Second}
	in := reportEmail
	in.To = []string{"王五 <gone@example.com>"}

	for range 2 {
		_, err := env.ExecuteActivity(a.SendEmail, in)
		appErr := undeliverable(t, err, ErrTypeEmailRejected)
		assert.Contains(t, appErr.Error(), "550 5.1.1")
	}
	conversations, accepted := srv.counts()
	assert.Equal(t, 1, conversations, "the retry does not talk to the server")
	assert.Zero(t, accepted)

	n, err := a.Store.GetNotification(context.Background(), in.Key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationFailed, n.Status)
	require.NotNil(t, n.FailedAt)
	assert.Equal(t, "smtp recipient 1 of 1 refused: 550 5.1.1 <[address]>: Recipient address rejected: User unknown", n.FailureReason)

	assert.Equal(t, []string{in.Key + "/undeliverable"}, ws.keys("#ops"), "ops told once")
	alert := ws.text("#ops")
	for _, want := range []string{"Notification not delivered", in.Subject, "email", "550 5.1.1", in.Key} {
		assert.Contains(t, alert, want)
	}
	assert.NotContains(t, alert, "gone@example.com", "no address in chat")
}
