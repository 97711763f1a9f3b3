package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/notifications/dingtalktest"
)

const (
	cliKey         = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, Base64
	cliRobotToken  = "cli-robot-access-token-42"
	cliRobotSecret = "SECcli-robot-signing-secret"
)

// TestPartnersDingTalkRobot: `partners add|update -dingtalk-webhook -dingtalk-secret` stores the robot
// sealed with STEWARD_SECRET_KEY, beside or instead of the Slack channel; `partners list` says whether a
// robot is set and never shows it; no error repeats a webhook or secret.
func TestPartnersDingTalkRobot(t *testing.T) {
	t.Setenv(db.SecretKeyEnv, cliKey)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "steward.db")
	webhook := dingtalktest.Webhook(cliRobotToken)
	out, err := steward(t, "migrate", "-database-url", dsn)
	require.NoError(t, err, out)
	out, err = steward(t, "partners", "add", "-database-url", dsn, "-id", "acme", "-name", "Acme", "-services", "sos",
		"-slack-channel", "#acme", "-dingtalk-webhook", webhook, "-dingtalk-secret", cliRobotSecret)
	require.NoError(t, err, out)
	out, err = steward(t, "partners", "add", "-database-url", dsn, "-id", "beta", "-name", "Beta", "-services", "sos")
	require.NoError(t, err, out)

	for _, bad := range [][]string{
		{"partners", "add", "-database-url", dsn, "-id", "x", "-name", "X", "-services", "sos", "-dingtalk-webhook", "ftp://oapi.dingtalk.com/robot/send?access_token=" + cliRobotToken},
		{"partners", "add", "-database-url", dsn, "-id", "x", "-name", "X", "-services", "sos", "-dingtalk-webhook", "https://oapi.dingtalk.com/robot/send?token=" + cliRobotToken},
		{"partners", "add", "-database-url", dsn, "-id", "x", "-name", "X", "-services", "sos", "-dingtalk-secret", cliRobotSecret},
		{"partners", "update", "-database-url", dsn, "-id", "beta", "-dingtalk-secret", cliRobotSecret}, // no robot to sign for
		{"partners", "update", "-database-url", dsn, "-id", "nobody", "-name", "N"},
		{"partners", "update", "-database-url", dsn, "-id", "acme"}, // nothing to change
		{"partners", "update", "-database-url", dsn, "-id", "acme", "-capacity", "0"},
	} {
		out, err := steward(t, bad...)
		assert.Error(t, err, "steward %s", strings.Join(bad, " "))
		assert.NotContains(t, out+err.Error(), cliRobotToken)
		assert.NotContains(t, out+err.Error(), cliRobotSecret)
	}

	out, err = steward(t, "partners", "update", "-database-url", dsn, "-id", "beta", "-dingtalk-webhook", dingtalktest.Webhook("beta-token"), "-capacity", "6")
	require.NoError(t, err, out)
	out, err = steward(t, "partners", "list", "-database-url", dsn)
	require.NoError(t, err)
	assert.Regexp(t, `acme\s+Acme\s+sos\s+false\s+3\s+#acme\s+true\s+robot \(signed\)`, out)
	assert.Regexp(t, `beta\s+Beta\s+sos\s+false\s+6\s+true\s+robot\n`, out, "a robot instead of a Slack channel")
	assert.NotContains(t, out, "access_token")
	assert.NotContains(t, out, cliRobotSecret)
	assert.NotContains(t, out, "sealed:")

	store, err := db.Open(context.Background(), dsn)
	require.NoError(t, err)
	defer store.Close()
	var raw string
	require.NoError(t, store.QueryRowContext(context.Background(), `SELECT dingtalk_webhook || dingtalk_secret FROM partners WHERE id = 'acme'`).Scan(&raw))
	assert.NotContains(t, raw, cliRobotToken, "sealed at rest")
	assert.NotContains(t, raw, cliRobotSecret, "sealed at rest")
	require.NoError(t, store.SetSecretKey(cliKey))
	gotWebhook, gotSecret, err := store.PartnerRobot(context.Background(), "acme")
	require.NoError(t, err)
	assert.Equal(t, webhook, gotWebhook)
	assert.Equal(t, cliRobotSecret, gotSecret)

	out, err = steward(t, "partners", "update", "-database-url", dsn, "-id", "acme", "-dingtalk-webhook", "")
	require.NoError(t, err, out)
	out, err = steward(t, "partners", "list", "-database-url", dsn)
	require.NoError(t, err)
	assert.Regexp(t, `acme\s+Acme\s+sos\s+false\s+3\s+#acme\s+true\s+-`, out, "the robot is removed")

	t.Setenv(db.SecretKeyEnv, "not-a-key")
	_, err = steward(t, "partners", "list", "-database-url", dsn)
	require.Error(t, err, "a malformed key stops the command at start")
	assert.Contains(t, err.Error(), db.SecretKeyEnv)
}

// TestDingTalkAPIURLFlag: --dingtalk-api-url (and STEWARD_DINGTALK_API_URL) sends partner robots' messages
// to another base URL, with or without a Slack token.
func TestDingTalkAPIURLFlag(t *testing.T) {
	fake := dingtalktest.NewServer(dingtalktest.Options{})
	defer fake.Close()
	webhook := fake.AddRobot(cliRobotToken, cliRobotSecret)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := notifications.Message{Key: "k", CaseID: "sos:1", Title: "offer", PartnerRobot: &notifications.PartnerRobot{
		Channel: notifications.PartnerRobotChannel("acme"), Robot: notifications.Robot{Webhook: webhook, Secret: cliRobotSecret}}}

	tests := []struct {
		name string
		env  string
		args []string
	}{
		{"flag", "", []string{"-dingtalk-api-url", fake.URL()}},
		{"environment", fake.URL(), nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("STEWARD_DINGTALK_API_URL", tt.env)
			}
			var cfg appConfig
			f := newFlags("test", io.Discard)
			cfg.register(f)
			require.NoError(t, f.Parse(tt.args))
			n := cfg.notifier(logger)
			cn, ok := n.(notifications.ChannelNotifier)
			require.True(t, ok, "the notifier delivers channel by channel")
			assert.Equal(t, []string{notifications.LogChannel, "dingtalk:acme"}, cn.Channels(m), "no Slack token: the log, and the robot")
			m.Key = tt.name
			require.NoError(t, n.Notify(context.Background(), m))
			assert.Len(t, fake.Messages(cliRobotToken), i+1)
			assert.Same(t, cfg.dingTalk(logger), cfg.dingTalk(logger), "one DingTalk client per process")
		})
	}
}
