package db_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

// partnerKey is a secret key for these tests: 32 bytes, Base64.
const partnerKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

const (
	partnerWebhook = "https://oapi.dingtalk.com/robot/send?access_token=partner-robot-access-token"
	partnerSecret  = "SECpartner-robot-signing-secret"
)

// TestPartnerRobotSealed: a partner's DingTalk robot is stored sealed — neither the webhook (its access
// token) nor the secret is in the row or the partner's JSON — and PartnerRobot opens it with the key.
func TestPartnerRobotSealed(t *testing.T) {
	ctx := context.Background()
	s := dbtest.MustOpen(t)
	require.NoError(t, s.SetSecretKey(partnerKey))
	require.NoError(t, s.AddPartner(ctx, &db.Partner{ID: "acme", Name: "Acme", Services: []string{"sos"}, Capacity: 2, Active: true,
		DingTalkWebhook: partnerWebhook, DingTalkSecret: partnerSecret}))
	require.NoError(t, s.AddPartner(ctx, &db.Partner{ID: "slackonly", Name: "Slack only", Services: []string{"sos"}, Capacity: 2, Active: true, SlackChannel: "#s"}))

	var webhook, secret string
	require.NoError(t, s.QueryRowContext(ctx, `SELECT dingtalk_webhook, dingtalk_secret FROM partners WHERE id = 'acme'`).Scan(&webhook, &secret))
	assert.True(t, strings.HasPrefix(webhook, "sealed:"), "the webhook is sealed: %s", webhook)
	assert.True(t, strings.HasPrefix(secret, "sealed:"), "the secret is sealed: %s", secret)
	assert.NotContains(t, webhook, "partner-robot-access-token")

	p, err := s.GetPartner(ctx, "acme")
	require.NoError(t, err)
	assert.True(t, p.HasDingTalkRobot())
	body, err := json.Marshal(p)
	require.NoError(t, err)
	assert.NotContains(t, string(body), "dingtalk")
	assert.NotContains(t, string(body), "sealed:")

	gotWebhook, gotSecret, err := s.PartnerRobot(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, partnerWebhook, gotWebhook)
	assert.Equal(t, partnerSecret, gotSecret)

	gotWebhook, gotSecret, err = s.PartnerRobot(ctx, "slackonly")
	require.NoError(t, err)
	assert.Empty(t, gotWebhook+gotSecret, "no robot")
	_, _, err = s.PartnerRobot(ctx, "nobody")
	assert.ErrorIs(t, err, db.ErrNotFound)

	// Without the key (or with another) the robot cannot be opened, and the error does not reveal it.
	require.NoError(t, s.SetSecretKey(""))
	_, _, err = s.PartnerRobot(ctx, "acme")
	require.ErrorIs(t, err, db.ErrSecretKey)
	assert.NotContains(t, err.Error(), "partner-robot")
	p, err = s.GetPartner(ctx, "acme")
	require.NoError(t, err, "reading a partner needs no key")
	assert.Equal(t, "Acme", p.Name)
}

// TestUpdatePartner: only the named columns change; a robot given is sealed; an unknown column or partner
// is refused.
func TestUpdatePartner(t *testing.T) {
	ctx := context.Background()
	s := dbtest.MustOpen(t)
	require.NoError(t, s.SetSecretKey(partnerKey))
	require.NoError(t, s.AddPartner(ctx, &db.Partner{ID: "acme", Name: "Acme", Services: []string{"sos"}, Capacity: 2, Active: true, SlackChannel: "#acme"}))

	require.NoError(t, s.UpdatePartner(ctx, &db.Partner{ID: "acme", Name: "ignored", DingTalkWebhook: partnerWebhook, DingTalkSecret: partnerSecret},
		"dingtalk_webhook", "dingtalk_secret"))
	p, err := s.GetPartner(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "Acme", p.Name, "a column not named stays")
	assert.Equal(t, "#acme", p.SlackChannel, "the robot is beside the Slack channel")
	webhook, secret, err := s.OpenPartnerRobot(p)
	require.NoError(t, err)
	assert.Equal(t, partnerWebhook, webhook)
	assert.Equal(t, partnerSecret, secret)

	require.NoError(t, s.UpdatePartner(ctx, &db.Partner{ID: "acme", Capacity: 5, Services: []string{"sos", "dengbao"}, SlackChannel: ""}, "capacity", "services", "slack_channel"))
	p, err = s.GetPartner(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, 5, p.Capacity)
	assert.Equal(t, []string{"sos", "dengbao"}, p.Services)
	assert.Empty(t, p.SlackChannel, "a robot instead of the Slack channel")
	assert.True(t, p.HasDingTalkRobot())

	require.NoError(t, s.UpdatePartner(ctx, &db.Partner{ID: "acme"}, "dingtalk_webhook", "dingtalk_secret"))
	p, err = s.GetPartner(ctx, "acme")
	require.NoError(t, err)
	assert.False(t, p.HasDingTalkRobot(), "the robot is removed")
	var raw sql.NullString
	require.NoError(t, s.QueryRowContext(ctx, `SELECT dingtalk_secret FROM partners WHERE id = 'acme'`).Scan(&raw))
	assert.Empty(t, raw.String)

	assert.ErrorIs(t, s.UpdatePartner(ctx, &db.Partner{ID: "acme"}, "active"), db.ErrInvalid)
	assert.ErrorIs(t, s.UpdatePartner(ctx, &db.Partner{ID: "nobody", Name: "x"}, "name"), db.ErrNotFound)
}
