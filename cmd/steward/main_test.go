package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
)

func steward(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

// TestAdminCommands: migrate, partners and tokens against a SQLite database, as an operator runs them.
func TestAdminCommands(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "steward.db")
	out, err := steward(t, "migrate", "-database-url", dsn)
	require.NoError(t, err, out)
	_, err = steward(t, "migrate", "-database-url", dsn)
	require.NoError(t, err, "migrate is idempotent")

	out, err = steward(t, "partners", "add", "-database-url", dsn, "-id", "acme", "-name", "Acme Security", "-services", "sos,dengbao", "-onsite", "-capacity", "4", "-slack-channel", "#acme")
	require.NoError(t, err, out)
	for _, bad := range [][]string{
		{"partners", "add", "-database-url", dsn, "-id", "acme", "-name", "again", "-services", "sos"}, // exists
		{"partners", "add", "-database-url", dsn, "-id", "x", "-name", "X", "-services", "spa"},        // unknown service
		{"partners", "add", "-database-url", dsn, "-id", "y", "-name", "Y", "-services", ""},           // no service
		{"partners", "add", "-database-url", dsn, "-id", "z", "-name", "Z", "-services", "sos", "-capacity", "0"},
		{"partners", "fire", "-database-url", dsn},
		{"partners", "disable", "-database-url", dsn, "-id", "nobody"},
		{"tokens", "issue", "-database-url", dsn, "-role", "partner", "-name", "alice"}, // no partner
		{"tokens", "issue", "-database-url", dsn, "-role", "root", "-name", "alice"},
		{"tokens", "issue", "-database-url", dsn, "-role", "manager", "-partner", "acme", "-name", "bob"}, // manager with partner
		{"partners", "list"}, // no database
		{"nonsense"},
	} {
		_, err := steward(t, bad...)
		assert.Error(t, err, "steward %s", strings.Join(bad, " "))
	}
	out, err = steward(t, "partners", "list", "-database-url", dsn)
	require.NoError(t, err)
	assert.Regexp(t, `acme\s+Acme Security\s+sos,dengbao\s+true\s+4\s+#acme\s+true`, out)

	out, err = steward(t, "tokens", "issue", "-database-url", dsn, "-role", "partner", "-partner", "acme", "-name", "alice")
	require.NoError(t, err, out)
	secret := regexp.MustCompile(`stw_\S+`).FindString(out)
	id := regexp.MustCompile(`tok_\S+`).FindString(out)
	require.NotEmpty(t, secret, out)
	require.NotEmpty(t, id, out)

	store, err := db.Open(context.Background(), dsn)
	require.NoError(t, err)
	defer store.Close()
	tok, err := store.Authenticate(context.Background(), secret)
	require.NoError(t, err)
	assert.Equal(t, "acme", tok.PartnerID)

	out, err = steward(t, "tokens", "list", "-database-url", dsn)
	require.NoError(t, err)
	assert.Contains(t, out, id)
	assert.NotContains(t, out, secret, "a token's secret is shown once, at issue")

	_, err = steward(t, "partners", "disable", "-database-url", dsn, "-id", "acme")
	require.NoError(t, err)
	_, err = store.Authenticate(context.Background(), secret)
	assert.ErrorIs(t, err, db.ErrNotFound, "a disabled partner's tokens stop working")
	_, err = steward(t, "partners", "enable", "-database-url", dsn, "-id", "acme")
	require.NoError(t, err)
	_, err = steward(t, "tokens", "revoke", "-database-url", dsn, "-id", id)
	require.NoError(t, err)
	_, err = store.Authenticate(context.Background(), secret)
	assert.ErrorIs(t, err, db.ErrNotFound, "a revoked token stops working")
}
