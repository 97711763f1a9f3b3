package customer_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/notifications/customer"
	"github.com/steward-oss/steward/notifications/dingtalktest"
)

var t0 = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

// clock is a settable clock shared by the dispatcher and the fake robot server.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	store  *db.Store
	robot  *dingtalktest.Server
	clock  *clock
	d      *customer.Dispatcher
	alerts []notifications.Message
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{store: dbtest.MustOpen(t), clock: &clock{now: t0}}
	// The fake's and the client's own limits count real time; this test holds the dispatcher's, counted in
	// the database on the dispatcher's clock, so theirs are set out of its way.
	f.robot = dingtalktest.NewServer(dingtalktest.Options{Now: f.clock.Now, PerMinute: 1000})
	t.Cleanup(f.robot.Close)
	f.d = &customer.Dispatcher{Store: f.store, Clock: f.clock.Now, Batch: 100,
		DingTalk: notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: f.robot.URL(), PerMinute: 1000, Now: f.clock.Now}),
		Alert:    func(_ context.Context, m notifications.Message) { f.alerts = append(f.alerts, m) }}
	return f
}

// queue records n messages to the customer of caseID, whose robot is token.
func (f *fixture) queue(t *testing.T, caseID, token string, n int) {
	t.Helper()
	ctx := context.Background()
	_, err := f.store.PutCustomerChannel(ctx, &db.CustomerChannel{CaseID: caseID, DingTalkWebhook: f.robot.AddRobot(token, "SEC"+token), DingTalkSecret: "SEC" + token}, false)
	require.NoError(t, err)
	c := &db.Case{CaseID: caseID, WorkflowID: caseID, Service: "sos", Stage: "assignment", Status: "open", CustomerID: "c1", OrderID: "O-" + caseID,
		SLAStatus: "on_track", OpenedAt: t0, UpdatedAt: t0, Revision: 1}
	var evs []db.CaseEvent
	for i := range n {
		key := fmt.Sprintf("%s/%03d/x", caseID, i)
		evs = append(evs, db.CaseEvent{Key: key, CaseID: caseID, At: t0.Add(time.Duration(i) * time.Millisecond), Event: "x",
			Customer: &db.CustomerMessage{Key: key + "/customer", CaseID: caseID, OrderID: c.OrderID, Kind: "k", Title: fmt.Sprintf("消息 %d", i), Text: "正文", CreatedAt: t0}})
	}
	require.NoError(t, f.store.RecordCase(ctx, c, evs, nil, nil))
}

func (f *fixture) round(t *testing.T) {
	t.Helper()
	_, err := f.d.RunOnce(context.Background())
	require.NoError(t, err)
}

// TestRobotLimitQueuesNeverDrops: 45 messages to one robot go out 20 a minute, in order, none refused by
// DingTalk and none lost; another robot is not held up by the first one's queue.
func TestRobotLimitQueuesNeverDrops(t *testing.T) {
	f := newFixture(t)
	f.queue(t, "sos:A", "grp-a", 45)
	f.queue(t, "sos:B", "grp-b", 3)
	f.round(t)
	assert.Len(t, f.robot.Messages("grp-a"), 20, "the first minute's 20")
	assert.Len(t, f.robot.Messages("grp-b"), 3, "another robot is not held up")
	f.clock.Add(30 * time.Second)
	f.round(t)
	assert.Len(t, f.robot.Messages("grp-a"), 20, "still within the minute")
	f.clock.Add(31 * time.Second)
	f.round(t)
	assert.Len(t, f.robot.Messages("grp-a"), 40)
	f.clock.Add(61 * time.Second)
	f.round(t)
	msgs := f.robot.Messages("grp-a")
	require.Len(t, msgs, 45, "nothing dropped")
	for i, m := range msgs {
		assert.Equal(t, fmt.Sprintf("消息 %d", i), m.Title, "in order")
	}
	assert.Equal(t, dingtalktest.Stats{Delivered: 45}, f.robot.Stats("grp-a"), "DingTalk never had to refuse one")
	lines, err := f.store.ListEvents(context.Background(), "sos:A")
	require.NoError(t, err)
	n := 0
	for _, l := range lines {
		if l.Event == "customer_notified" {
			n++
		}
	}
	assert.Equal(t, 45, n, "each delivery on the timeline")
}

// TestRefusals: a rate limit or a busy DingTalk is retried (after the wait DingTalk asks for) and
// delivers once; a robot removed from its group is given up and operations are told once.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	f.queue(t, "sos:C", "grp-c", 1)
	f.robot.FailNext("grp-c", dingtalktest.ErrBusy, 2)
	f.round(t)
	f.round(t)
	assert.Empty(t, f.robot.Messages("grp-c"), "the retry waits its backoff")
	for range 3 {
		f.clock.Add(time.Minute)
		f.round(t)
	}
	assert.Len(t, f.robot.Messages("grp-c"), 1, "delivered once after the refusals")

	f.queue(t, "sos:D", "grp-d", 2)
	f.robot.Remove("grp-d")
	f.round(t)
	f.clock.Add(time.Hour)
	f.round(t)
	require.Len(t, f.alerts, 2, "one alert per message, once each")
	assert.Contains(t, f.alerts[0].Text, "DingTalk group")
	assert.NotContains(t, f.alerts[0].Text, "grp-d", "no token in the alert")
	ds, err := f.store.ListCustomerDeliveries(context.Background(), "sos:D")
	require.NoError(t, err)
	for _, d := range ds {
		assert.Equal(t, db.CustomerFailed, d.Delivery.State)
		assert.NotContains(t, d.Delivery.LastError, "grp-d")
	}
}

// TestCrashedAttemptIsSentAgain: a delivery whose worker died after claiming it is sent when its lease ends.
func TestCrashedAttemptIsSentAgain(t *testing.T) {
	f := newFixture(t)
	f.queue(t, "sos:E", "grp-e", 1)
	claimed, err := f.store.ClaimCustomerDeliveries(context.Background(), f.clock.Now(), customer.DefaultLease, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1) // a worker claimed it, then died
	f.round(t)
	assert.Empty(t, f.robot.Messages("grp-e"), "leased")
	f.clock.Add(customer.DefaultLease + time.Second)
	f.round(t)
	assert.Len(t, f.robot.Messages("grp-e"), 1)
}
