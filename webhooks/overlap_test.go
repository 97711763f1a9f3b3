package webhooks_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/signing"
)

// TestRotateWithOverlap: a secret rotated with an overlap signs beside the new one until the overlap ends —
// the delivery carries both signatures, the current secret's first, so a receiver holding either accepts
// it — and from then on the new secret signs alone. Without an overlap the old one stops at once.
func TestRotateWithOverlap(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 2 {
			w.WriteHeader(http.StatusInternalServerError) // so the delivery is attempted again, later
		}
	})
	subscribe(t, s, "whs_a", rc.URL, true)
	ids := record(t, s, "sos:1", 1, t0)
	d := newDispatcher(s, c)

	const rotated = "whsec_rotated_fedcba9876543210"
	require.NoError(t, s.RotateWebhookSecretOverlap(ctxT(t), "whs_a", rotated, t0, t0.Add(24*time.Hour)))
	sub, err := s.GetWebhookSubscription(ctxT(t), "whs_a")
	require.NoError(t, err)
	assert.Equal(t, secret, sub.PreviousSecret)
	deliverDue(t, d) // within the overlap
	c.Set(t0.Add(24*time.Hour - time.Second))
	require.NoError(t, s.RetryDelivery(ctxT(t), db.WebhookDeliveryID(ids[0], "whs_a"), 500, "HTTP 500", c.Now()))
	deliverDue(t, d) // its last second
	c.Set(t0.Add(24 * time.Hour))
	require.NoError(t, s.RetryDelivery(ctxT(t), db.WebhookDeliveryID(ids[0], "whs_a"), 500, "HTTP 500", c.Now()))
	deliverDue(t, d) // over
	assert.Equal(t, db.DeliveryDelivered, delivery(t, s, ids[0], "whs_a").State)

	reqs := rc.requests()
	require.Len(t, reqs, 3)
	verify := func(r request, key string) error {
		sent, err := strconv.ParseInt(r.Header.Get(signing.HeaderTimestamp), 10, 64)
		require.NoError(t, err)
		_, err = signing.Verify([]byte(key), time.Unix(sent, 0), r.Header.Get(signing.HeaderTimestamp), r.Header.Get(signing.HeaderSignature), http.MethodPost, r.URI, r.Body)
		return err
	}
	for i, r := range reqs[:2] {
		sigs := strings.Split(r.Header.Get(signing.HeaderSignature), ",")
		require.Len(t, sigs, 2, "attempt %d within the overlap carries both signatures", i+1)
		assert.NoError(t, verify(r, rotated), "attempt %d: the new secret verifies", i+1)
		assert.NoError(t, verify(r, secret), "attempt %d: the old one too", i+1)
	}
	assert.NotContains(t, reqs[2].Header.Get(signing.HeaderSignature), ",", "after the overlap: one signature")
	assert.NoError(t, verify(reqs[2], rotated))
	assert.Error(t, verify(reqs[2], secret), "the old secret signs no more")

	// A rotation without an overlap drops the old secret at once, and the one kept from before.
	require.NoError(t, s.RotateWebhookSecretOverlap(ctxT(t), "whs_a", "whsec_third_0123456789abcdef", c.Now(), c.Now()))
	sub, err = s.GetWebhookSubscription(ctxT(t), "whs_a")
	require.NoError(t, err)
	assert.Len(t, sub.SigningSecrets(c.Now()), 1)
	assert.Empty(t, sub.PreviousSecret)
}
