package api

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/signing"
	"github.com/steward-oss/steward/workflows"
)

// TestRedeliver: a manager sends a failed delivery again: 202, pending, due now, the same event; unknown
// ids are 404, a disabled subscription's delivery 409, and only managers may.
func TestRedeliver(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	caseID := f.seedCase(t, "RD1", "cust-1", "sos", "p1", "CNY", 100, f.now)
	for _, id := range []string{"whs_a", "whs_b"} {
		require.NoError(t, f.store.AddWebhookSubscription(ctx, &db.WebhookSubscription{ID: id, URL: "https://hooks.example/" + id, Events: db.EventList{db.AllEvents}, Secret: "s"}))
	}
	require.NoError(t, f.store.AppendOutbox(ctx, f.store.DB, caseID, db.OutboxEvent{Key: caseID + "/x", Type: "case.opened", CreatedAt: f.now, Data: map[string]string{}}))
	eventID := db.WebhookEventID(caseID + "/x")
	id := db.WebhookDeliveryID(eventID, "whs_a")
	first, err := f.store.FailDelivery(ctx, id, 500, "server error", f.now)
	require.NoError(t, err)
	require.True(t, first)

	path := "/v1/webhooks/deliveries/" + id + "/redeliver"
	for name, tt := range map[string]struct {
		h      map[string]string
		status int
	}{
		"none":        {nil, 401},
		"partner":     {f.bearer(f.partner), 403},
		"marketplace": {f.signedFor(http.MethodPost, path, f.now, nil), 401},
	} {
		rec, _ := f.call(t, http.MethodPost, path, nil, tt.h)
		assert.Equal(t, tt.status, rec.Code, "%s: %s", name, rec.Body)
	}

	f.now = f.now.Add(time.Hour)
	rec, _ := f.call(t, http.MethodPost, path, nil, f.bearer(f.manager))
	require.Equal(t, http.StatusAccepted, rec.Code, "%s", rec.Body)
	d := decodeAs[db.WebhookDelivery](t, rec.Body.Bytes())
	assert.Equal(t, id, d.ID)
	assert.Equal(t, eventID, d.EventID, "the same event, so the same id for the receiver")
	assert.Equal(t, db.DeliveryPending, d.State)
	assert.Equal(t, 0, d.Attempts)
	assert.WithinDuration(t, f.now, d.NextAttemptAt, time.Second)
	assert.Nil(t, d.FailedAt)

	for _, bad := range []string{"whd_0123456789abcdef01234567", "whd_x", "whs_a", "WHD_0123456789ABCDEF01234567"} {
		rec, p := f.call(t, http.MethodPost, "/v1/webhooks/deliveries/"+bad+"/redeliver", nil, f.bearer(f.manager))
		assert.Equal(t, http.StatusNotFound, rec.Code, "%s: %s", bad, rec.Body)
		assert.Equal(t, CodeNotFound, p.Code)
	}

	require.NoError(t, f.store.DisableWebhookSubscription(ctx, "whs_b", f.now))
	rec, p := f.call(t, http.MethodPost, "/v1/webhooks/deliveries/"+db.WebhookDeliveryID(eventID, "whs_b")+"/redeliver", nil, f.bearer(f.manager))
	assert.Equal(t, http.StatusConflict, rec.Code, "%s", rec.Body)
	assert.Contains(t, p.Detail, "disabled")
}

// TestOpenAPIWebhooks: the webhooks section describes the delivery as sent: every type a subscription may
// ask for, the envelope's fields and the headers.
func TestOpenAPIWebhooks(t *testing.T) {
	var doc struct {
		Webhooks map[string]struct {
			Post struct {
				Parameters []struct {
					Name     string `yaml:"name"`
					In       string `yaml:"in"`
					Required bool   `yaml:"required"`
				} `yaml:"parameters"`
				RequestBody struct {
					Content map[string]struct {
						Example map[string]any `yaml:"example"`
					} `yaml:"content"`
				} `yaml:"requestBody"`
				Responses map[string]any `yaml:"responses"`
			} `yaml:"post"`
		} `yaml:"webhooks"`
		Components struct {
			Schemas map[string]struct {
				Required   []string       `yaml:"required"`
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(openapiYAML, &doc))
	hook, ok := doc.Webhooks["event"]
	require.True(t, ok, "a webhooks section with the event delivery")
	var headers []string
	for _, p := range hook.Post.Parameters {
		if p.In == "header" && p.Required {
			headers = append(headers, p.Name)
		}
	}
	assert.ElementsMatch(t, []string{"X-Steward-Event-Id", "X-Steward-Event-Type", signing.HeaderTimestamp, signing.HeaderSignature}, headers)
	assert.Contains(t, hook.Post.Responses, "2XX")

	env := doc.Components.Schemas["WebhookEvent"]
	var fields []string
	rt := reflect.TypeOf(db.Envelope{})
	for i := range rt.NumField() {
		fields = append(fields, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
	}
	assert.ElementsMatch(t, fields, env.Required, "the envelope's fields, all required")
	typ, _ := env.Properties["type"].(map[string]any)
	var enum []string
	for _, v := range typ["enum"].([]any) {
		enum = append(enum, v.(string))
	}
	want := workflows.WebhookTypes()
	slices.Sort(want)
	slices.Sort(enum)
	assert.Equal(t, want, enum, "the type enum is workflows.WebhookTypes()")

	// The example is an envelope of a known type.
	ex := hook.Post.RequestBody.Content["application/json"].Example
	for _, f := range fields {
		assert.Contains(t, ex, f, "the example's %s", f)
	}
	assert.Contains(t, want, ex["type"])
}
