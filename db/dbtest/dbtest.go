// Package dbtest opens migrated, isolated databases for tests: PostgreSQL when TEST_DATABASE_URL
// is set (a fresh schema per call), SQLite in a temporary directory otherwise.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-oss/steward/db"
)

// EnvURL names the environment variable with the PostgreSQL URL tests run against.
const EnvURL = "TEST_DATABASE_URL"

// MustOpen returns a migrated store private to the test, closed (and, on PostgreSQL, its schema
// dropped) at Cleanup. It fails the test when the database cannot be opened.
func MustOpen(tb testing.TB) *db.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var s *db.Store
	if base := os.Getenv(EnvURL); base != "" {
		s = openPostgres(ctx, tb, base)
	} else {
		var err error
		s, err = db.Open(ctx, "sqlite:"+filepath.Join(tb.TempDir(), "steward.db"))
		if err != nil {
			tb.Fatalf("dbtest: open sqlite: %v", err)
		}
		tb.Cleanup(func() { _ = s.Close() })
	}
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("dbtest: migrate: %v", err)
	}
	return s
}

func openPostgres(ctx context.Context, tb testing.TB, base string) *db.Store {
	tb.Helper()
	dsn, schema := SchemaURL(ctx, tb, base, "test_")
	s, err := db.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("dbtest: open schema %s: %v", schema, err)
	}
	// Cleanups run last-in first-out: the test's store closes before its schema is dropped.
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// SchemaURL creates a fresh schema (named prefix + random hex) on the PostgreSQL database at base, drops it
// at Cleanup, and returns base with search_path set to it, for a test's own connections or processes.
func SchemaURL(ctx context.Context, tb testing.TB, base, prefix string) (dsn, schema string) {
	tb.Helper()
	admin, err := db.Open(ctx, base)
	if err != nil {
		tb.Fatalf("dbtest: open %s: %v", EnvURL, err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema = prefix + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		tb.Fatalf("dbtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("dbtest: drop schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("dbtest: parse %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}
