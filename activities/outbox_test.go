package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/notifications/dingtalktest"
)

// outboxClock is a dispatcher's clock (NotificationDispatcher.Clock) that the test moves by hand. It is safe
// for concurrent use.
type outboxClock struct {
	mu sync.Mutex
	t  time.Time
}

func newOutboxClock(t time.Time) *outboxClock { return &outboxClock{t: t} }

func (c *outboxClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *outboxClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// newOutboxActs is the Activities of one process: a fresh store with partner p1 (Slack channel #p1), n as
// its notifier, and a wake-up channel for its dispatcher.
func newOutboxActs(t *testing.T, n notifications.Notifier) *Activities {
	t.Helper()
	a := &Activities{Store: dbtest.MustOpen(t), Notifier: n, UIBaseURL: "http://ui", Namespace: "default",
		Logger: slog.New(slog.DiscardHandler), Wakeup: make(chan struct{}, 1)}
	require.NoError(t, a.Store.AddPartner(context.Background(), &db.Partner{ID: "p1", Name: "P1", Services: []string{"sos"},
		Capacity: 1, SlackChannel: "#p1", Active: true, CreatedAt: t0}))
	return a
}

// outboxCase is case id's projection as its record step at t0 writes it.
func outboxCase(id string) CaseRow {
	return CaseRow{CaseID: id, Service: "sos", Stage: "assignment", Status: "open", CustomerID: "c1", OrderID: id,
		AmountCents: 1000, SLAStatus: "ok", OpenedAt: t0, UpdatedAt: t0, Revision: 1}
}

// outboxNotice is a notification of case sos:O1 with key sos:O1/<suffix>, for partnerID as well ("" for
// operations only).
func outboxNotice(suffix, partnerID string) NotifyInput {
	return NotifyInput{PartnerID: partnerID, Message: notifications.Message{
		Key: "sos:O1/" + suffix, CaseID: "sos:O1", WorkflowID: "sos:O1", Service: "sos",
		Severity: notifications.SeverityWarning, Title: "Response clause at 80% (" + suffix + ")",
		Text: "The partner has not answered yet.", Fields: []notifications.Field{{Name: "Order", Value: "O1"}},
	}}
}

// recordNotices runs the record step of case sos:O1 (one timeline line) sending notices.
func recordNotices(t *testing.T, a *Activities, notices ...NotifyInput) {
	t.Helper()
	require.NoError(t, a.Record(context.Background(), RecordInput{
		Case:    outboxCase("sos:O1"),
		Events:  []Event{{Key: "sos:O1/warn", At: t0, Actor: "system", Event: "sla_warning"}},
		Notices: notices,
	}))
}

func outboxRow(t *testing.T, a *Activities, key string) *db.Notification {
	t.Helper()
	n, err := a.Store.GetNotification(context.Background(), key)
	require.NoError(t, err)
	return n
}

// requireAt asserts that got is the instant want.
func requireAt(t *testing.T, want time.Time, got *time.Time, what string) {
	t.Helper()
	require.NotNil(t, got, "%s: not set, want %s", what, want)
	require.True(t, want.Equal(*got), "%s: %s, want %s", what, got.UTC(), want.UTC())
}

// runOnce runs one round of d at at and returns how many notifications it claimed.
func runOnce(t *testing.T, d *NotificationDispatcher, clock *outboxClock, at time.Time) int {
	t.Helper()
	clock.Set(at)
	n, err := d.RunOnce(context.Background())
	require.NoError(t, err, "round at t0%+v", at.Sub(t0))
	return n
}

// woken reports whether a record told the dispatcher (and takes the wake-up).
func woken(a *Activities) bool {
	select {
	case <-a.Wakeup:
		return true
	default:
		return false
	}
}

// TestOutboxRecordWritesNotification: the record step writes the case, its timeline line and its
// notification in one transaction — the row pending, due at once, its message as sent but without the
// partner robot's secrets — and wakes the dispatcher; a repeated record writes nothing twice and does not
// reset a notification already attempted.
func TestOutboxRecordWritesNotification(t *testing.T) {
	ctx := context.Background()
	peer := &chatPeer{refuseFirst: 1}
	a := newOutboxActs(t, peer)
	in := outboxNotice("warn/response@80", "p1")
	// In the process, the message may carry the robot the activity looked up: it must not reach the store.
	in.Message.PartnerRobot = &notifications.PartnerRobot{Channel: "dingtalk:p1",
		Robot: notifications.Robot{Webhook: dingtalktest.Webhook(robotToken), Secret: robotSecret}}
	key := in.Message.Key

	recordNotices(t, a, in)
	assert.True(t, woken(a), "the record told the dispatcher")

	c, err := a.Store.GetCase(ctx, "sos:O1")
	require.NoError(t, err)
	assert.Equal(t, "assignment", c.Stage)
	events, err := a.Store.ListEvents(ctx, "sos:O1")
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, "sla_warning", events[0].Event)

	n := outboxRow(t, a, key)
	assert.Equal(t, db.NotificationPending, n.Status)
	assert.Equal(t, "sos:O1", n.CaseID)
	assert.Equal(t, "p1", n.PartnerID)
	assert.Zero(t, n.Attempts)
	assert.Empty(t, n.LastError)
	assert.Nil(t, n.SentAt)
	assert.Nil(t, n.LeaseUntil)
	assert.True(t, t0.Equal(n.CreatedAt), "created at the record's time: %s", n.CreatedAt)
	requireAt(t, t0, n.NextAttemptAt, "next attempt (due at once)")
	var stored notifications.Message
	require.NoError(t, json.Unmarshal([]byte(n.Message), &stored))
	want := in.Message
	want.PartnerRobot = nil
	assert.Equal(t, want, stored)
	for _, s := range []string{n.Message, n.Text, n.Channel, n.PartnerID} {
		assert.NotContains(t, s, robotToken)
		assert.NotContains(t, s, robotSecret)
	}

	// An attempt fails (#p1 refuses it for now): the row counts it and is due a second later.
	clock := newOutboxClock(t0)
	d := &NotificationDispatcher{A: a, Clock: clock.Now}
	require.Equal(t, 1, runOnce(t, d, clock, t0))
	before := outboxRow(t, a, key)
	require.Equal(t, 1, before.Attempts)

	// The record step retried (a local activity's retry) writes nothing twice and leaves the row as it is.
	for range 2 {
		recordNotices(t, a, in)
	}
	events, err = a.Store.ListEvents(ctx, "sos:O1")
	require.NoError(t, err)
	assert.Len(t, events, 1, "the timeline line once")
	all, err := a.Store.ListNotifications(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, all, 1, "the notification once")
	after := outboxRow(t, a, key)
	assert.Equal(t, before.Attempts, after.Attempts, "attempts not reset")
	assert.Equal(t, before.LastError, after.LastError)
	requireAt(t, *before.NextAttemptAt, after.NextAttemptAt, "next attempt not reset")
	assert.Equal(t, 0, runOnce(t, d, clock, t0), "not due again at once")
}

// TestOutboxRecordIsOneTransaction: a record step whose notification cannot be written writes nothing —
// not the case, not its timeline, not its other notifications — and a notification without key is refused
// before anything is written.
func TestOutboxRecordIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	a := newOutboxActs(t, &chatPeer{})

	c := &db.Case{CaseID: "sos:O2", WorkflowID: "sos:O2", Service: "sos", Stage: "assignment", Status: "open", CustomerID: "c1",
		OrderID: "O2", OpenedAt: t0, UpdatedAt: t0, Revision: 1}
	events := []db.CaseEvent{{Key: "sos:O2/opened", CaseID: "sos:O2", At: t0, Actor: "marketplace", Event: "opened"}}
	notices := []db.Notification{
		{Key: "sos:O2/opened/ops", CaseID: "sos:O2", Text: "opened", CreatedAt: t0, Message: `{"Key":"sos:O2/opened/ops"}`},
		{Key: "sos:O2/broken", CaseID: "sos:O2", CreatedAt: t0}, // no message: refused inside the transaction
	}
	err := a.Store.RecordCaseNotifying(ctx, c, events, nil, nil, notices)
	require.ErrorIs(t, err, db.ErrInvalid)
	_, err = a.Store.GetCase(ctx, "sos:O2")
	assert.ErrorIs(t, err, db.ErrNotFound, "the case is not written")
	got, err := a.Store.ListEvents(ctx, "sos:O2")
	require.NoError(t, err)
	assert.Empty(t, got, "the timeline is not written")
	_, err = a.Store.GetNotification(ctx, "sos:O2/opened/ops")
	assert.ErrorIs(t, err, db.ErrNotFound, "the other notification is not written")

	bad := outboxNotice("no-key", "")
	bad.Message.Key = ""
	require.Error(t, a.Record(ctx, RecordInput{Case: outboxCase("sos:O1"),
		Events: []Event{{Key: "sos:O1/warn", At: t0, Actor: "system", Event: "sla_warning"}}, Notices: []NotifyInput{bad}}))
	_, err = a.Store.GetCase(ctx, "sos:O1")
	assert.ErrorIs(t, err, db.ErrNotFound)
	assert.False(t, woken(a), "nothing written, no one woken")
}

// TestDispatcherDeliversOnce: a recorded notification is delivered by one round, to operations and to the
// partner's Slack channel found in the store, and marked sent; no later round, nor a repeated record,
// sends it again. Rows the Notify activity recorded itself are not the dispatcher's.
func TestDispatcherDeliversOnce(t *testing.T) {
	ctx := context.Background()
	ws, slack := newSlackWorkspace(t, nil)
	a := newOutboxActs(t, slack)
	partner, ops := outboxNotice("offer/p1/1", "p1"), outboxNotice("opened", "")
	recordNotices(t, a, partner, ops)

	clock := newOutboxClock(t0)
	d := &NotificationDispatcher{A: a, Clock: clock.Now}
	assert.Equal(t, 2, runOnce(t, d, clock, t0))

	assert.Equal(t, []string{partner.Message.Key}, ws.keys("#p1"), "the partner's channel, from the store: once")
	assert.Equal(t, []string{partner.Message.Key, ops.Message.Key}, ws.keys("#ops"), "operations: each once")
	assert.Contains(t, ws.text("#ops"), "http://ui/namespaces/default/workflows/sos:O1", "linked to the workflow")
	for _, key := range []string{partner.Message.Key, ops.Message.Key} {
		n := outboxRow(t, a, key)
		assert.Equal(t, db.NotificationSent, n.Status, key)
		assert.NotNil(t, n.SentAt, key)
		assert.Empty(t, n.LastError, key)
		assert.Nil(t, n.NextAttemptAt, "%s: done, not due again", key)
		assert.Nil(t, n.LeaseUntil, "%s: claim released", key)
	}
	rows, err := a.Store.ListChannelDeliveries(ctx, partner.Message.Key)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, []string{"#ops", "#p1"}, []string{rows[0].Channel, rows[1].Channel})
	assert.Equal(t, []string{db.ChannelSent, db.ChannelSent}, []string{rows[0].Status, rows[1].Status})

	for _, at := range []time.Time{t0, t0.Add(time.Hour), t0.Add(48 * time.Hour)} {
		assert.Equal(t, 0, runOnce(t, d, clock, at), "nothing left at t0%+v", at.Sub(t0))
	}
	recordNotices(t, a, partner, ops) // the record step retried after the dispatcher sent them
	assert.Equal(t, db.NotificationSent, outboxRow(t, a, partner.Message.Key).Status)
	assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(49*time.Hour)))
	assert.Equal(t, []string{partner.Message.Key}, ws.keys("#p1"))
	assert.Equal(t, []string{partner.Message.Key, ops.Message.Key}, ws.keys("#ops"))

	// The Notify activity's own rows (no message, no due time) are left to it, even failed for now.
	ws.mu.Lock()
	ws.refuse = map[string]string{"#ops": "internal_error"}
	ws.mu.Unlock()
	require.Error(t, a.Notify(ctx, outboxNotice("activity", "")))
	assert.Equal(t, db.NotificationPending, outboxRow(t, a, "sos:O1/activity").Status)
	assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(365*24*time.Hour)), "the activity's row is not claimed")
}

// TestDispatcherRetriesWithBackoff: operations refuse the notification twice for now. The first round fails
// and the row is due a second later, the second fails and it is due two seconds after that; the third
// delivers it. Attempts count the failures; the last error is kept until it is sent, then cleared; the
// partner's channel, which took it the first time, is not sent it again.
func TestDispatcherRetriesWithBackoff(t *testing.T) {
	peer := &chatPeer{refuseChannel: "#ops", refuseFirst: 2}
	a := newOutboxActs(t, peer)
	in := outboxNotice("breach/response", "p1")
	key := in.Message.Key
	recordNotices(t, a, in)
	clock := newOutboxClock(t0)
	d := &NotificationDispatcher{A: a, Clock: clock.Now}

	require.Equal(t, 1, runOnce(t, d, clock, t0))
	n := outboxRow(t, a, key)
	assert.Equal(t, db.NotificationPending, n.Status)
	assert.Equal(t, 1, n.Attempts)
	assert.Contains(t, n.LastError, "slack server error: 500")
	assert.Nil(t, n.LeaseUntil, "claim released")
	requireAt(t, t0.Add(time.Second), n.NextAttemptAt, "after the first failure")

	assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(time.Second-time.Millisecond)), "not due before its backoff")
	require.Equal(t, 1, runOnce(t, d, clock, t0.Add(time.Second)))
	n = outboxRow(t, a, key)
	assert.Equal(t, db.NotificationPending, n.Status)
	assert.Equal(t, 2, n.Attempts)
	assert.Contains(t, n.LastError, "slack server error: 500")
	requireAt(t, t0.Add(3*time.Second), n.NextAttemptAt, "after the second failure (1 s + 2 s)")

	assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(3*time.Second-time.Millisecond)), "not due before its backoff")
	require.Equal(t, 1, runOnce(t, d, clock, t0.Add(3*time.Second)))
	n = outboxRow(t, a, key)
	assert.Equal(t, db.NotificationSent, n.Status)
	assert.Equal(t, 2, n.Attempts, "two failed attempts")
	assert.Empty(t, n.LastError, "cleared once sent")
	assert.Nil(t, n.NextAttemptAt)

	assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(time.Hour)))
	assert.Equal(t, 1, peer.count("#ops", key), "operations: once")
	assert.Equal(t, 1, peer.count("#p1", key), "the partner: once")
	assert.Equal(t, 3, peer.attempts["#ops"])
	assert.Equal(t, 1, peer.attempts["#p1"], "the channel that had it is not sent it again")
}

// TestDispatcherBackoffCapped: a notification refused round after round waits 1 s, 2 s, 4 s … doubling up to
// five minutes between attempts, and no more.
func TestDispatcherBackoffCapped(t *testing.T) {
	peer := &chatPeer{refuseChannel: "#p1", refuseFirst: math.MaxInt}
	a := newOutboxActs(t, peer)
	in := outboxNotice("breach/arrival", "p1")
	recordNotices(t, a, in)
	clock := newOutboxClock(t0)
	d := &NotificationDispatcher{A: a, Clock: clock.Now}

	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300}
	at := t0
	for i, w := range want {
		require.Equal(t, 1, runOnce(t, d, clock, at), "attempt %d", i+1)
		n := outboxRow(t, a, in.Message.Key)
		require.Equal(t, i+1, n.Attempts)
		requireAt(t, at.Add(w*time.Second), n.NextAttemptAt, fmt.Sprintf("after failure %d", i+1))
		at = *n.NextAttemptAt
	}
	assert.Equal(t, db.NotificationPending, outboxRow(t, a, in.Message.Key).Status, "well within a day: still retried")
}

// TestDispatcherUndeliverable: a channel that can never take the notification gives it up: the row ends
// failed with the reason, operations are told once (unless the operations channel is the one failing:
// then only the log hears of it), and no later round claims it.
func TestDispatcherUndeliverable(t *testing.T) {
	ctx := context.Background()
	later := []time.Duration{0, time.Second, time.Hour, 25 * time.Hour}

	t.Run("partner channel gone", func(t *testing.T) {
		ws, slack := newSlackWorkspace(t, map[string]string{"#p1": "channel_not_found"})
		a := newOutboxActs(t, slack)
		in := outboxNotice("offer/p1/2", "p1")
		key := in.Message.Key
		recordNotices(t, a, in)
		clock := newOutboxClock(t0)
		d := &NotificationDispatcher{A: a, Clock: clock.Now}

		require.Equal(t, 1, runOnce(t, d, clock, t0))
		n := outboxRow(t, a, key)
		assert.Equal(t, db.NotificationFailed, n.Status)
		assert.True(t, n.Undeliverable())
		assert.Equal(t, "#p1 (slack channel_not_found)", n.FailureReason)
		assert.Nil(t, n.NextAttemptAt, "settled: not claimed again")
		assert.Nil(t, n.LeaseUntil)
		assert.Equal(t, []string{key, key + undeliverableSuffix}, ws.keys("#ops"), "ops: the notification once, the alert once")
		for _, s := range []string{"Notification not delivered", in.Message.Title, "#p1", "slack channel_not_found"} {
			assert.Contains(t, ws.text("#ops"), s)
		}
		assert.NotContains(t, ws.text("#ops"), "xoxb-test-secret")
		assert.Equal(t, db.NotificationSent, outboxRow(t, a, key+undeliverableSuffix).Status)

		for _, dt := range later {
			assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(dt)), "nothing claimed at t0%+v", dt)
		}
		assert.Equal(t, 1, ws.refused, "the channel given up is not tried again")
		assert.Empty(t, ws.keys("#p1"))
		assert.Len(t, ws.keys("#ops"), 2, "operations not told again")
	})

	t.Run("operations channel gone", func(t *testing.T) {
		ws, slack := newSlackWorkspace(t, map[string]string{"#ops": "is_archived"})
		a := newOutboxActs(t, slack)
		var logs bytes.Buffer
		a.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		in := outboxNotice("offer/p1/3", "p1")
		key := in.Message.Key
		recordNotices(t, a, in)
		clock := newOutboxClock(t0)
		d := &NotificationDispatcher{A: a, Clock: clock.Now}

		require.Equal(t, 1, runOnce(t, d, clock, t0))
		n := outboxRow(t, a, key)
		assert.True(t, n.Undeliverable())
		assert.Equal(t, "#ops (slack is_archived)", n.FailureReason)
		assert.Nil(t, n.NextAttemptAt)
		for _, dt := range later {
			assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(dt)))
		}
		assert.Equal(t, []string{key}, ws.keys("#p1"), "the partner: once")
		assert.Equal(t, 1, ws.refused, "ops tried once; no alert posted to it")
		_, err := a.Store.GetNotification(ctx, key+undeliverableSuffix)
		assert.ErrorIs(t, err, db.ErrNotFound, "no alert recorded")
		assert.Contains(t, logs.String(), "operations channel among them")
	})

	t.Run("telling operations fails for now", func(t *testing.T) {
		in := outboxNotice("offer/p1/4", "p1")
		key := in.Message.Key
		peer := &chatPeer{gone: map[string]error{"#p1": notifications.Undeliverable("slack not_in_channel", nil)},
			refuseKey: key + undeliverableSuffix, refuseFirst: 1}
		a := newOutboxActs(t, peer)
		recordNotices(t, a, in)
		clock := newOutboxClock(t0)
		d := &NotificationDispatcher{A: a, Clock: clock.Now}

		require.Equal(t, 1, runOnce(t, d, clock, t0))
		n := outboxRow(t, a, key)
		assert.True(t, n.Undeliverable(), "given up")
		require.NotNil(t, n.NextAttemptAt, "operations not told yet: claimed again")
		require.Equal(t, 1, runOnce(t, d, clock, *n.NextAttemptAt))
		n = outboxRow(t, a, key)
		assert.True(t, n.Undeliverable())
		assert.Equal(t, "#p1 (slack not_in_channel)", n.FailureReason)
		assert.Nil(t, n.NextAttemptAt, "operations told: settled")
		for _, dt := range later {
			assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(time.Second+dt)))
		}
		assert.Equal(t, 1, peer.attempts["#p1"], "the partner's channel tried once")
		assert.Equal(t, 1, peer.count("#ops", key), "ops: the notification once")
		assert.Equal(t, 1, peer.count("#ops", key+undeliverableSuffix), "ops: the alert once")
	})

	t.Run("notifier without channels", func(t *testing.T) {
		in := outboxNotice("opened/webhook", "")
		key := in.Message.Key
		rn := &refusingNotifier{refuse: map[string]error{key: fmt.Errorf("webhook: %w", notifications.Undeliverable("webhook 410 gone", nil))}}
		a := newOutboxActs(t, rn)
		recordNotices(t, a, in)
		clock := newOutboxClock(t0)
		d := &NotificationDispatcher{A: a, Clock: clock.Now}

		require.Equal(t, 1, runOnce(t, d, clock, t0))
		for _, dt := range later {
			assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(dt)))
		}
		n := outboxRow(t, a, key)
		assert.True(t, n.Undeliverable())
		assert.Equal(t, "webhook 410 gone", n.FailureReason)
		msgs := rn.Messages()
		require.Len(t, msgs, 1, "the alert, once")
		assert.Equal(t, key+undeliverableSuffix, msgs[0].Key)
		assert.Contains(t, msgs[0].Text, "could not be delivered: webhook 410 gone")
	})
}

// TestDispatcherGivesUpAfterADay: a notification the partner's channel refuses for now, round after round,
// is retried until GiveUpAfter (a day unless set) has passed since it was recorded; the round after that
// gives it up, tells operations once why, and it is not claimed again.
func TestDispatcherGivesUpAfterADay(t *testing.T) {
	for _, tc := range []struct {
		name   string
		giveUp time.Duration // NotificationDispatcher.GiveUpAfter
		after  time.Duration // what it means
	}{
		{"default", 0, 24 * time.Hour},
		{"set", time.Hour, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, slack := newSlackWorkspace(t, map[string]string{"#p1": "internal_error"}) // temporary
			a := newOutboxActs(t, slack)
			in := outboxNotice("offer/p1/5", "p1")
			key := in.Message.Key
			recordNotices(t, a, in)
			clock := newOutboxClock(t0)
			d := &NotificationDispatcher{A: a, Clock: clock.Now, GiveUpAfter: tc.giveUp}

			require.Equal(t, 1, runOnce(t, d, clock, t0))
			assert.Equal(t, []string{key}, ws.keys("#ops"), "operations had it at once")
			justBefore := t0.Add(tc.after - time.Second)
			require.Equal(t, 1, runOnce(t, d, clock, justBefore))
			n := outboxRow(t, a, key)
			assert.Equal(t, db.NotificationPending, n.Status, "not given up before GiveUpAfter")
			assert.Equal(t, 2, n.Attempts)
			require.NotNil(t, n.NextAttemptAt)
			assert.Len(t, ws.keys("#ops"), 1, "no alert yet")

			past := *n.NextAttemptAt // justBefore + 2 s: past GiveUpAfter
			require.False(t, past.Before(t0.Add(tc.after)))
			require.Equal(t, 1, runOnce(t, d, clock, past))
			n = outboxRow(t, a, key)
			assert.Equal(t, db.NotificationFailed, n.Status)
			assert.True(t, n.Undeliverable())
			requireAt(t, past, n.FailedAt, "given up at the round's time")
			assert.Contains(t, n.FailureReason, "not delivered within "+tc.after.String())
			assert.Contains(t, n.FailureReason, "internal_error")
			assert.Nil(t, n.NextAttemptAt, "settled")
			assert.Equal(t, []string{key, key + undeliverableSuffix}, ws.keys("#ops"), "operations told once")
			assert.Contains(t, ws.text("#ops"), "not delivered within "+tc.after.String())

			for _, dt := range []time.Duration{time.Second, time.Hour, 48 * time.Hour} {
				assert.Equal(t, 0, runOnce(t, d, clock, past.Add(dt)), "not claimed again")
			}
			assert.Equal(t, []string{key, key + undeliverableSuffix}, ws.keys("#ops"), "operations not told again")
			assert.Empty(t, ws.keys("#p1"))
		})
	}
}

// TestDispatcherClaimIsExclusive: two processes' dispatchers on one store, running at once, deliver each of
// 20 due notifications exactly once between them; concurrent claims never share a row.
func TestDispatcherClaimIsExclusive(t *testing.T) {
	ctx := context.Background()
	const count = 20
	peer := &chatPeer{} // the chat both processes post to
	a1 := newOutboxActs(t, peer)
	a2 := &Activities{Store: a1.Store, Notifier: peer, Logger: slog.New(slog.DiscardHandler)}
	notices := make([]NotifyInput, count)
	for i := range notices {
		notices[i] = outboxNotice(fmt.Sprintf("n%02d", i), "p1")
	}
	recordNotices(t, a1, notices...)

	clock := newOutboxClock(t0)
	ds := []*NotificationDispatcher{{A: a1, Clock: clock.Now, Batch: 3}, {A: a2, Clock: clock.Now, Batch: 3}}
	claimed := make([]int, len(ds))
	errs := make([]error, len(ds))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			<-start
			for range count { // more rounds than rows: a claim that does not hold would loop for ever
				n, err := d.RunOnce(ctx)
				claimed[i] += n
				if err != nil {
					errs[i] = err
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	t.Logf("claimed: %v", claimed)
	assert.Equal(t, count, claimed[0]+claimed[1], "each row claimed once")
	for _, in := range notices {
		key := in.Message.Key
		assert.Equal(t, 1, peer.count("#ops", key), "%s to operations", key)
		assert.Equal(t, 1, peer.count("#p1", key), "%s to the partner", key)
		assert.Equal(t, db.NotificationSent, outboxRow(t, a1, key).Status, key)
	}
	assert.Zero(t, peer.lookups, "no delivery was taken over mid-way")
}

// TestDispatcherConcurrentClaimsAreDisjoint: claims racing over the same due rows (PostgreSQL: FOR UPDATE
// SKIP LOCKED; SQLite: one writer at a time) share none, and together take them all.
func TestDispatcherConcurrentClaimsAreDisjoint(t *testing.T) {
	ctx := context.Background()
	const count, claimers = 20, 4
	a := newOutboxActs(t, &chatPeer{})
	notices := make([]NotifyInput, count)
	for i := range notices {
		notices[i] = outboxNotice(fmt.Sprintf("c%02d", i), "")
	}
	recordNotices(t, a, notices...)

	got := make([][]string, claimers)
	errs := make([]error, claimers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range claimers {
		wg.Go(func() {
			<-start
			for range count { // more rounds than rows: a claim that does not hold would loop for ever
				ns, err := a.Store.ClaimNotifications(ctx, t0, time.Minute, 2)
				if err != nil || len(ns) == 0 {
					errs[i] = err
					return
				}
				for _, n := range ns {
					got[i] = append(got[i], n.Key)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	seen := map[string]int{}
	for i := range claimers {
		require.NoError(t, errs[i])
		for _, k := range got[i] {
			seen[k]++
		}
	}
	assert.Len(t, seen, count, "all claimed")
	for k, n := range seen {
		assert.Equal(t, 1, n, "%s claimed %d times", k, n)
	}
}

// TestDispatcherLease: a dispatcher that claimed a notification and died leaves it to be claimed again only
// when its lease ends; the next attempt finds what the dead one already delivered and does not repeat it.
func TestDispatcherLease(t *testing.T) {
	ctx := context.Background()
	const lease = 2 * time.Minute
	peer := &chatPeer{}
	a := newOutboxActs(t, peer)
	in := outboxNotice("offer/p1/6", "p1")
	key := in.Message.Key
	recordNotices(t, a, in)

	// The dead dispatcher: it claimed the row and posted to the partner's channel, then died.
	dead, err := a.Store.ClaimNotifications(ctx, t0, lease, 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, key, dead[0].Key)
	requireAt(t, t0.Add(lease), dead[0].LeaseUntil, "the claim's lease")
	requireAt(t, t0.Add(lease), outboxRow(t, a, key).NextAttemptAt, "stored: due when the lease ends")
	prev, err := a.Store.BeginChannelDelivery(ctx, key, "#p1", t0)
	require.NoError(t, err)
	require.Empty(t, prev)
	m := in.Message
	m.PartnerChannel = "#p1"
	require.NoError(t, peer.NotifyChannel(ctx, m, "#p1"))

	clock := newOutboxClock(t0)
	d := &NotificationDispatcher{A: a, Clock: clock.Now, Lease: lease}
	for _, at := range []time.Time{t0, t0.Add(time.Minute), t0.Add(lease - time.Millisecond)} {
		assert.Equal(t, 0, runOnce(t, d, clock, at), "claimed by another until its lease ends (t0%+v)", at.Sub(t0))
	}
	require.Equal(t, 1, runOnce(t, d, clock, t0.Add(lease)))
	assert.Equal(t, db.NotificationSent, outboxRow(t, a, key).Status)
	assert.Equal(t, 1, peer.count("#p1", key), "the partner's channel had it: not sent again")
	assert.Equal(t, 1, peer.count("#ops", key))
	assert.Equal(t, 1, peer.lookups, "the interrupted channel looked up")
	assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(time.Hour)))
}

// throttleError is a channel's refusal for sending too much: it says how long to wait.
type throttleError struct{ wait time.Duration }

func (e *throttleError) Error() string {
	return fmt.Sprintf("chat: too many messages, retry in %s", e.wait)
}
func (e *throttleError) RetryAfter() time.Duration { return e.wait }

// throttledPeer is a chatPeer whose channel refuses its first sends as a throttled channel does.
type throttledPeer struct {
	*chatPeer
	mu      sync.Mutex
	channel string
	left    int
	wait    time.Duration
}

func (p *throttledPeer) NotifyChannel(ctx context.Context, m notifications.Message, ch string) error {
	p.mu.Lock()
	throttled := ch == p.channel && p.left > 0
	if throttled {
		p.left--
	}
	p.mu.Unlock()
	if throttled {
		return fmt.Errorf("notify %s: %w", ch, &throttleError{wait: p.wait})
	}
	return p.chatPeer.NotifyChannel(ctx, m, ch)
}

// TestDispatcherRateLimited: a channel that refuses a notification for sending too much has it retried when
// its throttle ends — not after the backoff, earlier or later.
func TestDispatcherRateLimited(t *testing.T) {
	ctx := context.Background()

	t.Run("throttle longer than the backoff", func(t *testing.T) {
		const wait = 42 * time.Second
		d0, ok := notifications.RetryAfter(fmt.Errorf("x: %w", &throttleError{wait: wait}))
		require.True(t, ok)
		require.Equal(t, wait, d0)
		peer := &throttledPeer{chatPeer: &chatPeer{}, channel: "#p1", left: 1, wait: wait}
		a := newOutboxActs(t, peer)
		in := outboxNotice("warn/arrival@80", "p1")
		key := in.Message.Key
		recordNotices(t, a, in)
		clock := newOutboxClock(t0)
		d := &NotificationDispatcher{A: a, Clock: clock.Now}

		require.Equal(t, 1, runOnce(t, d, clock, t0))
		n := outboxRow(t, a, key)
		assert.Equal(t, db.NotificationPending, n.Status)
		assert.Equal(t, 1, n.Attempts)
		assert.Contains(t, n.LastError, "too many messages")
		requireAt(t, t0.Add(wait), n.NextAttemptAt, "due when the throttle ends")
		assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(time.Second)), "not at the backoff")
		assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(wait-time.Millisecond)))
		require.Equal(t, 1, runOnce(t, d, clock, t0.Add(wait)))
		assert.Equal(t, db.NotificationSent, outboxRow(t, a, key).Status)
		assert.Equal(t, 1, peer.count("#p1", key))
		assert.Equal(t, 1, peer.count("#ops", key), "operations had it already: not sent again")
	})

	t.Run("throttle shorter than the backoff", func(t *testing.T) {
		const wait = 300 * time.Millisecond
		peer := &throttledPeer{chatPeer: &chatPeer{}, channel: "#ops", left: 3, wait: wait}
		a := newOutboxActs(t, peer)
		in := outboxNotice("warn/arrival@90", "")
		recordNotices(t, a, in)
		clock := newOutboxClock(t0)
		d := &NotificationDispatcher{A: a, Clock: clock.Now}
		at := t0
		for i := range 3 { // the backoff would be 1 s, 2 s, 4 s
			require.Equal(t, 1, runOnce(t, d, clock, at), "attempt %d", i+1)
			n := outboxRow(t, a, in.Message.Key)
			requireAt(t, at.Add(wait), n.NextAttemptAt, fmt.Sprintf("after throttled attempt %d", i+1))
			at = *n.NextAttemptAt
		}
		require.Equal(t, 1, runOnce(t, d, clock, at))
		assert.Equal(t, db.NotificationSent, outboxRow(t, a, in.Message.Key).Status)
		assert.Equal(t, 1, peer.count("#ops", in.Message.Key))
	})

	t.Run("dingtalk robot throttled", func(t *testing.T) {
		// DingTalk throttles a robot that sent too fast for ten windows (of a minute): ten minutes, more
		// than the longest backoff.
		fake := dingtalktest.NewServer(dingtalktest.Options{})
		t.Cleanup(fake.Close)
		webhook := fake.AddRobot(robotToken, robotSecret)
		ws, slack := newSlackWorkspace(t, nil)
		process := func(store *db.Store) *Activities { // a process: its own DingTalk client and throttle
			ding := notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: fake.URL(), Logger: slog.New(slog.DiscardHandler)})
			return &Activities{Store: store, Notifier: notifications.WithDingTalk(slack, ding), UIBaseURL: "http://ui",
				Namespace: "default", Logger: slog.New(slog.DiscardHandler)}
		}
		a := process(dbtest.MustOpen(t))
		require.NoError(t, a.Store.SetSecretKey(robotKey))
		require.NoError(t, a.Store.AddPartner(ctx, &db.Partner{ID: "acme", Name: "Acme", Services: []string{"sos"}, Capacity: 1,
			SlackChannel: "#acme", Active: true, CreatedAt: t0, DingTalkWebhook: webhook, DingTalkSecret: robotSecret}))
		fake.FailNext(robotToken, dingtalktest.ErrTooFast, 1)
		in := outboxNotice("offer/acme/1", "acme")
		key := in.Message.Key
		recordNotices(t, a, in)
		clock := newOutboxClock(t0)
		d := &NotificationDispatcher{A: a, Clock: clock.Now}

		require.Equal(t, 1, runOnce(t, d, clock, t0))
		n := outboxRow(t, a, key)
		assert.Equal(t, db.NotificationPending, n.Status)
		assert.Contains(t, n.LastError, "410100")
		assert.NotContains(t, n.LastError, robotToken)
		assert.NotContains(t, n.LastError, robotSecret)
		throttle := 10 * time.Minute
		requireAt(t, t0.Add(throttle), n.NextAttemptAt, "due when DingTalk's throttle ends")
		rows, err := a.Store.ListChannelDeliveries(ctx, key)
		require.NoError(t, err)
		states := map[string]string{}
		for _, r := range rows {
			states[r.Channel] = r.Status
		}
		assert.Equal(t, map[string]string{"#acme": db.ChannelSent, "#ops": db.ChannelSent, "dingtalk:acme": db.ChannelRefused}, states)
		for _, dt := range []time.Duration{time.Second, 5 * time.Minute, throttle - time.Millisecond} {
			assert.Equal(t, 0, runOnce(t, d, clock, t0.Add(dt)), "not due at t0%+v", dt)
		}

		// When the throttle has ended, another process (whose DingTalk client was not throttled) delivers it.
		other := process(a.Store)
		d2 := &NotificationDispatcher{A: other, Clock: clock.Now}
		require.Equal(t, 1, runOnce(t, d2, clock, t0.Add(throttle)))
		assert.Equal(t, db.NotificationSent, outboxRow(t, a, key).Status)
		assert.Len(t, fake.Messages(robotToken), 1, "the robot: once")
		assert.Equal(t, []string{key}, ws.keys("#acme"), "not repeated")
		assert.Equal(t, []string{key}, ws.keys("#ops"), "not repeated")
	})
}

// sendCounter is a ChannelNotifier that counts the sends it is asked for, by channel and message key,
// refused or not, before passing them on; before, when set, runs ahead of each send.
type sendCounter struct {
	notifications.ChannelNotifier
	before func(m notifications.Message, ch string)
	mu     sync.Mutex
	sends  map[[2]string]int // {channel, key} → sends tried
}

func (c *sendCounter) NotifyChannel(ctx context.Context, m notifications.Message, ch string) error {
	if c.before != nil {
		c.before(m, ch)
	}
	c.mu.Lock()
	if c.sends == nil {
		c.sends = map[[2]string]int{}
	}
	c.sends[[2]string{ch, m.Key}]++
	c.mu.Unlock()
	return c.ChannelNotifier.NotifyChannel(ctx, m, ch)
}

func (c *sendCounter) count(ch, key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sends[[2]string{ch, key}]
}

// TestDispatcherOpsDownForDays: the operations channel (and the partner's) refuse everything for now, for
// days. The notification is retried until GiveUpAfter; the round after that gives it up — the last time
// the notification itself is sent anywhere — and tries to tell operations; each later round, at the
// backoff, only tries to tell operations again, until 2×GiveUpAfter after the notification was recorded:
// then the log is told and the row is settled, never claimed again. When operations recover before that,
// they are told once, with the link to the workflow, and never sent the notification itself.
func TestDispatcherOpsDownForDays(t *testing.T) {
	const giveUp = time.Hour
	in := outboxNotice("offer/p1/7", "p1")
	key, alertKey := in.Message.Key, in.Message.Key+undeliverableSuffix
	const link = "https://temporal.example/namespaces/steward-prod/workflows/sos:O1"

	// setup records the notification on a store whose Slack refuses #ops and #p1 with internal_error.
	setup := func(t *testing.T) (*slackWorkspace, *sendCounter, *Activities, *bytes.Buffer, *NotificationDispatcher, *outboxClock) {
		ws, slack := newSlackWorkspace(t, map[string]string{"#ops": "internal_error", "#p1": "internal_error"})
		sc := &sendCounter{ChannelNotifier: slack}
		a := newOutboxActs(t, sc)
		a.UIBaseURL, a.Namespace = "https://temporal.example", "steward-prod"
		var logs bytes.Buffer
		a.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		recordNotices(t, a, in)
		clock := newOutboxClock(t0)
		return ws, sc, a, &logs, &NotificationDispatcher{A: a, Clock: clock.Now, GiveUpAfter: giveUp}, clock
	}
	// untilGiveUp runs the rounds from t0, each at the row's next attempt, up to the one that gives the
	// notification up, and returns its time and how many rounds sent the notification (that one included).
	untilGiveUp := func(t *testing.T, sc *sendCounter, a *Activities, d *NotificationDispatcher, clock *outboxClock) (time.Time, int) {
		t.Helper()
		at := t0
		for round := 1; round <= 100; round++ {
			require.Equal(t, 1, runOnce(t, d, clock, at), "round %d at t0%+v", round, at.Sub(t0))
			n := outboxRow(t, a, key)
			assert.Equal(t, round, sc.count("#ops", key), "round %d: the notification to #ops", round)
			assert.Equal(t, round, sc.count("#p1", key), "round %d: the notification to #p1", round)
			if at.Sub(t0) >= giveUp {
				return at, round
			}
			require.Equal(t, db.NotificationPending, n.Status, "round %d at t0%+v: before GiveUpAfter", round, at.Sub(t0))
			require.Nil(t, n.FailedAt)
			require.Zero(t, sc.count("#ops", alertKey), "no alert before GiveUpAfter")
			require.NotNil(t, n.NextAttemptAt)
			at = *n.NextAttemptAt
		}
		t.Fatal("not given up in 100 rounds")
		return time.Time{}, 0
	}

	t.Run("operations never recover", func(t *testing.T) {
		ws, sc, a, logs, d, clock := setup(t)
		gaveUpAt, sent := untilGiveUp(t, sc, a, d, clock)
		n := outboxRow(t, a, key)
		assert.Equal(t, db.NotificationFailed, n.Status, "given up first")
		assert.True(t, n.Undeliverable())
		requireAt(t, gaveUpAt, n.FailedAt, "given up at the round's time")
		assert.Contains(t, n.FailureReason, "not delivered within "+giveUp.String())
		assert.Contains(t, n.FailureReason, "internal_error")
		assert.Equal(t, 1, sc.count("#ops", alertKey), "operations: told in the round that gave it up")
		requireAt(t, gaveUpAt.Add(maxNotificationBackoff), n.NextAttemptAt, "operations not told: retried at the backoff")

		// Each later round only tries to tell operations, every five minutes, until 2×GiveUpAfter.
		at, tells := *n.NextAttemptAt, 1
		for ; at.Sub(t0) < 2*giveUp; at = *n.NextAttemptAt {
			require.Equal(t, 1, runOnce(t, d, clock, at), "round at t0%+v", at.Sub(t0))
			tells++
			n = outboxRow(t, a, key)
			require.Equal(t, db.NotificationFailed, n.Status, "t0%+v", at.Sub(t0))
			requireAt(t, gaveUpAt, n.FailedAt, "still given up when it was")
			assert.Equal(t, tells, sc.count("#ops", alertKey), "t0%+v: operations tried again", at.Sub(t0))
			assert.Equal(t, sent, sc.count("#ops", key), "t0%+v: the notification not sent to #ops again", at.Sub(t0))
			assert.Equal(t, sent, sc.count("#p1", key), "t0%+v: the notification not sent to #p1 again", at.Sub(t0))
			requireAt(t, at.Add(maxNotificationBackoff), n.NextAttemptAt, "at the backoff")
			require.Less(t, tells, 100, "still retried past 2×GiveUpAfter")
		}
		assert.NotContains(t, logs.String(), "operations could not be told in chat", "not before 2×GiveUpAfter")

		// The first round at 2×GiveUpAfter tries once more, then settles it with the log.
		require.Equal(t, 1, runOnce(t, d, clock, at))
		tells++
		n = outboxRow(t, a, key)
		assert.Equal(t, db.NotificationFailed, n.Status)
		requireAt(t, gaveUpAt, n.FailedAt, "still given up when it was")
		assert.Nil(t, n.NextAttemptAt, "settled")
		assert.Nil(t, n.LeaseUntil)
		assert.Contains(t, logs.String(), "notification given up; operations could not be told in chat")
		assert.Equal(t, tells, sc.count("#ops", alertKey))
		t.Logf("%d rounds sent the notification (given up at t0%+v), %d tried to tell operations (settled at t0%+v)",
			sent, gaveUpAt.Sub(t0), tells, at.Sub(t0))

		for _, dt := range []time.Duration{0, time.Second, maxNotificationBackoff, time.Hour, 48 * time.Hour} {
			assert.Equal(t, 0, runOnce(t, d, clock, at.Add(dt)), "nothing claimed at t0%+v", at.Add(dt).Sub(t0))
		}
		assert.Equal(t, sent, sc.count("#ops", key), "the notification: never sent after the round that gave it up")
		assert.Equal(t, sent, sc.count("#p1", key))
		assert.Zero(t, sc.count("#p1", alertKey), "the alert goes to operations only")
		assert.Equal(t, tells, sc.count("#ops", alertKey), "operations not tried after it was settled")
		assert.Empty(t, ws.keys("#ops"))
		assert.Empty(t, ws.keys("#p1"))
		alert := outboxRow(t, a, alertKey)
		assert.Equal(t, db.NotificationPending, alert.Status, "the alert never delivered")
		assert.Nil(t, alert.NextAttemptAt, "the alert's row is not the dispatcher's")
	})

	for _, tc := range []struct {
		name  string
		tells int // failed attempts to tell operations before they recover (the give-up round's included)
	}{
		{"operations recover in the round that gives up", 0},
		{"operations recover after the round that gives up", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, sc, a, _, d, clock := setup(t)
			recoverOps := func() {
				ws.mu.Lock()
				defer ws.mu.Unlock()
				delete(ws.refuse, "#ops")
			}
			if tc.tells == 0 { // #ops refuses the notification, then takes the alert
				sc.before = func(m notifications.Message, ch string) {
					if ch == "#ops" && m.Key == alertKey {
						recoverOps()
					}
				}
			}
			gaveUpAt, sent := untilGiveUp(t, sc, a, d, clock)
			n := outboxRow(t, a, key)
			requireAt(t, gaveUpAt, n.FailedAt, "given up")
			at := gaveUpAt
			for i := 1; i < tc.tells; i++ {
				require.NotNil(t, n.NextAttemptAt, "operations not told: retried")
				at = *n.NextAttemptAt
				require.Equal(t, 1, runOnce(t, d, clock, at))
				n = outboxRow(t, a, key)
			}
			if tc.tells > 0 {
				assert.Equal(t, tc.tells, sc.count("#ops", alertKey), "operations tried, refused")
				require.NotNil(t, n.NextAttemptAt)
				at = *n.NextAttemptAt
				require.Less(t, at.Sub(t0), 2*giveUp, "operations recover before 2×GiveUpAfter")
				recoverOps()
				require.Equal(t, 1, runOnce(t, d, clock, at))
				n = outboxRow(t, a, key)
			}

			assert.Equal(t, db.NotificationFailed, n.Status)
			requireAt(t, gaveUpAt, n.FailedAt, "given up when it was")
			assert.Nil(t, n.NextAttemptAt, "operations told: settled")
			assert.Equal(t, []string{alertKey}, ws.keys("#ops"), "operations: the alert once, never the notification")
			text := ws.text("#ops") // the alert's text and blocks
			for _, s := range []string{"Notification not delivered", in.Message.Title, "not delivered within " + giveUp.String(),
				"internal_error", link, "Open in Temporal UI"} {
				assert.Contains(t, text, s)
			}
			assert.Equal(t, db.NotificationSent, outboxRow(t, a, alertKey).Status)

			for _, dt := range []time.Duration{0, time.Second, time.Hour, 48 * time.Hour} {
				assert.Equal(t, 0, runOnce(t, d, clock, at.Add(dt)), "nothing claimed at t0%+v", at.Add(dt).Sub(t0))
			}
			assert.Equal(t, []string{alertKey}, ws.keys("#ops"), "operations not told again")
			assert.Equal(t, sent, sc.count("#ops", key), "the notification: never sent after the round that gave it up")
			assert.Equal(t, sent, sc.count("#p1", key))
			assert.Empty(t, ws.keys("#p1"))
		})
	}
}
