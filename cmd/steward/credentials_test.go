package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

// TestTokenLifecycleCommands: a token is issued with an expiry (-ttl, 90 days by default), rotated to a
// successor that the old one stays valid beside for -grace, and listed with its state, expiry, last use and
// successor, never its secret.
func TestTokenLifecycleCommands(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "steward.db")
	out, err := steward(t, "migrate", "-database-url", dsn)
	require.NoError(t, err, out)
	out, err = steward(t, "partners", "add", "-database-url", dsn, "-id", "acme", "-name", "Acme", "-services", "sos")
	require.NoError(t, err, out)

	out, err = steward(t, "tokens", "issue", "-database-url", dsn, "-partner", "acme", "-name", "alice", "-ttl", "30d")
	require.NoError(t, err, out)
	id, secret := regexp.MustCompile(`tok_\w+`).FindString(out), regexp.MustCompile(`stw_\S+`).FindString(out)
	require.NotEmpty(t, id, out)
	ctx := context.Background()
	store, err := db.Open(ctx, dsn)
	require.NoError(t, err)
	defer store.Close()
	tok, err := store.GetToken(ctx, id)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(30*24*time.Hour), *tok.ExpiresAt, time.Minute, "-ttl 30d")
	out, err = steward(t, "tokens", "issue", "-database-url", dsn, "-role", "manager", "-name", "bob")
	require.NoError(t, err, out)
	mgr, err := store.GetToken(ctx, regexp.MustCompile(`tok_\w+`).FindString(out))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(90*24*time.Hour), *mgr.ExpiresAt, time.Minute, "90 days by default")
	for _, bad := range [][]string{
		{"tokens", "issue", "-database-url", dsn, "-role", "manager", "-name", "c", "-ttl", "0"},
		{"tokens", "issue", "-database-url", dsn, "-role", "manager", "-name", "c", "-ttl", "soon"},
		{"tokens", "rotate", "-database-url", dsn},
		{"tokens", "rotate", "tok_nope", "-database-url", dsn},
		{"tokens", "rotate", id, "-database-url", dsn, "-grace", "-1h"},
	} {
		_, err := steward(t, bad...)
		assert.Error(t, err, "steward %s", strings.Join(bad, " "))
	}

	_, err = store.RecordTokenUse(ctx, id, "192.0.2.44", time.Now())
	require.NoError(t, err)
	out, err = steward(t, "tokens", "rotate", id, "-database-url", dsn, "-grace", "2h")
	require.NoError(t, err, out)
	next := regexp.MustCompile(`successor (tok_\w+)`).FindStringSubmatch(out)
	require.Len(t, next, 2, out)
	newSecret := regexp.MustCompile(`(?m)^stw_\S+$`).FindString(out)
	require.NotEmpty(t, newSecret, out)
	old, err := store.GetToken(ctx, id)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(2*time.Hour), *old.ExpiresAt, time.Minute, "valid for the grace period")
	_, err = store.Authenticate(ctx, secret)
	assert.NoError(t, err, "the old token during its grace period")
	_, err = store.Authenticate(ctx, newSecret)
	assert.NoError(t, err, "its successor")

	out, err = steward(t, "tokens", "list", "-database-url", dsn)
	require.NoError(t, err, out)
	assert.Contains(t, out, "EXPIRES")
	assert.Contains(t, out, "LAST USED")
	assert.Regexp(t, id+`\s+partner\s+acme\s+alice\s+rotated\s+\S+\s+`+old.ExpiresAt.UTC().Format(time.RFC3339)+`\s+\S+\s+192\.0\.2\.44\s+`+next[1], out)
	assert.Regexp(t, next[1]+`\s+partner\s+acme\s+alice\s+live\s+`, out)
	assert.NotContains(t, out, secret)
	assert.NotContains(t, out, newSecret)

	out, err = steward(t, "tokens", "revoke", next[1], "-database-url", dsn)
	require.NoError(t, err, out)
	out, err = steward(t, "tokens", "list", "-database-url", dsn)
	require.NoError(t, err, out)
	assert.Regexp(t, next[1]+`\s+partner\s+acme\s+alice\s+revoked `, out)
}

// TestMarketplaceSecrets: one secret, or the current and the previous one during a rotation; never a
// leftover single secret that the list does not hold, nor short, equal or too many secrets.
func TestMarketplaceSecrets(t *testing.T) {
	const a, b = "current-secret-0123456789", "previous-secret-0123456789"
	tests := []struct {
		name         string
		single, list string
		want         []string
		wantErr      string
	}{
		{"one secret", a, "", []string{a}, ""},
		{"rotation", "", a + "," + b, []string{a, b}, ""},
		{"rotation, the old single secret left set", b, a + ", " + b, []string{a, b}, ""},
		{"after the rotation, a stale single secret", b, a, nil, "not one of"},
		{"none", "", "", nil, "must be set"},
		{"short", "short", "", nil, "at least 16"},
		{"short in the list", "", a + ",short", nil, "shorter"},
		{"the same twice", "", a + "," + a, nil, "the same"},
		{"three", "", a + "," + b + ",third-secret-0123456789", nil, "at most 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := marketplaceSecrets{single: tt.single, list: tt.list}
			got, err := m.resolve()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), a, "an error never repeats a secret")
				return
			}
			require.NoError(t, err)
			var s []string
			for _, g := range got {
				s = append(s, string(g))
			}
			assert.Equal(t, tt.want, s)
		})
	}
}

// fakeUpdate is a workflow update's outcome.
type fakeUpdate struct{ err error }

func (u fakeUpdate) WorkflowID() string                 { return "" }
func (u fakeUpdate) RunID() string                      { return "" }
func (u fakeUpdate) UpdateID() string                   { return "" }
func (u fakeUpdate) Get(_ context.Context, _ any) error { return u.err }

// TestReofferCases: disabling a partner tells each of its open cases to offer itself again, as a manager
// named by -by; a case already offered elsewhere, or whose workflow is gone, is skipped; one that could
// not be told fails the command, after the others were told.
func TestReofferCases(t *testing.T) {
	c := &mocks.Client{}
	var sent []client.UpdateWorkflowOptions
	c.On("UpdateWorkflow", mock.Anything, mock.Anything).Return(func(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
		sent = append(sent, o)
		switch o.WorkflowID {
		case "sos:2":
			return fakeUpdate{temporal.NewApplicationError("the case is neither held by nor offered to partner acme", workflows.RejectConflict)}, nil
		case "sos:3":
			return nil, serviceerror.NewNotFound("workflow not found")
		case "sos:4":
			return nil, serviceerror.NewUnavailable("temporal restarting")
		}
		return fakeUpdate{}, nil
	})
	cases := []db.Case{{CaseID: "sos:1", WorkflowID: "sos:1"}, {CaseID: "sos:2", WorkflowID: "sos:2"}, {CaseID: "sos:3", WorkflowID: "sos:3"},
		{CaseID: "sos:4", WorkflowID: "sos:4"}}
	var out bytes.Buffer
	err := reofferCases(context.Background(), c, cases, "acme", "li.wei", &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 of 4")
	require.Len(t, sent, 4, "every case is told, whatever became of the others")
	in := sent[0].Args[0].(workflows.StepInput)
	assert.Equal(t, workflows.UpdateReoffer, sent[0].UpdateName)
	assert.Equal(t, workflows.StepInput{Step: workflows.UpdateReoffer, Actor: workflows.ActorManager, ActorName: "li.wei", PartnerID: "acme",
		At: in.At, Payload: in.Payload}, in)
	assert.JSONEq(t, `{"reason":"partner company disabled"}`, string(in.Payload))
	assert.Contains(t, out.String(), "case sos:1 offered again")
	assert.Contains(t, out.String(), "case sos:2 skipped: the case is neither held")
	assert.Contains(t, out.String(), "case sos:3 skipped")
	assert.Contains(t, out.String(), "case sos:4 not offered again")
}

// TestDisablePartnerWithoutCases: a partner without open cases is disabled without Temporal.
func TestDisablePartnerWithoutCases(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "steward.db")
	out, err := steward(t, "migrate", "-database-url", dsn)
	require.NoError(t, err, out)
	out, err = steward(t, "partners", "add", "-database-url", dsn, "-id", "acme", "-name", "Acme", "-services", "sos")
	require.NoError(t, err, out)
	out, err = steward(t, "partners", "disable", "acme", "-database-url", dsn)
	require.NoError(t, err, out)
	assert.Contains(t, out, "partner acme disabled")
	assert.Contains(t, out, "no open case to offer again")
}

// TestWebhookRotateOverlap: a rotated subscription secret keeps signing beside the new one for -overlap (24 h
// by default); -overlap 0 drops it at once.
func TestWebhookRotateOverlap(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "steward.db")
	out, err := steward(t, "migrate", "-database-url", dsn)
	require.NoError(t, err, out)
	out, err = steward(t, "webhooks", "add", "-database-url", dsn, "-url", "https://203.0.113.10/hook", "-events", "*")
	require.NoError(t, err, out)
	id := regexp.MustCompile(`whs_[0-9a-f]+`).FindString(out)
	ctx := context.Background()
	store, err := db.Open(ctx, dsn)
	require.NoError(t, err)
	defer store.Close()
	before, err := store.GetWebhookSubscription(ctx, id)
	require.NoError(t, err)

	out, err = steward(t, "webhooks", "rotate", id, "-database-url", dsn)
	require.NoError(t, err, out)
	assert.Contains(t, out, "two signatures")
	sub, err := store.GetWebhookSubscription(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, before.Secret, sub.PreviousSecret)
	assert.WithinDuration(t, time.Now().Add(24*time.Hour), *sub.PreviousUntil, time.Minute)
	assert.Len(t, sub.SigningSecrets(time.Now()), 2)
	assert.Len(t, sub.SigningSecrets(time.Now().Add(25*time.Hour)), 1)

	out, err = steward(t, "webhooks", "rotate", id, "-database-url", dsn, "-overlap", "0")
	require.NoError(t, err, out)
	sub, err = store.GetWebhookSubscription(ctx, id)
	require.NoError(t, err)
	assert.Len(t, sub.SigningSecrets(time.Now()), 1)
}
