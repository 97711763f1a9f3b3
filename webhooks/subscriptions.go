package webhooks

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

// MinSecretLen is the shortest secret a subscription may be given.
const MinSecretLen = 16

// ParseEvents reads a comma-separated list of event types, each one of workflows.WebhookTypes(), or "*"
// for all of them.
func ParseEvents(s string) (db.EventList, error) {
	known := workflows.WebhookTypes()
	var out db.EventList
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
			continue
		case t == db.AllEvents:
			return db.EventList{db.AllEvents}, nil
		case !slices.Contains(known, t):
			return nil, fmt.Errorf("unknown event type %q (known: %s, or * for all)", t, strings.Join(known, ", "))
		case !slices.Contains(out, t):
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no event type given (a comma-separated list, or * for all)")
	}
	return out, nil
}

// NewSecret is a fresh subscription secret: "whsec_" and 48 hex digits.
func NewSecret() string { return "whsec_" + randomHex(24) }

// NewSubscriptionID is a fresh subscription id: "whs_" and 24 hex digits.
func NewSubscriptionID() string { return "whs_" + randomHex(12) }

// NewSubscription validates a subscription as an operator gives it — the URL (CheckURL), the event types
// (ParseEvents) and the secret, generated when empty — and returns it with a fresh id, created at now.
func NewSubscription(rawURL, events, secret string, allowPrivate bool, now time.Time) (*db.WebhookSubscription, error) {
	if err := CheckURL(rawURL, allowPrivate); err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	evs, err := ParseEvents(events)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	if secret == "" {
		secret = NewSecret()
	}
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("secret: at least %d characters", MinSecretLen)
	}
	return &db.WebhookSubscription{ID: NewSubscriptionID(), URL: rawURL, Events: evs, Secret: secret, AllowPrivate: allowPrivate,
		CreatedAt: now.UTC()}, nil
}

// TestEvent is a webhook.test event (not stored, no case) for `steward webhooks test`: an envelope like
// every other, with a fresh id and sequence 0.
func TestEvent(now time.Time) *db.WebhookEvent {
	now = now.UTC().Truncate(time.Second)
	id := "evt_test_" + randomHex(12)
	body, _ := json.Marshal(db.Envelope{ID: id, Type: workflows.WebhookTest, CreatedAt: now,
		Data: map[string]string{"message": "a test event sent by steward webhooks test"}})
	return &db.WebhookEvent{ID: id, Key: id, Type: workflows.WebhookTest, CreatedAt: now, Payload: body}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
