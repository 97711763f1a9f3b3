// Package db stores what people query, audit and bill — orders, partners, API tokens, the case
// projection, the timeline, refunds, reports and the notification outbox — through bun, on
// PostgreSQL (pgx) in production and on SQLite (pure-Go modernc driver) in development.
//
// Every write that a Temporal activity makes is idempotent by a key the workflow passes in, so a
// retried activity never doubles a row. Times are stored and returned in UTC.
package db

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound is returned, wrapped, when a row that a call needs does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned, wrapped, when a write clashes with a different row already stored
// under the same key (an order id with another body, a partner id taken, a reused workflow id).
var ErrConflict = errors.New("conflict")

// ErrInvalid is returned, wrapped, when a call's input cannot be stored as given (a missing
// idempotency key, an unknown role or status).
var ErrInvalid = errors.New("invalid")

// SQLiteBusyTimeout is how long a SQLite connection waits for another writer before failing.
const SQLiteBusyTimeout = 5 * time.Second

// sqliteMaxOpenConns bounds the SQLite pool: WAL lets readers run beside the single writer, and a
// few connections keep a transaction plus a concurrent read from deadlocking the pool, while
// writers queue on busy_timeout instead of failing.
const sqliteMaxOpenConns = 4

// Store is the application database. It embeds *bun.DB so callers can build queries that the
// methods below do not cover.
type Store struct {
	*bun.DB
	// aead seals secrets at rest (SetSecretKey); nil stores them as given.
	aead cipher.AEAD
}

// Open connects to the database named by dsn without migrating it.
//
// A dsn starting with "postgres://" or "postgresql://" opens PostgreSQL through pgx (any libpq
// parameter, search_path included, may be given in the query string). Anything else is a SQLite
// database: "sqlite:PATH", "file:PATH" or a plain PATH, opened with journal_mode=WAL,
// synchronous=NORMAL, a busy timeout, foreign keys on and immediate write transactions; the
// parent directory is created. ":memory:" gives a private in-memory database (one connection).
func Open(ctx context.Context, dsn string) (*Store, error) {
	var (
		bdb *bun.DB
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		bdb, err = openPostgres(dsn)
	default:
		bdb, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	s := &Store{DB: bdb}
	if err := s.Ping(ctx); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	return s, nil
}

func openPostgres(dsn string) (*bun.DB, error) {
	sqldb, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sqldb.SetMaxOpenConns(20)
	sqldb.SetMaxIdleConns(10)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

func openSQLite(dsn string) (*bun.DB, error) {
	path, query := sqlitePath(dsn)
	if path == "" {
		return nil, fmt.Errorf("open sqlite: empty path")
	}
	memory := path == ":memory:"
	if !memory {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("open sqlite: create dir: %w", err)
			}
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: parse options: %w", err)
	}
	// busy_timeout first, so that switching to WAL waits for a concurrent opener.
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", SQLiteBusyTimeout.Milliseconds()))
	if !memory {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	if q.Get("_txlock") == "" {
		// Take the write lock at BEGIN: a deferred transaction that upgrades to a writer fails
		// at once with SQLITE_BUSY instead of waiting for busy_timeout.
		q.Set("_txlock", "immediate")
	}
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if memory {
		// Every connection to :memory: is a different database.
		sqldb.SetMaxOpenConns(1)
	} else {
		sqldb.SetMaxOpenConns(sqliteMaxOpenConns)
	}
	sqldb.SetMaxIdleConns(sqliteMaxOpenConns)
	sqldb.SetConnMaxLifetime(0)
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

// sqlitePath splits a SQLite dsn into its file path and its query string.
func sqlitePath(dsn string) (path, query string) {
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		dsn = strings.TrimPrefix(dsn, "sqlite://")
	case strings.HasPrefix(dsn, "sqlite:"):
		dsn = strings.TrimPrefix(dsn, "sqlite:")
	case strings.HasPrefix(dsn, "file:"):
		dsn = strings.TrimPrefix(dsn, "file:")
	}
	path, query, _ = strings.Cut(dsn, "?")
	return path, query
}

// Ping checks that the database answers; the API's readiness probe calls it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.DB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	if err := s.DB.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// IsPostgres reports whether the store runs on PostgreSQL (otherwise SQLite).
func (s *Store) IsPostgres() bool {
	return s.DB.Dialect().Name() == dialect.PG
}

// isUniqueViolation reports whether err is a unique or primary-key constraint violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		code := liteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// notFound turns sql.ErrNoRows into ErrNotFound with context, and wraps any other error.
func notFound(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", msg, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// utc returns t in UTC, or now when t is zero.
func utcOrNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}
