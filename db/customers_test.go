package db_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

const testSecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, Base64

// TestCustomerChannelSealed: a customer's robot webhook and secret are stored sealed under the secret
// key (neither readable in the table), opened for the dispatcher, and unreadable without the key.
func TestCustomerChannelSealed(t *testing.T) {
	ctx := ctxT(t)
	s := dbtest.MustOpen(t)
	require.Error(t, s.SetSecretKey("too-short"), "a key that is not 32 bytes in Base64 is refused")
	require.NoError(t, s.SetSecretKey(testSecretKey))
	hook, secret := "https://oapi.dingtalk.com/robot/send?access_token=tok-SEALME", "SEC-sealme-secret"
	created, err := s.PutCustomerChannel(ctx, &db.CustomerChannel{CaseID: "sos:C1", DingTalkWebhook: hook, DingTalkSecret: secret, Emails: []string{"it@example.cn"}}, false)
	require.NoError(t, err)
	assert.True(t, created)
	created, err = s.PutCustomerChannel(ctx, &db.CustomerChannel{CaseID: "sos:C1", Emails: []string{"other@example.cn"}}, false)
	require.NoError(t, err)
	assert.False(t, created, "without replace an existing channel is kept")

	var raw struct{ Webhook, Secret string }
	require.NoError(t, s.NewSelect().Table("customer_channels").Column("dingtalk_webhook", "dingtalk_secret").Where("case_id = ?", "sos:C1").Scan(ctx, &raw.Webhook, &raw.Secret))
	assert.NotContains(t, raw.Webhook, "tok-SEALME")
	assert.NotContains(t, raw.Secret, "sealme")
	assert.True(t, strings.HasPrefix(raw.Webhook, "sealed:v1:"))

	ch, err := s.GetCustomerChannel(ctx, "sos:C1")
	require.NoError(t, err)
	assert.Equal(t, hook, ch.DingTalkWebhook)
	assert.Equal(t, secret, ch.DingTalkSecret)
	assert.Equal(t, []string{"it@example.cn"}, ch.Emails)
	assert.Equal(t, []string{db.CustomerDingTalk, db.CustomerEmail}, ch.Channels())
	assert.Equal(t, db.RobotID(hook), ch.Robot)
	assert.NotContains(t, ch.Robot, "SEALME")

	require.NoError(t, s.SetSecretKey(""))
	_, err = s.GetCustomerChannel(ctx, "sos:C1")
	assert.ErrorIs(t, err, db.ErrSecretKey, "a sealed secret needs its key")
	require.NoError(t, s.SetSecretKey("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="))
	_, err = s.GetCustomerChannel(ctx, "sos:C1")
	assert.ErrorIs(t, err, db.ErrSecretKey, "and the right one")

	// Replacing with an empty channel removes it.
	_, err = s.PutCustomerChannel(ctx, &db.CustomerChannel{CaseID: "sos:C1"}, true)
	require.NoError(t, err)
	_, err = s.GetCustomerChannel(ctx, "sos:C1")
	assert.ErrorIs(t, err, db.ErrNotFound)
}

// TestCustomerMessagesOutbox: a recorded line that tells the customer writes the message once, with one
// pending delivery per channel the customer has then; a delivery is claimed with a lease, and marked
// sent together with the timeline line saying so, once.
func TestCustomerMessagesOutbox(t *testing.T) {
	ctx := ctxT(t)
	s := dbtest.MustOpen(t)
	c := testCase("sos:C2", t0)
	_, err := s.PutCustomerChannel(ctx, &db.CustomerChannel{CaseID: c.CaseID, DingTalkWebhook: "https://oapi.dingtalk.com/robot/send?access_token=a", Emails: []string{"a@example.cn"}}, false)
	require.NoError(t, err)
	msg := &db.CustomerMessage{Key: "sos:C2/002/partner_accepted/customer", CaseID: c.CaseID, OrderID: c.OrderID, Kind: "partner_assigned", Title: "服务商已接单", Text: "### 服务商已接单", CreatedAt: t0}
	ev := db.CaseEvent{Key: "sos:C2/002/partner_accepted", CaseID: c.CaseID, At: t0, Actor: "partner", Event: "partner_accepted", Customer: msg}
	plain := db.CaseEvent{Key: "sos:C2/001/case_opened", CaseID: c.CaseID, At: t0, Actor: "marketplace", Event: "case_opened"}
	c.Revision = 1
	require.NoError(t, s.RecordCase(ctx, c, []db.CaseEvent{plain, ev}, nil, nil))
	c.Revision = 2
	require.NoError(t, s.RecordCase(ctx, c, []db.CaseEvent{ev}, nil, nil), "a retried record")

	ms, err := s.ListCustomerMessages(ctx, c.CaseID)
	require.NoError(t, err)
	require.Len(t, ms, 1, "once, and only for the line that tells the customer")
	ds, err := s.ListCustomerDeliveries(ctx, c.CaseID)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	assert.Equal(t, []string{db.CustomerDingTalk, db.CustomerEmail}, []string{ds[0].Delivery.Channel, ds[1].Delivery.Channel})

	now := t0.Add(time.Second)
	due, err := s.ClaimCustomerDeliveries(ctx, now, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, due, 2)
	assert.Equal(t, "服务商已接单", due[0].Message.Title)
	again, err := s.ClaimCustomerDeliveries(ctx, now.Add(30*time.Second), time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, again, "leased")

	require.NoError(t, s.CompleteCustomerDelivery(ctx, due[0].Delivery, now, "system", "customer_notified", "sent to the customer's DingTalk group: 服务商已接单"))
	require.NoError(t, s.CompleteCustomerDelivery(ctx, due[0].Delivery, now, "system", "customer_notified", "again"), "a repeated mark is a no-op")
	n, at, err := s.RobotSentSince(ctx, due[0].Delivery.Robot, now.Add(-time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, now.UTC(), at[0])

	first, err := s.FailCustomerDelivery(ctx, due[1].Delivery, "mailbox refused", now)
	require.NoError(t, err)
	assert.True(t, first)
	first, err = s.FailCustomerDelivery(ctx, due[1].Delivery, "mailbox refused", now)
	require.NoError(t, err)
	assert.False(t, first, "given up once")

	lines, err := s.ListEvents(ctx, c.CaseID)
	require.NoError(t, err)
	var notified []string
	for _, l := range lines {
		if l.Event == "customer_notified" {
			notified = append(notified, l.Detail)
		}
	}
	assert.Equal(t, []string{"sent to the customer's DingTalk group: 服务商已接单"}, notified)

	// Leases end: a delivery claimed by a worker that died is claimed again.
	c3 := testCase("sos:C3", t0)
	_, err = s.PutCustomerChannel(ctx, &db.CustomerChannel{CaseID: c3.CaseID, Emails: []string{"b@example.cn"}}, false)
	require.NoError(t, err)
	m3 := *msg
	m3.Key, m3.CaseID = "sos:C3/x/customer", c3.CaseID
	c3.Revision = 1
	require.NoError(t, s.RecordCase(ctx, c3, []db.CaseEvent{{Key: "sos:C3/x", CaseID: c3.CaseID, At: t0, Event: "partner_accepted", Customer: &m3}}, nil, nil))
	got, err := s.ClaimCustomerDeliveries(ctx, now, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	got, err = s.ClaimCustomerDeliveries(ctx, now.Add(2*time.Minute), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, got, 1, "claimed again after the lease")
	assert.Equal(t, 2, got[0].Delivery.Attempts)
}
