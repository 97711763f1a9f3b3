package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/notifications/dingtalktest"
)

const (
	robotKey    = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, Base64
	robotToken  = "acme-robot-access-token-0123"
	robotSecret = "SECacme-robot-signing-secret"
)

// robotActs is a Notify activity whose notifier is base (Slack, or the log) with partners' DingTalk robots
// on a fake robot server, and partner acme, which has a robot and, when slackChannel is set, a channel.
type robotActs struct {
	a    *Activities
	env  *testsuite.TestActivityEnvironment
	fake *dingtalktest.Server
	logs *bytes.Buffer
}

func newRobotActs(t *testing.T, base notifications.Notifier, slackChannel string, window time.Duration) *robotActs {
	t.Helper()
	fake := dingtalktest.NewServer(dingtalktest.Options{Window: window})
	t.Cleanup(fake.Close)
	webhook := fake.AddRobot(robotToken, robotSecret)
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	ding := notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: fake.URL(), Window: window, Logger: logger})
	a := &Activities{Store: dbtest.MustOpen(t), Notifier: notifications.WithDingTalk(base, ding), UIBaseURL: "http://ui", Namespace: "default", Logger: logger}
	require.NoError(t, a.Store.SetSecretKey(robotKey))
	require.NoError(t, a.Store.AddPartner(context.Background(), &db.Partner{ID: "acme", Name: "Acme", Services: []string{"sos"}, Capacity: 1,
		SlackChannel: slackChannel, Active: true, CreatedAt: t0, DingTalkWebhook: webhook, DingTalkSecret: robotSecret}))
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return &robotActs{a: a, env: env, fake: fake, logs: logs}
}

func robotNotice(key string) NotifyInput {
	return NotifyInput{PartnerID: "acme", Message: notifications.Message{
		Key: "sos:O1/" + key, CaseID: "sos:O1", WorkflowID: "sos:O1", Service: "sos",
		Severity: notifications.SeverityInfo, Title: "New SOS case offered to acme",
		Fields: []notifications.Field{{Name: "Order", Value: "O1"}},
	}}
}

func (r *robotActs) channels(t *testing.T, key string) map[string]string {
	t.Helper()
	rows, err := r.a.Store.ListChannelDeliveries(context.Background(), key)
	require.NoError(t, err)
	out := map[string]string{}
	for _, row := range rows {
		out[row.Channel] = row.Status
	}
	return out
}

// TestNotifyPartnerRobot: with Slack configured, a notification for a partner with a robot beside its
// channel reaches the channel, operations and the robot (signed, as Markdown), each once, through the
// outbox; the robot was looked up by the activity, not carried in its input.
func TestNotifyPartnerRobot(t *testing.T) {
	ws, slack := newSlackWorkspace(t, nil)
	r := newRobotActs(t, slack, "#acme", 0)
	in := robotNotice("offer/acme/1")
	for range 2 {
		_, err := r.env.ExecuteActivity(r.a.Notify, in)
		require.NoError(t, err)
	}
	msgs := r.fake.Messages(robotToken)
	require.Len(t, msgs, 1, "the robot: once")
	assert.Equal(t, "ℹ️ New SOS case offered to acme", msgs[0].Title)
	assert.Contains(t, msgs[0].Text, "- **Order**: O1")
	assert.Contains(t, msgs[0].Text, "(http://ui/namespaces/default/workflows/sos:O1)")
	assert.Equal(t, []string{in.Message.Key}, ws.keys("#acme"))
	assert.Equal(t, []string{in.Message.Key}, ws.keys("#ops"))
	assert.Equal(t, map[string]string{"#acme": db.ChannelSent, "#ops": db.ChannelSent, "dingtalk:acme": db.ChannelSent}, r.channels(t, in.Message.Key))

	// An ops-only notice (no partner) does not go to the robot.
	_, err := r.env.ExecuteActivity(r.a.Notify, NotifyInput{Message: notifications.Message{Key: "sos:O1/no-partner", CaseID: "sos:O1", Title: "no partner"}})
	require.NoError(t, err)
	assert.Len(t, r.fake.Messages(robotToken), 1)

	// The robot never travels in a workflow's history.
	m := in.Message
	m.PartnerRobot = &notifications.PartnerRobot{Channel: "dingtalk:acme", Robot: notifications.Robot{Webhook: dingtalktest.Webhook(robotToken), Secret: robotSecret}}
	body, err := json.Marshal(NotifyInput{PartnerID: "acme", Message: m})
	require.NoError(t, err)
	assert.NotContains(t, string(body), robotToken)
	assert.NotContains(t, string(body), robotSecret)
}

// TestNotifyPartnerRobotWithoutSlack: without a Slack token (the log notifier), a partner with a robot
// instead of a Slack channel still hears of its cases there, once.
func TestNotifyPartnerRobotWithoutSlack(t *testing.T) {
	var logged bytes.Buffer
	r := newRobotActs(t, &notifications.Log{Logger: slog.New(slog.NewTextHandler(&logged, nil))}, "", 0)
	in := robotNotice("breach/response")
	in.Message.Severity, in.Message.Title = notifications.SeverityCritical, "SOS response clause breached"
	for range 2 {
		_, err := r.env.ExecuteActivity(r.a.Notify, in)
		require.NoError(t, err)
	}
	msgs := r.fake.Messages(robotToken)
	require.Len(t, msgs, 1)
	assert.Equal(t, "🚨 SOS response clause breached", msgs[0].Title)
	assert.Equal(t, map[string]string{notifications.LogChannel: db.ChannelSent, "dingtalk:acme": db.ChannelSent}, r.channels(t, in.Message.Key))
	assert.Equal(t, 1, strings.Count(logged.String(), "SOS response clause breached"), "operations: the log, once")
}

// TestNotifyPartnerRobotRemoved: a robot removed from its group is given up: the partner's channel and
// operations still get the message, operations are told once which robot failed and why, the retry calls
// the robot no more, and no text holds its access token or secret.
func TestNotifyPartnerRobotRemoved(t *testing.T) {
	ws, slack := newSlackWorkspace(t, nil)
	r := newRobotActs(t, slack, "#acme", 0)
	r.fake.Remove(robotToken)
	in := robotNotice("offer/acme/2")
	for attempt := 1; attempt <= 2; attempt++ {
		_, err := r.env.ExecuteActivity(r.a.Notify, in)
		appErr := undeliverable(t, err, ErrTypeNotificationUndeliverable)
		assert.Contains(t, appErr.Error(), "dingtalk:acme (dingtalk 300001: robot removed", "attempt %d", attempt)
	}
	assert.Equal(t, 1, r.fake.Stats(robotToken).Failed, "the robot given up is not called again")
	assert.Equal(t, []string{in.Message.Key}, ws.keys("#acme"))
	assert.Equal(t, []string{in.Message.Key, in.Message.Key + "/undeliverable"}, ws.keys("#ops"), "ops: the message once, the alert once")
	alert := ws.text("#ops")
	assert.Contains(t, alert, "dingtalk:acme")
	assert.Contains(t, alert, "robot removed")
	n, err := r.a.Store.GetNotification(context.Background(), in.Message.Key)
	require.NoError(t, err)
	for _, s := range []string{alert, r.logs.String(), n.FailureReason, n.LastError} {
		assert.NotContains(t, s, robotToken)
		assert.NotContains(t, s, robotSecret)
	}
}

// TestNotifyPartnerRobotRateLimited: a robot DingTalk throttles fails the attempt with a retryable error
// that says when to retry; the channels that took the message are not sent it again, and the robot gets
// it, once, when the throttle ends.
func TestNotifyPartnerRobotRateLimited(t *testing.T) {
	const window = 40 * time.Millisecond // DingTalk throttles for ten windows
	ws, slack := newSlackWorkspace(t, nil)
	r := newRobotActs(t, slack, "#acme", window)
	r.fake.FailNext(robotToken, dingtalktest.ErrTooFast, 1)
	in := robotNotice("warn/response@80")
	err := r.a.Notify(context.Background(), in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, ErrTypeNotificationRateLimited, appErr.Type())
	assert.False(t, appErr.NonRetryable())
	assert.InDelta(t, float64(10*window), float64(appErr.NextRetryDelay()), float64(window))
	assert.Equal(t, db.ChannelRefused, r.channels(t, in.Message.Key)["dingtalk:acme"])

	time.Sleep(appErr.NextRetryDelay())
	require.NoError(t, r.a.Notify(context.Background(), in))
	assert.Len(t, r.fake.Messages(robotToken), 1)
	assert.Equal(t, []string{in.Message.Key}, ws.keys("#acme"), "not repeated")
	assert.Equal(t, []string{in.Message.Key}, ws.keys("#ops"), "not repeated")
}

// TestNotifyPartnerRobotSealedKeyMissing: a robot sealed under a key the worker does not have is given up
// (operations are told that the secret key is missing or wrong); the other channels still get the message.
func TestNotifyPartnerRobotSealedKeyMissing(t *testing.T) {
	ws, slack := newSlackWorkspace(t, nil)
	r := newRobotActs(t, slack, "#acme", 0)
	require.NoError(t, r.a.Store.SetSecretKey(""))
	in := robotNotice("offer/acme/3")
	_, err := r.env.ExecuteActivity(r.a.Notify, in)
	undeliverable(t, err, ErrTypeNotificationUndeliverable)
	assert.Empty(t, r.fake.Messages(robotToken))
	assert.Equal(t, []string{in.Message.Key}, ws.keys("#acme"))
	assert.Contains(t, ws.text("#ops"), db.SecretKeyEnv)
}
