package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/signing"
	"github.com/steward-oss/steward/webhooks"
)

// TestWebhooksCommands: `steward webhooks` against a SQLite database, as an operator runs it.
func TestWebhooksCommands(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "steward.db")
	out, err := steward(t, "migrate", "-database-url", dsn)
	require.NoError(t, err, out)
	var fail atomic.Bool
	var gotSig atomic.Value
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotSig.Store(r.Header.Get(signing.HeaderSignature))
		if fail.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer rc.Close()

	for _, bad := range [][]string{
		{"webhooks", "add", "-database-url", dsn, "-url", rc.URL, "-events", "*"},                                    // loopback
		{"webhooks", "add", "-database-url", dsn, "-url", rc.URL, "-events", "sla_breached", "-allow-private"},       // unknown type
		{"webhooks", "add", "-database-url", dsn, "-url", "ftp://example.com", "-events", "*"},                       // scheme
		{"webhooks", "add", "-database-url", dsn, "-url", rc.URL, "-events", "*", "-allow-private", "-secret", "ab"}, // short
		{"webhooks", "add", "-database-url", dsn, "-events", "*"},
		{"webhooks", "disable", "-database-url", dsn},
		{"webhooks", "deliveries", "-database-url", dsn, "-state", "lost"},
		{"webhooks", "redeliver", "whd_nope", "-database-url", dsn},
		{"webhooks", "fire", "-database-url", dsn},
	} {
		out, err := steward(t, bad...)
		assert.Error(t, err, "%v: %s", bad, out)
	}
	out, err = steward(t, "webhooks", "add", "-database-url", dsn, "-url", rc.URL+"/in", "-events", "sla.breached,refund.owed", "-allow-private")
	require.NoError(t, err, out)
	m := regexp.MustCompile(`subscription (whs_[0-9a-f]+) added: .* gets sla.breached,refund.owed\.\n.*\n(whsec_[0-9a-f]+)\n`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	id, secret := m[1], m[2]

	out, err = steward(t, "webhooks", "list", "-database-url", dsn)
	require.NoError(t, err, out)
	assert.Contains(t, out, id)
	assert.Contains(t, out, "enabled")
	assert.NotContains(t, out, secret)

	out, err = steward(t, "webhooks", "test", id, "-database-url", dsn)
	require.NoError(t, err, out)
	assert.Regexp(t, id+`: event evt_test_[0-9a-f]+ delivered: HTTP 200`, out)
	fail.Store(true)
	out, err = steward(t, "webhooks", "test", id, "-database-url", dsn)
	require.Error(t, err)
	assert.Contains(t, out, "not delivered")
	assert.Contains(t, out, "HTTP 502")
	fail.Store(false)

	out, err = steward(t, "webhooks", "rotate", id, "-database-url", dsn)
	require.NoError(t, err, out)
	rotated := regexp.MustCompile(`(?m)^whsec_[0-9a-f]+$`).FindString(out)
	require.NotEmpty(t, rotated, out)
	assert.NotEqual(t, secret, rotated)
	_, err = steward(t, "webhooks", "test", id, "-database-url", dsn)
	require.NoError(t, err)
	assert.Contains(t, gotSig.Load(), "v2=")

	// A delivery to list and redeliver.
	ctx := context.Background()
	store, err := db.Open(ctx, dsn)
	require.NoError(t, err)
	defer store.Close()
	now := time.Now().UTC()
	require.NoError(t, store.RecordCase(ctx, &db.Case{CaseID: "sos:1", WorkflowID: "wf-1", Service: "sos", OrderID: "o-1", OpenedAt: now, UpdatedAt: now}, nil, nil,
		[]db.OutboxEvent{{Key: "k1", Type: "sla.breached", CreatedAt: now, Data: map[string]string{}}}))
	did := db.WebhookDeliveryID(db.WebhookEventID("k1"), id)
	_, err = store.FailDelivery(ctx, did, 503, "HTTP 503", now)
	require.NoError(t, err)
	out, err = steward(t, "webhooks", "deliveries", "-database-url", dsn, "-state", "failed")
	require.NoError(t, err, out)
	assert.Regexp(t, did+`\s+evt_\w+\s+sla.breached\s+sos:1\s+1\s+`+id+`\s+failed\s+0\s+HTTP 503`, out)
	out, err = steward(t, "webhooks", "redeliver", did, "-database-url", dsn)
	require.NoError(t, err, out)
	assert.Contains(t, out, "pending again")
	d, err := store.GetDelivery(ctx, did)
	require.NoError(t, err)
	assert.Equal(t, db.DeliveryPending, d.State)

	out, err = steward(t, "webhooks", "disable", id, "-database-url", dsn)
	require.NoError(t, err, out)
	out, err = steward(t, "webhooks", "list", "-database-url", dsn)
	require.NoError(t, err, out)
	assert.Contains(t, out, "disabled")
}

// TestDevWebhook: `steward dev --webhook-url` subscribes the URL once, across restarts, with the secret
// kept in the credentials.
func TestDevWebhook(t *testing.T) {
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "steward.db"))
	require.NoError(t, err)
	defer store.Close()
	require.NoError(t, store.Migrate(ctx))
	logger := newLogger(&strings.Builder{}, "error")

	creds := &DevCredentials{}
	id, err := devWebhook(ctx, store, creds, "http://127.0.0.1:9999/hooks", logger)
	require.NoError(t, err)
	require.NotEmpty(t, creds.WebhookSecret)
	sub, err := store.GetWebhookSubscription(ctx, id)
	require.NoError(t, err)
	assert.True(t, sub.AllowPrivate)
	assert.Equal(t, db.EventList{"*"}, sub.Events)
	assert.Equal(t, creds.WebhookSecret, sub.Secret)

	// A restart: the same subscription, the same secret; without the credentials file it is adopted.
	again := &DevCredentials{WebhookSecret: creds.WebhookSecret}
	id2, err := devWebhook(ctx, store, again, "http://127.0.0.1:9999/hooks", logger)
	require.NoError(t, err)
	assert.Equal(t, id, id2)
	lost := &DevCredentials{}
	_, err = devWebhook(ctx, store, lost, "http://127.0.0.1:9999/hooks", logger)
	require.NoError(t, err)
	assert.Equal(t, creds.WebhookSecret, lost.WebhookSecret)
	subs, err := store.ListWebhookSubscriptions(ctx)
	require.NoError(t, err)
	assert.Len(t, subs, 1)

	_, err = devWebhook(ctx, store, creds, "ftp://x", logger)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(webhooks.NewSecret(), "whsec_"))
}
