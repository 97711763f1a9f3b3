package db_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

func tokenStore(t *testing.T) *db.Store {
	t.Helper()
	s := dbtest.MustOpen(t)
	require.NoError(t, s.AddPartner(ctxT(t), &db.Partner{ID: "acme", Name: "Acme", Services: []string{"sos"}, Capacity: 2, Active: true}))
	return s
}

// refusal is the reason AuthenticateAt gave for refusing a known token, nil when it did not.
func refusal(t *testing.T, err error) error {
	t.Helper()
	var r *db.TokenRefusal
	if !errors.As(err, &r) {
		return nil
	}
	assert.ErrorIs(t, err, db.ErrNotFound, "a refusal is a not-found to callers that only ask that")
	return r.Reason
}

// TestTokenExpiry: a token authenticates until its expiry, then is refused as expired; every token gets one.
func TestTokenExpiry(t *testing.T) {
	s, ctx := tokenStore(t), ctxT(t)
	secret, tok, err := s.IssueTokenTTL(ctx, db.RolePartner, "acme", "alice", time.Hour)
	require.NoError(t, err)
	require.NotNil(t, tok.ExpiresAt)
	exp := *tok.ExpiresAt
	_, err = s.AuthenticateAt(ctx, secret, exp.Add(-time.Second))
	require.NoError(t, err, "a second before its expiry")
	_, err = s.AuthenticateAt(ctx, secret, exp)
	assert.Equal(t, db.ErrTokenExpired, refusal(t, err), "at its expiry: %v", err)

	_, def, err := s.IssueToken(ctx, db.RoleManager, "", "mgr")
	require.NoError(t, err)
	require.NotNil(t, def.ExpiresAt)
	assert.WithinDuration(t, time.Now().Add(db.DefaultTokenTTL), *def.ExpiresAt, time.Minute, "the default validity is 90 days")
	_, _, err = s.IssueTokenTTL(ctx, db.RoleManager, "", "forever", 0)
	assert.ErrorIs(t, err, db.ErrInvalid, "no token without an expiry")

	// The dev stack's fixed tokens expire too, and are renewed each time they are issued again.
	fixed, err := s.IssueTokenWithSecret(ctx, db.RoleManager, "", "demo", "stw_dev_fixed_0123456789")
	require.NoError(t, err)
	require.NotNil(t, fixed.ExpiresAt)
	again, err := s.IssueTokenWithSecret(ctx, db.RoleManager, "", "demo", "stw_dev_fixed_0123456789")
	require.NoError(t, err)
	assert.Equal(t, fixed.ID, again.ID)
	assert.False(t, again.ExpiresAt.Before(*fixed.ExpiresAt))
}

// TestTokenRevokedAndPartnerDisabled: each refusal says why, on the very next call.
func TestTokenRevokedAndPartnerDisabled(t *testing.T) {
	s, ctx := tokenStore(t), ctxT(t)
	now := time.Now()
	secret, tok, err := s.IssueToken(ctx, db.RolePartner, "acme", "alice")
	require.NoError(t, err)
	require.NoError(t, s.SetPartnerActive(ctx, "acme", false))
	_, err = s.AuthenticateAt(ctx, secret, now)
	assert.Equal(t, db.ErrPartnerDisabled, refusal(t, err))
	require.NoError(t, s.SetPartnerActive(ctx, "acme", true))
	_, err = s.AuthenticateAt(ctx, secret, now)
	require.NoError(t, err, "enabled again")
	require.NoError(t, s.RevokeToken(ctx, tok.ID))
	_, err = s.AuthenticateAt(ctx, secret, now)
	assert.Equal(t, db.ErrTokenRevoked, refusal(t, err))
	_, err = s.AuthenticateAt(ctx, "stw_never_issued", now)
	assert.ErrorIs(t, err, db.ErrNotFound)
	assert.Nil(t, refusal(t, err), "an unknown secret is no refusal of a token")
}

// TestRotateToken: the successor authenticates at once; the old token for the grace period only (never
// past its own expiry), then is refused as expired naming its successor; a token is rotated once.
func TestRotateToken(t *testing.T) {
	s, ctx := tokenStore(t), ctxT(t)
	now := time.Now().UTC().Truncate(time.Second)
	oldSecret, old, err := s.IssueToken(ctx, db.RolePartner, "acme", "alice")
	require.NoError(t, err)
	newSecret, next, err := s.RotateToken(ctx, old.ID, 24*time.Hour, 30*24*time.Hour, now)
	require.NoError(t, err)
	assert.NotEqual(t, oldSecret, newSecret)
	assert.Equal(t, "alice", next.Name)
	assert.Equal(t, "acme", next.PartnerID)
	assert.WithinDuration(t, now.Add(30*24*time.Hour), *next.ExpiresAt, time.Second)

	for _, at := range []time.Time{now, now.Add(24*time.Hour - time.Second)} {
		_, err = s.AuthenticateAt(ctx, oldSecret, at)
		assert.NoError(t, err, "the old token within its grace period, at %v", at)
		_, err = s.AuthenticateAt(ctx, newSecret, at)
		assert.NoError(t, err, "the successor, at %v", at)
	}
	_, err = s.AuthenticateAt(ctx, oldSecret, now.Add(24*time.Hour))
	assert.Equal(t, db.ErrTokenExpired, refusal(t, err), "the grace period is over")
	var r *db.TokenRefusal
	require.ErrorAs(t, err, &r)
	assert.Equal(t, next.ID, r.Token.ReplacedBy)
	_, err = s.AuthenticateAt(ctx, newSecret, now.Add(24*time.Hour))
	assert.NoError(t, err)

	_, _, err = s.RotateToken(ctx, old.ID, time.Hour, time.Hour, now)
	assert.ErrorIs(t, err, db.ErrConflict, "rotated already: rotate the successor")
	_, _, err = s.RotateToken(ctx, "tok_nope", time.Hour, time.Hour, now)
	assert.ErrorIs(t, err, db.ErrNotFound)
	_, _, err = s.RotateToken(ctx, next.ID, -time.Hour, time.Hour, now)
	assert.ErrorIs(t, err, db.ErrInvalid)

	// A grace period never outlives the token; a revoked token is not rotated.
	short, shortTok, err := s.IssueTokenTTL(ctx, db.RoleManager, "", "mgr", time.Hour)
	require.NoError(t, err)
	_, _, err = s.RotateToken(ctx, shortTok.ID, 48*time.Hour, time.Hour, time.Now())
	require.NoError(t, err)
	_, err = s.AuthenticateAt(ctx, short, shortTok.ExpiresAt.Add(time.Second))
	assert.Equal(t, db.ErrTokenExpired, refusal(t, err))
	_, rev, err := s.IssueToken(ctx, db.RoleManager, "", "leaver")
	require.NoError(t, err)
	require.NoError(t, s.RevokeToken(ctx, rev.ID))
	_, _, err = s.RotateToken(ctx, rev.ID, time.Hour, time.Hour, time.Now())
	assert.ErrorIs(t, err, db.ErrConflict)

	// Grace zero: the old token stops now.
	z, zt, err := s.IssueToken(ctx, db.RoleManager, "", "now")
	require.NoError(t, err)
	_, _, err = s.RotateToken(ctx, zt.ID, 0, time.Hour, now)
	require.NoError(t, err)
	_, err = s.AuthenticateAt(ctx, z, now)
	assert.Equal(t, db.ErrTokenExpired, refusal(t, err))
}

// TestRecordTokenUse: a token's last use and client address are written at most once a minute, whoever
// asks.
func TestRecordTokenUse(t *testing.T) {
	s, ctx := tokenStore(t), ctxT(t)
	_, tok, err := s.IssueToken(ctx, db.RoleManager, "", "mgr")
	require.NoError(t, err)
	at := time.Now().UTC().Truncate(time.Second)
	assert.True(t, db.TokenUseDue(tok, at), "never used")
	wrote, err := s.RecordTokenUse(ctx, tok.ID, "192.0.2.7", at)
	require.NoError(t, err)
	assert.True(t, wrote)
	wrote, err = s.RecordTokenUse(ctx, tok.ID, "198.51.100.1", at.Add(59*time.Second))
	require.NoError(t, err)
	assert.False(t, wrote, "within the minute: a second API process writes nothing either")
	got, err := s.GetToken(ctx, tok.ID)
	require.NoError(t, err)
	assert.Equal(t, "192.0.2.7", got.LastUsedFrom)
	assert.True(t, at.Equal(*got.LastUsedAt))
	assert.False(t, db.TokenUseDue(got, at.Add(59*time.Second)))
	assert.True(t, db.TokenUseDue(got, at.Add(time.Minute)))
	wrote, err = s.RecordTokenUse(ctx, tok.ID, "198.51.100.1", at.Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, wrote, "a minute later")
	got, err = s.GetToken(ctx, tok.ID)
	require.NoError(t, err)
	assert.Equal(t, "198.51.100.1", got.LastUsedFrom)
}

// TestPartnerOpenCases: the open cases a partner holds or is offered, which disabling it offers again.
func TestPartnerOpenCases(t *testing.T) {
	s, ctx := tokenStore(t), ctxT(t)
	for i, c := range []db.Case{
		{CaseID: "sos:1", Status: db.CaseOpen, PartnerID: "acme"},
		{CaseID: "sos:2", Status: db.CaseClosed, PartnerID: "acme"},
		{CaseID: "sos:3", Status: db.CaseOpen, PartnerID: "other"},
		{CaseID: "sos:4", Status: db.CaseOpen, PartnerID: "acme", Stage: "assignment"},
	} {
		c.WorkflowID, c.Service, c.OpenedAt = c.CaseID, "sos", t0.Add(time.Duration(i)*time.Minute)
		c.UpdatedAt = c.OpenedAt
		require.NoError(t, s.UpsertCase(ctx, &c))
	}
	cs, err := s.PartnerOpenCases(ctx, "acme")
	require.NoError(t, err)
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.CaseID)
	}
	assert.Equal(t, []string{"sos:1", "sos:4"}, ids)
}
