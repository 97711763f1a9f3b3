package reliability

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/signing"
	"github.com/steward-oss/steward/webhooks"
)

// TestWebhookReceiver: the battery's receiver accepts what the dispatcher sends (its signature, headers
// and body), counts an id accepted again as a retry, refuses a bad signature with 401 and counts it, and its
// failures and hangs are never acceptances.
func TestWebhookReceiver(t *testing.T) {
	r := NewWebhookReceiver(0, 0, 10*time.Second)
	t.Cleanup(r.Close)
	r.SetSecret(webhookSecret)
	var accepted []string
	done := make(chan struct{}, 4)
	r.OnAccepted = func(a WebhookArrival) { accepted = append(accepted, a.ID); done <- struct{}{} }

	body := []byte(`{"id":"evt_0123456789abcdef01234567","type":"case.opened","created_at":"2026-12-01T02:00:00Z","case_id":"sos:ORD-1",` +
		`"order_id":"ORD-1","customer_id":"c-1","service":"sos","sequence":1,"data":{"event":"case_opened"}}`)
	ev := &db.WebhookEvent{ID: "evt_0123456789abcdef01234567", Type: "case.opened", CaseID: "sos:ORD-1", Sequence: 1, Payload: body}
	sub := &db.WebhookSubscription{ID: "whs_battery", URL: r.URL(), Secret: webhookSecret, AllowPrivate: true}
	d := &webhooks.Dispatcher{Timeout: time.Second}
	ctx := t.Context()
	for range 2 {
		status, err := d.Send(ctx, sub, ev)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNoContent, status)
	}
	<-done
	s := r.Stats()
	assert.Equal(t, 2, s.Deliveries)
	assert.Equal(t, 1, s.Retries)
	assert.Zero(t, s.BadSig)
	require.Len(t, s.Arrivals, 1)
	assert.Equal(t, body, s.Arrivals[0].Body)
	assert.Equal(t, int64(1), s.Arrivals[0].Sequence)
	assert.Equal(t, []string{ev.ID}, accepted, "OnAccepted runs once per event")

	// Signed with another secret: 401, counted, not accepted.
	status, err := d.Send(ctx, &db.WebhookSubscription{ID: "whs_other", URL: r.URL(), Secret: "another-secret-0123456789", AllowPrivate: true}, ev)
	require.Error(t, err)
	assert.Equal(t, http.StatusUnauthorized, status)
	// A body changed after signing: 401 too.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.URL(), bytes.NewReader(append([]byte(" "), body...)))
	now := time.Now()
	req.Header.Set(signing.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(signing.HeaderSignature, signing.V2([]byte(webhookSecret), now, http.MethodPost, r.Path, body))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, 2, r.Stats().BadSig)

	// Failing and hanging: never accepted; a hang lasts until the sender's timeout cuts it.
	r.SetFaults(1, 0)
	status, err = d.Send(ctx, sub, ev)
	require.Error(t, err)
	assert.Equal(t, http.StatusInternalServerError, status)
	r.SetFaults(0, 1)
	t0 := time.Now()
	_, err = d.Send(context.WithoutCancel(ctx), sub, ev)
	require.Error(t, err, "a hang is a timeout")
	assert.Less(t, time.Since(t0), 5*time.Second, "the hang ends when the dispatcher gives up (timeout 1 s)")
	s = r.Stats()
	assert.Equal(t, 1, s.Served500)
	assert.Equal(t, 1, s.Hung)
	assert.Equal(t, 2, s.Deliveries, "failures and hangs are not acceptances")
}
