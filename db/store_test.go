package db_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

var t0 = time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestOpenSQLiteDSNs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		dsn  string
		file string
	}{
		{"sqlite prefix", "sqlite:" + filepath.Join(dir, "a", "x.db"), filepath.Join(dir, "a", "x.db")},
		{"file prefix", "file:" + filepath.Join(dir, "b", "y.db"), filepath.Join(dir, "b", "y.db")},
		{"plain path", filepath.Join(dir, "c", "d", "z.db"), filepath.Join(dir, "c", "d", "z.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			s, err := db.Open(ctx, tt.dsn)
			require.NoError(t, err)
			defer s.Close()
			require.NoError(t, s.Migrate(ctx))
			require.NoError(t, s.Ping(ctx))
			assert.FileExists(t, tt.file)
			assert.False(t, s.IsPostgres())

			var mode string
			require.NoError(t, s.NewRaw("PRAGMA journal_mode").Scan(ctx, &mode))
			assert.Equal(t, "wal", strings.ToLower(mode))
			var fk, busy, sync int
			require.NoError(t, s.NewRaw("PRAGMA foreign_keys").Scan(ctx, &fk))
			require.NoError(t, s.NewRaw("PRAGMA busy_timeout").Scan(ctx, &busy))
			require.NoError(t, s.NewRaw("PRAGMA synchronous").Scan(ctx, &sync))
			assert.Equal(t, 1, fk, "foreign_keys")
			assert.Equal(t, int(db.SQLiteBusyTimeout.Milliseconds()), busy, "busy_timeout")
			assert.Equal(t, 1, sync, "synchronous=NORMAL")
		})
	}
}

func TestOpenMemory(t *testing.T) {
	ctx := ctxT(t)
	s, err := db.Open(ctx, "sqlite::memory:")
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.AddPartner(ctx, &db.Partner{ID: "p1"}))
	_, err = s.GetPartner(ctx, "p1")
	require.NoError(t, err)
}

func TestMigrateTwice(t *testing.T) {
	s := dbtest.MustOpen(t) // migrated once already
	ctx := ctxT(t)
	assert.Equal(t, os.Getenv(dbtest.EnvURL) != "", s.IsPostgres(), "dialect follows %s", dbtest.EnvURL)
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.Migrate(ctx))

	// Concurrent starts (worker and API) migrate at the same time.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- s.Migrate(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, s.NewRaw("SELECT count(*) FROM steward_migrations").Scan(ctx, &n))
	assert.Equal(t, db.MigrationCount, n, "each applied migration recorded once")
}

func testOrder(id string) *db.Order {
	return &db.Order{
		OrderID: id, CustomerID: "cust-1", Service: "sos", Spec: "handling", Quantity: 1,
		AmountCents: 1_200_000, Currency: "CNY", PaidAt: t0.In(time.FixedZone("CST", 8*3600)),
		Contact:  db.Contact{Name: "Li Lei", Phone: "+86 138 0000 0000", Email: "li@example.com"},
		BodyHash: "hash-1",
	}
}

func TestPutOrder(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)

	o := testOrder("o-1")
	stored, created, err := s.PutOrder(ctx, o)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, "o-1", stored.OrderID)

	tests := []struct {
		name        string
		order       *db.Order
		wantCreated bool
		wantErr     error
	}{
		{"same body again", testOrder("o-1"), false, nil},
		{"different body", func() *db.Order { o := testOrder("o-1"); o.BodyHash = "hash-2"; return o }(), false, db.ErrConflict},
		{"another order", testOrder("o-2"), true, nil},
		{"empty id", testOrder(""), false, db.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, created, err := s.PutOrder(ctx, tt.order)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantCreated, created)
			assert.Equal(t, tt.order.OrderID, got.OrderID)
			assert.Equal(t, tt.order.BodyHash, got.BodyHash)
		})
	}

	got, err := s.GetOrder(ctx, "o-1")
	require.NoError(t, err)
	assert.Equal(t, db.Contact{Name: "Li Lei", Phone: "+86 138 0000 0000", Email: "li@example.com"}, got.Contact)
	assert.True(t, got.PaidAt.Equal(t0), "PaidAt = %v; want %v", got.PaidAt, t0)
	assert.Equal(t, time.UTC, got.PaidAt.Location())
	assert.Equal(t, time.UTC, got.CreatedAt.Location())
	assert.Equal(t, int64(1_200_000), got.AmountCents)

	_, err = s.GetOrder(ctx, "nope")
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestPutOrderConcurrent(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		errs    []error
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			_, c, err := s.PutOrder(ctx, testOrder("race"))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if c {
				created++
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, errs)
	assert.Equal(t, 1, created, "exactly one PutOrder creates")
	var rows int
	require.NoError(t, s.NewRaw("SELECT count(*) FROM orders WHERE order_id = 'race'").Scan(ctx, &rows))
	assert.Equal(t, 1, rows)
}

// TestPutOrderAndCase: a purchase's order and case row are written together, a repeated callback
// changes neither, a conflicting body writes nothing, and a case row that cannot be written leaves no order.
func TestPutOrderAndCase(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	caseRow := func(id string) *db.Case {
		return &db.Case{CaseID: "sos-" + id, WorkflowID: "sos-" + id, Service: "sos", Spec: "handling", Stage: "assignment",
			Status: db.CaseOpen, CustomerID: "cust-1", OrderID: id, AmountCents: 1_200_000, SLAStatus: "on_track"}
	}

	stored, created, err := s.PutOrderAndCase(ctx, testOrder("o-1"), caseRow("o-1"))
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, "o-1", stored.OrderID)
	c, err := s.GetCase(ctx, "sos-o-1")
	require.NoError(t, err)
	assert.Equal(t, "assignment", c.Stage)

	// The workflow moves the case on; the marketplace's retry of the callback leaves both rows alone.
	moved := caseRow("o-1")
	moved.Stage, moved.Revision = "confirmation", 1
	require.NoError(t, s.UpsertCase(ctx, moved))
	stored, created, err = s.PutOrderAndCase(ctx, testOrder("o-1"), caseRow("o-1"))
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, "hash-1", stored.BodyHash)
	c, err = s.GetCase(ctx, "sos-o-1")
	require.NoError(t, err)
	assert.Equal(t, "confirmation", c.Stage, "a repeated callback rolled the case back")

	other := testOrder("o-1")
	other.BodyHash = "hash-2"
	stored, _, err = s.PutOrderAndCase(ctx, other, caseRow("o-1"))
	require.ErrorIs(t, err, db.ErrConflict)
	assert.Equal(t, "hash-1", stored.BodyHash, "the stored order comes back with the conflict")

	// Both or neither: a case row the store refuses takes its order with it.
	bad := caseRow("o-2")
	bad.CaseID = ""
	_, _, err = s.PutOrderAndCase(ctx, testOrder("o-2"), bad)
	require.ErrorIs(t, err, db.ErrInvalid)
	_, err = s.GetOrder(ctx, "o-2")
	require.ErrorIs(t, err, db.ErrNotFound, "the order was written without its case")
}

func TestSetOrderCase(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	_, _, err := s.PutOrder(ctx, testOrder("o-1"))
	require.NoError(t, err)

	tests := []struct {
		name              string
		order, caseID, wf string
		wantErr           error
	}{
		{"link", "o-1", "c-1", "sos:o-1", nil},
		{"same again", "o-1", "c-1", "sos:o-1", nil},
		{"another case", "o-1", "c-2", "sos:o-2", db.ErrConflict},
		{"unknown order", "nope", "c-1", "sos:nope", db.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SetOrderCase(ctx, tt.order, tt.caseID, tt.wf)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
	o, err := s.GetOrder(ctx, "o-1")
	require.NoError(t, err)
	assert.Equal(t, "c-1", o.CaseID)
	assert.Equal(t, "sos:o-1", o.WorkflowID)
}

func TestPartners(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)

	tests := []struct {
		name    string
		p       db.Partner
		wantErr error
	}{
		{"first", db.Partner{ID: "p-b", Name: "Beta Sec", Services: []string{"sos", "dengbao"}, Onsite: true, Capacity: 3, SlackChannel: "#beta", Active: true}, nil},
		{"second", db.Partner{ID: "p-a", Name: "Alpha Sec", Capacity: 1, Active: true}, nil},
		{"duplicate", db.Partner{ID: "p-a", Name: "Other"}, db.ErrConflict},
		{"empty id", db.Partner{Name: "x"}, db.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.AddPartner(ctx, &tt.p)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}

	p, err := s.GetPartner(ctx, "p-b")
	require.NoError(t, err)
	assert.Equal(t, []string{"sos", "dengbao"}, p.Services)
	assert.True(t, p.HasService("dengbao"))
	assert.False(t, p.HasService("butler"))
	assert.True(t, p.Onsite)
	assert.Equal(t, 3, p.Capacity)
	assert.Equal(t, "#beta", p.SlackChannel)
	assert.True(t, p.Active)

	ps, err := s.ListPartners(ctx)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	assert.Equal(t, "p-a", ps[0].ID)
	assert.Equal(t, []string{}, ps[0].Services)
	assert.Equal(t, "p-b", ps[1].ID)

	require.NoError(t, s.SetPartnerActive(ctx, "p-b", false))
	p, err = s.GetPartner(ctx, "p-b")
	require.NoError(t, err)
	assert.False(t, p.Active)
	require.ErrorIs(t, s.SetPartnerActive(ctx, "nope", true), db.ErrNotFound)
	_, err = s.GetPartner(ctx, "nope")
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestTokens(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	require.NoError(t, s.AddPartner(ctx, &db.Partner{ID: "p1", Active: true}))
	require.NoError(t, s.AddPartner(ctx, &db.Partner{ID: "p-off", Active: false}))

	t.Run("issue", func(t *testing.T) {
		tests := []struct {
			name      string
			role      db.Role
			partnerID string
			wantErr   error
		}{
			{"manager", db.RoleManager, "", nil},
			{"partner", db.RolePartner, "p1", nil},
			{"unknown partner", db.RolePartner, "nope", db.ErrNotFound},
			{"disabled partner", db.RolePartner, "p-off", db.ErrNotFound},
			{"manager with partner", db.RoleManager, "p1", db.ErrInvalid},
			{"unknown role", db.Role("admin"), "", db.ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				secret, tok, err := s.IssueToken(ctx, tt.role, tt.partnerID, tt.name)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
					return
				}
				require.NoError(t, err)
				assert.True(t, strings.HasPrefix(secret, "stw_"), secret)
				assert.Len(t, secret, len("stw_")+43)
				assert.True(t, strings.HasPrefix(tok.ID, "tok_"), tok.ID)
				assert.Equal(t, db.HashSecret(secret), tok.Hash)

				got, err := s.Authenticate(ctx, secret)
				require.NoError(t, err)
				assert.Equal(t, tok.ID, got.ID)
				assert.Equal(t, tt.role, got.Role)
				assert.Equal(t, tt.partnerID, got.PartnerID)
				assert.Nil(t, got.RevokedAt)
			})
		}
	})

	t.Run("secret never stored", func(t *testing.T) {
		secret, _, err := s.IssueToken(ctx, db.RoleManager, "", "ops")
		require.NoError(t, err)
		rows, err := s.QueryContext(ctx, "SELECT * FROM tokens")
		require.NoError(t, err)
		defer rows.Close()
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for i, v := range vals {
				str := fmt.Sprint(v)
				if b, ok := v.([]byte); ok {
					str = string(b)
				}
				assert.NotContains(t, str, secret, "column %s holds the secret", cols[i])
				assert.NotContains(t, str, strings.TrimPrefix(secret, "stw_"), "column %s holds the secret", cols[i])
			}
		}
		require.NoError(t, rows.Err())
	})

	t.Run("revoked and disabled rejected", func(t *testing.T) {
		mgr, mtok, err := s.IssueToken(ctx, db.RoleManager, "", "to revoke")
		require.NoError(t, err)
		require.NoError(t, s.RevokeToken(ctx, mtok.ID))
		require.NoError(t, s.RevokeToken(ctx, mtok.ID), "revoking twice")
		require.ErrorIs(t, s.RevokeToken(ctx, "tok_nope"), db.ErrNotFound)

		require.NoError(t, s.AddPartner(ctx, &db.Partner{ID: "p2", Active: true}))
		ptn, _, err := s.IssueToken(ctx, db.RolePartner, "p2", "engineer")
		require.NoError(t, err)
		_, err = s.Authenticate(ctx, ptn)
		require.NoError(t, err)
		require.NoError(t, s.SetPartnerActive(ctx, "p2", false))

		tests := []struct{ name, secret string }{
			{"revoked", mgr},
			{"disabled partner", ptn},
			{"unknown", "stw_unknown"},
			{"empty", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.Authenticate(ctx, tt.secret)
				require.ErrorIs(t, err, db.ErrNotFound)
			})
		}

		require.NoError(t, s.SetPartnerActive(ctx, "p2", true))
		_, err = s.Authenticate(ctx, ptn)
		require.NoError(t, err, "re-enabled partner's token works again")
	})

	t.Run("with secret is idempotent", func(t *testing.T) {
		const secret = "stw_demo_manager_secret_0001"
		a, err := s.IssueTokenWithSecret(ctx, db.RoleManager, "", "demo manager", secret)
		require.NoError(t, err)
		b, err := s.IssueTokenWithSecret(ctx, db.RoleManager, "", "demo manager", secret)
		require.NoError(t, err)
		assert.Equal(t, a.ID, b.ID)
		got, err := s.Authenticate(ctx, secret)
		require.NoError(t, err)
		assert.Equal(t, a.ID, got.ID)

		_, err = s.IssueTokenWithSecret(ctx, db.RolePartner, "p1", "other", secret)
		require.ErrorIs(t, err, db.ErrConflict)
		_, err = s.IssueTokenWithSecret(ctx, db.RoleManager, "", "short", "stw_short")
		require.ErrorIs(t, err, db.ErrInvalid)
	})

	toks, err := s.ListTokens(ctx)
	require.NoError(t, err)
	assert.Len(t, toks, 6) // manager, partner, ops, revoked, p2 engineer, demo
	var revoked int
	for _, tk := range toks {
		if tk.RevokedAt != nil {
			revoked++
			assert.Equal(t, time.UTC, tk.RevokedAt.Location())
		}
	}
	assert.Equal(t, 1, revoked)
}

func testCase(id string, opened time.Time) *db.Case {
	return &db.Case{
		CaseID: id, WorkflowID: "sos:" + id, Service: "sos", Spec: "handling", Stage: "assignment",
		CustomerID: "cust-1", OrderID: id, AmountCents: 100_00, SLAStatus: "on_track", OpenedAt: opened,
	}
}

func TestUpsertCase(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)

	c := testCase("c-1", t0)
	require.NoError(t, s.UpsertCase(ctx, c))
	got, err := s.GetCase(ctx, "c-1")
	require.NoError(t, err)
	assert.Equal(t, db.CaseOpen, got.Status)
	assert.Equal(t, "assignment", got.Stage)
	assert.Nil(t, got.NextDeadline)
	assert.Nil(t, got.ClosedAt)
	assert.True(t, got.OpenedAt.Equal(t0))

	deadline := t0.Add(2 * time.Hour)
	closed := t0.Add(48 * time.Hour)
	upd := testCase("c-1", t0.Add(time.Hour)) // a later OpenedAt must not move the case
	upd.Stage, upd.Status, upd.PartnerID, upd.SLAStatus = "closed", db.CaseClosed, "p1", "breached"
	upd.RefundPercent, upd.NextDeadline, upd.ClosedAt = 10, &deadline, &closed
	upd.UpdatedAt = closed
	require.NoError(t, s.UpsertCase(ctx, upd))

	got, err = s.GetCase(ctx, "c-1")
	require.NoError(t, err)
	assert.Equal(t, "closed", got.Stage)
	assert.Equal(t, db.CaseClosed, got.Status)
	assert.Equal(t, "p1", got.PartnerID)
	assert.Equal(t, "breached", got.SLAStatus)
	assert.Equal(t, 10, got.RefundPercent)
	require.NotNil(t, got.NextDeadline)
	assert.True(t, got.NextDeadline.Equal(deadline))
	require.NotNil(t, got.ClosedAt)
	assert.True(t, got.ClosedAt.Equal(closed))
	assert.True(t, got.OpenedAt.Equal(t0), "OpenedAt = %v; want %v", got.OpenedAt, t0)
	assert.True(t, got.UpdatedAt.Equal(closed))

	byWF, err := s.GetCaseByWorkflowID(ctx, "sos:c-1")
	require.NoError(t, err)
	assert.Equal(t, "c-1", byWF.CaseID)

	tests := []struct {
		name    string
		c       *db.Case
		wantErr error
	}{
		{"workflow id of another case", &db.Case{CaseID: "c-2", WorkflowID: "sos:c-1"}, db.ErrConflict},
		{"bad status", &db.Case{CaseID: "c-3", WorkflowID: "sos:c-3", Status: "paused"}, db.ErrInvalid},
		{"no workflow id", &db.Case{CaseID: "c-4"}, db.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, s.UpsertCase(ctx, tt.c), tt.wantErr)
		})
	}
	_, err = s.GetCase(ctx, "c-2")
	require.ErrorIs(t, err, db.ErrNotFound)
	_, err = s.GetCaseByWorkflowID(ctx, "nope")
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestListCases(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	seed := []struct {
		id, service, stage, partner, sla, status string
	}{
		{"c1", "sos", "assignment", "", "on_track", "open"},
		{"c2", "sos", "containment", "p1", "at_risk", "open"},
		{"c3", "dengbao", "kickoff", "p1", "breached", "open"},
		{"c4", "sos", "closed", "p2", "breached", "closed"},
		{"c5", "butler", "active", "p2", "on_track", "open"},
	}
	for i, c := range seed {
		require.NoError(t, s.UpsertCase(ctx, &db.Case{
			CaseID: c.id, WorkflowID: "wf-" + c.id, Service: c.service, Stage: c.stage, PartnerID: c.partner,
			SLAStatus: c.sla, Status: c.status, OpenedAt: t0.Add(time.Duration(i) * time.Minute),
		}))
	}
	tests := []struct {
		name   string
		filter db.CaseFilter
		want   []string
	}{
		{"all newest first", db.CaseFilter{}, []string{"c5", "c4", "c3", "c2", "c1"}},
		{"service", db.CaseFilter{Service: "sos"}, []string{"c4", "c2", "c1"}},
		{"stage", db.CaseFilter{Stage: "containment"}, []string{"c2"}},
		{"partner", db.CaseFilter{PartnerID: "p1"}, []string{"c3", "c2"}},
		{"sla", db.CaseFilter{SLAStatus: "breached"}, []string{"c4", "c3"}},
		{"status", db.CaseFilter{Status: "closed"}, []string{"c4"}},
		{"combined", db.CaseFilter{Service: "sos", SLAStatus: "breached", PartnerID: "p2"}, []string{"c4"}},
		{"no match", db.CaseFilter{Service: "training"}, []string{}},
		{"limit", db.CaseFilter{Limit: 2}, []string{"c5", "c4"}},
		{"offset", db.CaseFilter{Limit: 2, Offset: 2}, []string{"c3", "c2"}},
		{"negative offset", db.CaseFilter{Limit: 1, Offset: -5}, []string{"c5"}},
		{"limit above max", db.CaseFilter{Limit: 10_000}, []string{"c5", "c4", "c3", "c2", "c1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := s.ListCases(ctx, tt.filter)
			require.NoError(t, err)
			got := []string{}
			for _, c := range cs {
				got = append(got, c.CaseID)
			}
			assert.Equal(t, tt.want, got, "ListCases(%+v)", tt.filter)
		})
	}
}

func TestListCasesLimitDefaults(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	err := s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for i := range db.MaxCaseLimit + 5 {
			c := &db.Case{CaseID: fmt.Sprintf("c%04d", i), WorkflowID: fmt.Sprintf("wf%04d", i), OpenedAt: t0, UpdatedAt: t0, Status: "open"}
			if _, err := tx.NewInsert().Model(c).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	tests := []struct {
		limit, want int
	}{
		{0, db.DefaultCaseLimit},
		{-1, db.DefaultCaseLimit},
		{7, 7},
		{db.MaxCaseLimit + 1, db.MaxCaseLimit},
	}
	for _, tt := range tests {
		cs, err := s.ListCases(ctx, db.CaseFilter{Limit: tt.limit})
		require.NoError(t, err)
		assert.Len(t, cs, tt.want, "ListCases(Limit: %d)", tt.limit)
	}
}

func TestEvents(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	tests := []struct {
		name        string
		e           db.CaseEvent
		wantCreated bool
		wantErr     error
	}{
		{"first", db.CaseEvent{Key: "sos:o1/accept", CaseID: "c1", At: t0.Add(time.Minute), Actor: "partner:p1", Event: "accepted"}, true, nil},
		{"retry", db.CaseEvent{Key: "sos:o1/accept", CaseID: "c1", At: t0.Add(time.Minute), Actor: "partner:p1", Event: "accepted"}, false, nil},
		{"earlier event later", db.CaseEvent{Key: "sos:o1/open", CaseID: "c1", At: t0, Actor: "system", Event: "opened"}, true, nil},
		{"same time", db.CaseEvent{Key: "sos:o1/contact", CaseID: "c1", At: t0.Add(time.Minute), Actor: "partner:p1", Event: "contacted"}, true, nil},
		{"other case", db.CaseEvent{Key: "sos:o2/open", CaseID: "c2", At: t0, Event: "opened"}, true, nil},
		{"no key", db.CaseEvent{CaseID: "c1", Event: "x"}, false, db.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.e
			created, err := s.AppendEvent(ctx, &e)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantCreated, created)
			if created {
				assert.NotZero(t, e.ID)
			}
		})
	}
	es, err := s.ListEvents(ctx, "c1")
	require.NoError(t, err)
	var got []string
	for _, e := range es {
		got = append(got, e.Event)
		assert.Equal(t, time.UTC, e.At.Location())
	}
	assert.Equal(t, []string{"opened", "accepted", "contacted"}, got)
	empty, err := s.ListEvents(ctx, "none")
	require.NoError(t, err)
	assert.Empty(t, empty)
}

func TestRefunds(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	tests := []struct {
		name        string
		r           db.Refund
		wantCreated bool
		wantErr     error
	}{
		{"first", db.Refund{Key: "c1/response", CaseID: "c1", Clause: "response", Percent: 10, AmountCents: 1000, Reason: "late", CreatedAt: t0}, true, nil},
		{"retry", db.Refund{Key: "c1/response", CaseID: "c1", Clause: "response", Percent: 10, AmountCents: 1000, Reason: "late", CreatedAt: t0}, false, nil},
		{"retry with other amount keeps the first", db.Refund{Key: "c1/response", CaseID: "c1", Percent: 50, AmountCents: 5000}, false, nil},
		{"second clause", db.Refund{Key: "c1/report", CaseID: "c1", Clause: "report", Percent: 20, AmountCents: 2000, CreatedAt: t0.Add(time.Hour)}, true, nil},
		{"no key", db.Refund{CaseID: "c1"}, false, db.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			created, err := s.RecordRefund(ctx, &r)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantCreated, created)
		})
	}
	rs, err := s.ListRefunds(ctx, "c1")
	require.NoError(t, err)
	require.Len(t, rs, 2)
	assert.Equal(t, "response", rs[0].Clause)
	assert.Equal(t, 10, rs[0].Percent)
	assert.Equal(t, int64(1000), rs[0].AmountCents)
	assert.Equal(t, "report", rs[1].Clause)
}

func TestReports(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	tests := []struct {
		name        string
		r           db.Report
		wantCreated bool
		wantErr     error
	}{
		{"v1 html", db.Report{CaseID: "c1", Format: db.FormatHTML, Version: 1, Title: "Report", Content: "<h1>v1</h1>"}, true, nil},
		{"v1 html retry", db.Report{CaseID: "c1", Format: db.FormatHTML, Version: 1, Title: "Report", Content: "<h1>v1</h1>"}, false, nil},
		{"v1 html retry, explicit kind", db.Report{CaseID: "c1", Kind: db.KindIncidentReport, Format: db.FormatHTML, Version: 1, Content: "<h1>other</h1>"}, false, nil},
		{"v1 markdown", db.Report{CaseID: "c1", Format: db.FormatMarkdown, Version: 1, Content: "# v1"}, true, nil},
		{"v2 html", db.Report{CaseID: "c1", Format: db.FormatHTML, Version: 2, Content: "<h1>v2</h1>"}, true, nil},
		{"proposal v1 html", db.Report{CaseID: "c1", Kind: db.KindRectificationProposal, Format: db.FormatHTML, Version: 1, Content: "<h1>proposal</h1>"}, true, nil},
		{"proposal v1 html retry", db.Report{CaseID: "c1", Kind: db.KindRectificationProposal, Format: db.FormatHTML, Version: 1, Content: "<h1>drifted</h1>"}, false, nil},
		{"service v1 html", db.Report{CaseID: "c1", Kind: db.KindServiceReport, Format: db.FormatHTML, Version: 1, Content: "<h1>service</h1>"}, true, nil},
		{"service v3 markdown", db.Report{CaseID: "c1", Kind: db.KindServiceReport, Format: db.FormatMarkdown, Version: 3, Content: "# service v3"}, true, nil},
		{"version 0", db.Report{CaseID: "c1", Format: db.FormatHTML}, false, db.ErrInvalid},
		{"bad format", db.Report{CaseID: "c1", Format: "pdf", Version: 1}, false, db.ErrInvalid},
		{"bad kind", db.Report{CaseID: "c1", Kind: "invoice", Format: db.FormatHTML, Version: 1}, false, db.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			created, err := s.PutReport(ctx, &r)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantCreated, created)
		})
	}
	latest := []struct {
		kind, format, want string
		version            int
		wantErr            error
	}{
		{"", db.FormatHTML, "<h1>v2</h1>", 2, nil},
		{db.KindIncidentReport, db.FormatHTML, "<h1>v2</h1>", 2, nil},
		{"", db.FormatMarkdown, "# v1", 1, nil},
		{db.KindRectificationProposal, db.FormatHTML, "<h1>proposal</h1>", 1, nil},
		{db.KindRectificationProposal, db.FormatMarkdown, "", 0, db.ErrNotFound},
		{db.KindServiceReport, db.FormatHTML, "<h1>service</h1>", 1, nil},
		{db.KindServiceReport, db.FormatMarkdown, "# service v3", 3, nil},
		{"invoice", db.FormatHTML, "", 0, db.ErrNotFound},
		{"", "pdf", "", 0, db.ErrNotFound},
	}
	for _, tt := range latest {
		r, err := s.LatestReport(ctx, "c1", tt.kind, tt.format)
		if tt.wantErr != nil {
			require.ErrorIs(t, err, tt.wantErr, "LatestReport(c1, %q, %s)", tt.kind, tt.format)
			continue
		}
		require.NoError(t, err, "LatestReport(c1, %q, %s)", tt.kind, tt.format)
		assert.Equal(t, tt.want, r.Content, "LatestReport(c1, %q, %s)", tt.kind, tt.format)
		assert.Equal(t, tt.version, r.Version, "LatestReport(c1, %q, %s)", tt.kind, tt.format)
		wantKind := tt.kind
		if wantKind == "" {
			wantKind = db.KindIncidentReport
		}
		assert.Equal(t, wantKind, r.Kind, "LatestReport(c1, %q, %s)", tt.kind, tt.format)
	}
	_, err := s.LatestReport(ctx, "none", "", db.FormatHTML)
	require.ErrorIs(t, err, db.ErrNotFound)
	n, err := s.NewSelect().Model((*db.Report)(nil)).Where("case_id = ?", "c1").Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 6, n, "retries stored nothing")
}

func TestNotifications(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)

	n := &db.Notification{Key: "sos:o1/breach", CaseID: "c1", Channel: "#ops", Text: "SLA breached"}
	stored, created, err := s.RecordNotification(ctx, n)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, db.NotificationPending, stored.Status)

	again, created, err := s.RecordNotification(ctx, &db.Notification{Key: "sos:o1/breach", CaseID: "c1", Text: "changed"})
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, "SLA breached", again.Text)

	_, _, err = s.RecordNotification(ctx, &db.Notification{})
	require.ErrorIs(t, err, db.ErrInvalid)

	require.NoError(t, s.MarkNotificationRetry(ctx, n.Key, "rate limited"))
	require.NoError(t, s.MarkNotificationRetry(ctx, n.Key, "timeout"))
	got, err := s.GetNotification(ctx, n.Key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationPending, got.Status, "a failed attempt to retry leaves it pending")
	assert.Equal(t, 2, got.Attempts)
	assert.Equal(t, "timeout", got.LastError)
	assert.False(t, got.Undeliverable())

	pending, err := s.ListNotifications(ctx, db.NotificationPending, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)

	sentAt := t0.Add(time.Minute)
	require.NoError(t, s.MarkNotificationSent(ctx, n.Key, sentAt))
	got, err = s.GetNotification(ctx, n.Key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationSent, got.Status)
	require.NotNil(t, got.SentAt)
	assert.True(t, got.SentAt.Equal(sentAt))
	assert.Empty(t, got.LastError)

	// A late failure report from a retried attempt does not undo "sent", nor does giving it up.
	require.NoError(t, s.MarkNotificationRetry(ctx, n.Key, "late"))
	gaveUp, err := s.MarkNotificationUndeliverable(ctx, n.Key, "slack channel_not_found", t0)
	require.NoError(t, err)
	assert.False(t, gaveUp)
	got, err = s.GetNotification(ctx, n.Key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationSent, got.Status)
	assert.Nil(t, got.FailedAt)
	assert.Equal(t, 3, got.Attempts)

	// Recording again after sending returns the sent row, so the caller skips the send.
	again, created, err = s.RecordNotification(ctx, n)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, db.NotificationSent, again.Status)

	tests := []struct {
		name string
		fn   func() error
	}{
		{"sent unknown", func() error { return s.MarkNotificationSent(ctx, "nope", t0) }},
		{"retry unknown", func() error { return s.MarkNotificationRetry(ctx, "nope", "x") }},
		{"undeliverable unknown", func() error { _, err := s.MarkNotificationUndeliverable(ctx, "nope", "x", t0); return err }},
		{"get unknown", func() error { _, err := s.GetNotification(ctx, "nope"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.fn(), db.ErrNotFound)
		})
	}
}

// TestNotificationUndeliverable: a notification given up is failed with when and why, once: the first call
// reports that it gave it up (so its caller tells operations), a repeat does not, and nothing undoes it.
func TestNotificationUndeliverable(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	key := "sos:o1/offer/p1"
	_, _, err := s.RecordNotification(ctx, &db.Notification{Key: key, CaseID: "c1", Channel: "#p1", Text: "offer"})
	require.NoError(t, err)
	require.NoError(t, s.MarkNotificationRetry(ctx, key, "slack server error: 500"))

	gaveUp, err := s.MarkNotificationUndeliverable(ctx, key, "#p1 (slack channel_not_found)", t0)
	require.NoError(t, err)
	assert.True(t, gaveUp)
	gaveUp, err = s.MarkNotificationUndeliverable(ctx, key, "#p1 (slack is_archived)", t0.Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, gaveUp, "given up once")
	require.NoError(t, s.MarkNotificationRetry(ctx, key, "late"))

	got, err := s.GetNotification(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, db.NotificationFailed, got.Status)
	assert.True(t, got.Undeliverable())
	require.NotNil(t, got.FailedAt)
	assert.True(t, got.FailedAt.Equal(t0), "FailedAt = %v; want %v", got.FailedAt, t0)
	assert.Equal(t, "#p1 (slack channel_not_found)", got.FailureReason, "the first reason stays")
	failed, err := s.ListNotifications(ctx, db.NotificationFailed, 0)
	require.NoError(t, err)
	require.Len(t, failed, 1)

	again, created, err := s.RecordNotification(ctx, &db.Notification{Key: key, CaseID: "c1"})
	require.NoError(t, err)
	assert.False(t, created)
	assert.True(t, again.Undeliverable(), "recording again returns the failed row, so the caller does not send")
}

// TestChannelDeliveries walks one channel through its states: a refusal to retry is sent again without a
// look-up, a channel given up is never begun again, and a sent one stays sent.
func TestChannelDeliveries(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	const key = "sos:o1/breach/response"

	prev, err := s.BeginChannelDelivery(ctx, key, "#p1", t0)
	require.NoError(t, err)
	assert.Empty(t, prev)
	require.NoError(t, s.EndChannelDelivery(ctx, key, "#p1", db.ChannelRefused, t0))
	prev, err = s.BeginChannelDelivery(ctx, key, "#p1", t0)
	require.NoError(t, err)
	assert.Equal(t, db.ChannelRefused, prev)
	prev, err = s.BeginChannelDelivery(ctx, key, "#p1", t0)
	require.NoError(t, err)
	assert.Equal(t, db.ChannelSending, prev, "an attempt cut short")
	require.NoError(t, s.FailChannelDelivery(ctx, key, "#p1", "slack channel_not_found", t0))
	require.NoError(t, s.FailChannelDelivery(ctx, key, "#p1", "slack is_archived", t0.Add(time.Minute)))
	for range 2 {
		prev, err = s.BeginChannelDelivery(ctx, key, "#p1", t0)
		require.NoError(t, err)
		assert.Equal(t, db.ChannelFailed, prev, "given up: not begun again")
	}
	require.NoError(t, s.EndChannelDelivery(ctx, key, "#p1", db.ChannelRefused, t0))

	_, err = s.BeginChannelDelivery(ctx, key, "#ops", t0)
	require.NoError(t, err)
	require.NoError(t, s.EndChannelDelivery(ctx, key, "#ops", db.ChannelSent, t0))
	require.NoError(t, s.FailChannelDelivery(ctx, key, "#ops", "late", t0))
	require.ErrorIs(t, s.EndChannelDelivery(ctx, key, "#ops", db.ChannelFailed, t0), db.ErrInvalid, "giving up takes a reason")

	rows, err := s.ListChannelDeliveries(ctx, key)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, "#ops", rows[0].Channel)
	assert.Equal(t, db.ChannelSent, rows[0].Status, "a sent channel stays sent")
	assert.Nil(t, rows[0].FailedAt)
	assert.Equal(t, "#p1", rows[1].Channel)
	assert.Equal(t, db.ChannelFailed, rows[1].Status)
	require.NotNil(t, rows[1].FailedAt)
	assert.True(t, rows[1].FailedAt.Equal(t0))
	assert.Equal(t, "slack channel_not_found", rows[1].FailureReason, "the first reason stays")
	assert.Equal(t, 3, rows[1].Attempts, "a channel given up is not attempted")
}

// openMigratedBefore opens a database of its own (PostgreSQL when TEST_DATABASE_URL is set, else SQLite) with
// the migrations before the named one applied: the schema an earlier release left.
func openMigratedBefore(t *testing.T, migration string) *db.Store {
	t.Helper()
	ctx := ctxT(t)
	var s *db.Store
	var err error
	if base := os.Getenv(dbtest.EnvURL); base != "" {
		dsn, _ := dbtest.SchemaURL(ctx, t, base, "test_")
		s, err = db.Open(ctx, dsn)
	} else {
		s, err = db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "old.db"))
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.MigrateBefore(ctx, migration))
	return s
}

// TestNotificationFailuresMigration: rows that an older version marked "failed" after a temporary failure
// are pending again (notifications) and refused (channels), so they are retried rather than read as given up.
func TestNotificationFailuresMigration(t *testing.T) {
	ctx := ctxT(t)
	s := openMigratedBefore(t, "20261126000001")
	for _, stmt := range []string{
		`INSERT INTO notifications (key, case_id, channel, text, status, attempts, last_error, created_at) VALUES ('k1', 'c1', '#p1', 't', 'failed', 1, 'slack server error: 500', ?)`,
		`INSERT INTO notifications (key, case_id, channel, text, status, attempts, last_error, created_at) VALUES ('k2', 'c1', '#p1', 't', 'sent', 1, '', ?)`,
		`INSERT INTO notification_channels (key, channel, status, attempts, updated_at) VALUES ('k1', '#p1', 'failed', 1, ?)`,
	} {
		_, err := s.ExecContext(ctx, stmt, t0)
		require.NoError(t, err, stmt)
	}
	require.NoError(t, s.Migrate(ctx))

	n, err := s.GetNotification(ctx, "k1")
	require.NoError(t, err)
	assert.Equal(t, db.NotificationPending, n.Status)
	assert.Nil(t, n.FailedAt)
	assert.Empty(t, n.FailureReason)
	n, err = s.GetNotification(ctx, "k2")
	require.NoError(t, err)
	assert.Equal(t, db.NotificationSent, n.Status)
	prev, err := s.BeginChannelDelivery(ctx, "k1", "#p1", t0)
	require.NoError(t, err)
	assert.Equal(t, db.ChannelRefused, prev)
}

func TestIdempotentWritesConcurrent(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := map[string]int{}
	var errs []error
	for range n {
		wg.Go(func() {
			results := map[string]func() (bool, error){
				"event":  func() (bool, error) { return s.AppendEvent(ctx, &db.CaseEvent{Key: "k", CaseID: "c1", Event: "e"}) },
				"refund": func() (bool, error) { return s.RecordRefund(ctx, &db.Refund{Key: "k", CaseID: "c1", Percent: 5}) },
				"report": func() (bool, error) {
					return s.PutReport(ctx, &db.Report{CaseID: "c1", Format: db.FormatHTML, Version: 1})
				},
				"notification": func() (bool, error) {
					_, c, err := s.RecordNotification(ctx, &db.Notification{Key: "k", CaseID: "c1"})
					return c, err
				},
			}
			for name, fn := range results {
				created, err := fn()
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", name, err))
				}
				if created {
					count[name]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	assert.Equal(t, map[string]int{"event": 1, "refund": 1, "report": 1, "notification": 1}, count)
	for _, table := range []string{"case_events", "refunds", "reports", "notifications"} {
		var rows int
		require.NoError(t, s.NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &rows))
		assert.Equal(t, 1, rows, table)
	}
}

func TestErrorsWrap(t *testing.T) {
	s := dbtest.MustOpen(t)
	_, err := s.GetCase(ctxT(t), "c-x")
	require.Error(t, err)
	assert.True(t, errors.Is(err, db.ErrNotFound))
	assert.Contains(t, err.Error(), "c-x")
}

func TestInsertCaseIfAbsent(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	c := testCase("c-1", t0)
	require.NoError(t, s.InsertCaseIfAbsent(ctx, c))
	moved := testCase("c-1", t0)
	moved.Stage, moved.PartnerID = "report", "p1"
	require.NoError(t, s.UpsertCase(ctx, moved))

	again := testCase("c-1", t0.Add(time.Hour)) // a repeated purchase callback
	require.NoError(t, s.InsertCaseIfAbsent(ctx, again))
	got, err := s.GetCase(ctx, "c-1")
	require.NoError(t, err)
	assert.Equal(t, "report", got.Stage, "InsertCaseIfAbsent must not roll a case back")
	assert.Equal(t, "p1", got.PartnerID)

	require.ErrorIs(t, s.InsertCaseIfAbsent(ctx, &db.Case{CaseID: "c-2", WorkflowID: "sos:c-1"}), db.ErrConflict)
	require.ErrorIs(t, s.InsertCaseIfAbsent(ctx, &db.Case{CaseID: "c-3"}), db.ErrInvalid)
}

func TestPartnerLoads(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	for i, pc := range []struct{ partner, status string }{
		{"p1", db.CaseOpen}, {"p1", db.CaseOpen}, {"p1", db.CaseClosed}, {"p2", db.CaseOpen}, {"", db.CaseOpen},
	} {
		c := testCase(fmt.Sprintf("c-%d", i), t0)
		c.PartnerID, c.Status = pc.partner, pc.status
		require.NoError(t, s.UpsertCase(ctx, c))
	}
	got, err := s.PartnerLoads(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"p1": 2, "p2": 1}, got)

	// The loads follow the cases as they move: c-0 goes from p1 to p2, c-3 (p2) closes, c-4 is offered to p1,
	// a stale revision of c-1 (back to no partner) changes nothing, and a purchase repeated for c-1 neither.
	move := func(id, partner, status string, revision int64) {
		c := testCase(id, t0)
		c.PartnerID, c.Status, c.Revision = partner, status, revision
		require.NoError(t, s.UpsertCase(ctx, c))
	}
	move("c-1", "p1", db.CaseOpen, 5)
	move("c-0", "p2", db.CaseOpen, 1)
	move("c-3", "p2", db.CaseClosed, 1)
	move("c-4", "p1", db.CaseOpen, 1)
	move("c-1", "", db.CaseOpen, 4)
	require.NoError(t, s.InsertCaseIfAbsent(ctx, testCase("c-1", t0)))
	c := testCase("c-5", t0)
	c.PartnerID = "p3" // a case the marketplace's callback writes with its partner already (a hand assignment)
	require.NoError(t, s.InsertCaseIfAbsent(ctx, c))
	require.NoError(t, s.InsertCaseIfAbsent(ctx, c))
	got, err = s.PartnerLoads(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"p1": 2, "p2": 1, "p3": 1}, got)
	assert.Equal(t, countOpenCases(t, s), got)
}

// countOpenCases counts each partner's open cases from the cases themselves.
func countOpenCases(t *testing.T, s *db.Store) map[string]int {
	t.Helper()
	var rows []struct {
		PartnerID string `bun:"partner_id"`
		N         int    `bun:"n"`
	}
	require.NoError(t, s.NewSelect().Model((*db.Case)(nil)).Column("partner_id").ColumnExpr("COUNT(*) AS n").
		Where("status = ?", db.CaseOpen).Where("partner_id <> ''").Group("partner_id").Scan(ctxT(t), &rows))
	out := map[string]int{}
	for _, r := range rows {
		out[r.PartnerID] = r.N
	}
	return out
}

// Records of many cases at once, moving them between the same partners both ways and closing some, leave
// every partner's load equal to its open cases (and, on PostgreSQL, deadlock nobody).
func TestPartnerLoadsConcurrent(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	partners := []string{"p1", "p2", "p3"}
	const cases, moves = 24, 6
	var wg sync.WaitGroup
	errs := make(chan error, cases)
	for i := range cases {
		wg.Go(func() {
			for k := range moves {
				c := testCase(fmt.Sprintf("c-%02d", i), t0)
				c.Revision = int64(k)
				c.PartnerID = partners[(i+k*(1+i%2))%len(partners)] // odd cases walk the partners one way, even ones the other
				if k == moves-1 && i%3 == 0 {
					c.Status = db.CaseClosed
				}
				if err := s.UpsertCase(ctx, c); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := s.PartnerLoads(ctx)
	require.NoError(t, err)
	want := countOpenCases(t, s)
	assert.Equal(t, want, got)
	total := 0
	for _, n := range want {
		total += n
	}
	assert.Equal(t, cases-cases/3, total, "every case open but the closed third")
}

// The migration that brings partner_loads counts the open cases already there.
func TestPartnerLoadsMigration(t *testing.T) {
	ctx := ctxT(t)
	s := openMigratedBefore(t, "20261201000012")
	for i, pc := range []struct{ partner, status string }{
		{"p1", db.CaseOpen}, {"p1", db.CaseOpen}, {"p1", db.CaseClosed}, {"p2", db.CaseOpen}, {"", db.CaseOpen},
	} {
		c := testCase(fmt.Sprintf("c-%d", i), t0)
		c.PartnerID, c.Status, c.UpdatedAt = pc.partner, pc.status, t0
		_, err := s.NewInsert().Model(c).Exec(ctx) // as the release before wrote it: no partner_loads yet
		require.NoError(t, err)
	}
	require.NoError(t, s.Migrate(ctx))
	got, err := s.PartnerLoads(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"p1": 2, "p2": 1}, got)
	c := testCase("c-0", t0)
	c.PartnerID, c.Status, c.Revision = "p1", db.CaseClosed, 1
	require.NoError(t, s.UpsertCase(ctx, c))
	got, err = s.PartnerLoads(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"p1": 1, "p2": 1}, got)
}

func TestUpsertCaseRevision(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	newer := testCase("c-1", t0)
	newer.Stage, newer.Revision = "report", 5
	require.NoError(t, s.UpsertCase(ctx, newer))
	older := testCase("c-1", t0)
	older.Stage, older.Revision = "confirmation", 3 // a delayed write of an earlier transition
	require.NoError(t, s.UpsertCase(ctx, older))
	got, err := s.GetCase(ctx, "c-1")
	require.NoError(t, err)
	assert.Equal(t, "report", got.Stage)
	assert.Equal(t, int64(5), got.Revision)
	newest := testCase("c-1", t0)
	newest.Stage, newest.Revision = "closed", 6
	require.NoError(t, s.UpsertCase(ctx, newest))
	got, err = s.GetCase(ctx, "c-1")
	require.NoError(t, err)
	assert.Equal(t, "closed", got.Stage)
}

func TestClaimSignature(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	ok, err := s.ClaimSignature(ctx, "v1=aa", "GET /v1/cases/sos:A/report", t0)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.ClaimSignature(ctx, "v1=aa", "GET /v1/cases/sos:A/report", t0.Add(time.Second))
	require.NoError(t, err)
	assert.True(t, ok, "the same request again keeps its claim")
	ok, err = s.ClaimSignature(ctx, "v1=aa", "GET /v1/cases/sos:B/report", t0.Add(2*time.Second))
	require.NoError(t, err)
	assert.False(t, ok, "replayed against another case")
	ok, err = s.ClaimSignature(ctx, "v1=aa", "GET /v1/cases/sos:B/report", t0.Add(db.SignatureTTL+3*time.Second))
	require.NoError(t, err)
	assert.True(t, ok, "forgotten after the TTL (the timestamp window refuses such a request long before)")
}
