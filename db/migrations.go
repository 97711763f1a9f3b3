package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// migrations lists the schema changes in order. Each is plain DDL written once for both
// dialects: {ts}, {json} and {serial} are replaced per dialect, and every statement is
// "IF NOT EXISTS" so a migration interrupted before it was marked applied can run again.
// Never edit a released migration; append a new one.
var migrations = newMigrations()

const (
	migrationsTable = "steward_migrations"
	migrationLocks  = "steward_migration_locks"
)

func newMigrations() *migrate.Migrations {
	ms := migrate.NewMigrations()
	add := func(name, comment string, up, down []string) {
		ms.Add(migrate.Migration{
			Name:    name,
			Comment: comment,
			Up:      sqlMigration(up),
			Down:    sqlMigration(down),
		})
	}
	add("20250601000001", "init", schemaV1Up, schemaV1Down)
	add("20261125000002", "marketplace signatures", []string{
		`CREATE TABLE IF NOT EXISTS signatures (
			signature TEXT PRIMARY KEY,
			scope     TEXT NOT NULL,
			seen_at   {ts} NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS signatures_seen_at_idx ON signatures (seen_at)`,
	}, []string{
		`DROP TABLE IF EXISTS signatures`,
	})
	add("20261125000003", "notification channels", []string{
		`CREATE TABLE IF NOT EXISTS notification_channels (
			key        TEXT NOT NULL,
			channel    TEXT NOT NULL,
			status     TEXT NOT NULL,
			attempts   INTEGER NOT NULL DEFAULT 0,
			updated_at {ts} NOT NULL,
			PRIMARY KEY (key, channel)
		)`,
	}, []string{
		`DROP TABLE IF EXISTS notification_channels`,
	})
	add("20261125000001", "case revision", []string{
		`ALTER TABLE cases ADD COLUMN revision BIGINT NOT NULL DEFAULT 0`,
	}, []string{
		`ALTER TABLE cases DROP COLUMN revision`,
	})
	// A notification or channel given up for good is "failed" with failed_at and failure_reason; a failed
	// attempt that will be retried no longer is (the notification stays "pending", the channel is "refused"),
	// so rows that the older code marked "failed" after a temporary failure are moved back.
	add("20261126000001", "notification failures", []string{
		`ALTER TABLE notifications ADD COLUMN failed_at {ts} NULL`,
		`ALTER TABLE notifications ADD COLUMN failure_reason TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE notification_channels ADD COLUMN failed_at {ts} NULL`,
		`ALTER TABLE notification_channels ADD COLUMN failure_reason TEXT NOT NULL DEFAULT ''`,
		`UPDATE notifications SET status = 'pending' WHERE status = 'failed'`,
		`UPDATE notification_channels SET status = 'refused' WHERE status = 'failed'`,
	}, []string{
		`UPDATE notification_channels SET status = 'failed' WHERE status = 'refused'`,
		`ALTER TABLE notification_channels DROP COLUMN failure_reason`,
		`ALTER TABLE notification_channels DROP COLUMN failed_at`,
		`ALTER TABLE notifications DROP COLUMN failure_reason`,
		`ALTER TABLE notifications DROP COLUMN failed_at`,
	})
	// Event webhooks: the outbox (one row per event, sequence gap-free per case), the subscribers and one
	// delivery per event and subscriber; refunds gain a stable id and a state (owed → instructed → paid,
	// or waived). Refunds recorded before get their id here.
	ms.Add(migrate.Migration{Name: "20261201000001", Comment: "webhooks and refund states", Up: func(ctx context.Context, m *migrate.Migrator, mig *migrate.Migration) error {
		if err := sqlMigration(webhooksUp)(ctx, m, mig); err != nil {
			return err
		}
		return backfillRefundIDs(ctx, m.DB())
	}, Down: sqlMigration(webhooksDown)})
	// Reports: each timeline line names the partner company it concerns (offers, answers, steps), each SLA
	// clock is a row kept current by the record step, and a case keeps the customer's rating.
	add("20261201000002", "report data", []string{
		`ALTER TABLE case_events ADD COLUMN partner_id TEXT NOT NULL DEFAULT ''`,
		`CREATE INDEX IF NOT EXISTS case_events_partner_idx ON case_events (partner_id, event, at)`,
		`CREATE INDEX IF NOT EXISTS case_events_event_at_idx ON case_events (event, at)`,
		`ALTER TABLE cases ADD COLUMN rating INTEGER NOT NULL DEFAULT 0`,
		`CREATE TABLE IF NOT EXISTS sla_clocks (
			key          TEXT PRIMARY KEY,
			case_id      TEXT NOT NULL,
			service      TEXT NOT NULL,
			clause       TEXT NOT NULL,
			partner_id   TEXT NOT NULL DEFAULT '',
			state        TEXT NOT NULL,
			status       TEXT NOT NULL,
			started_at   {ts} NOT NULL,
			due_at       {ts} NULL,
			completed_at {ts} NULL,
			breached_at  {ts} NULL,
			updated_at   {ts} NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS sla_clocks_started_idx ON sla_clocks (started_at, service, clause)`,
		`CREATE INDEX IF NOT EXISTS sla_clocks_partner_idx ON sla_clocks (partner_id, started_at)`,
		`CREATE INDEX IF NOT EXISTS sla_clocks_case_idx ON sla_clocks (case_id)`,
	}, []string{
		`DROP TABLE IF EXISTS sla_clocks`,
		`ALTER TABLE cases DROP COLUMN rating`,
		`DROP INDEX IF EXISTS case_events_event_at_idx`,
		`DROP INDEX IF EXISTS case_events_partner_idx`,
		`ALTER TABLE case_events DROP COLUMN partner_id`,
	})
	// An acceptance keeps the instant of the offer it answers, so the scorecard's time to accept reads one
	// row per acceptance.
	add("20261201000003", "acceptance offer time", []string{
		`ALTER TABLE case_events ADD COLUMN offered_at {ts} NULL`,
	}, []string{
		`ALTER TABLE case_events DROP COLUMN offered_at`,
	})
	add("20261201000004", "partner dingtalk robots", []string{
		`ALTER TABLE partners ADD COLUMN dingtalk_webhook TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE partners ADD COLUMN dingtalk_secret TEXT NOT NULL DEFAULT ''`,
	}, []string{
		`ALTER TABLE partners DROP COLUMN dingtalk_secret`,
		`ALTER TABLE partners DROP COLUMN dingtalk_webhook`,
	})
	add("20261201000005", "customer channels and messages", []string{
		`CREATE TABLE IF NOT EXISTS customer_channels (
			case_id          TEXT PRIMARY KEY,
			dingtalk_webhook TEXT NOT NULL DEFAULT '',
			dingtalk_secret  TEXT NOT NULL DEFAULT '',
			robot            TEXT NOT NULL DEFAULT '',
			emails           {json} NOT NULL,
			updated_at       {ts} NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS customer_messages (
			key        TEXT PRIMARY KEY,
			case_id    TEXT NOT NULL,
			order_id   TEXT NOT NULL,
			kind       TEXT NOT NULL,
			title      TEXT NOT NULL,
			text       TEXT NOT NULL,
			created_at {ts} NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS customer_messages_case_idx ON customer_messages (case_id, created_at)`,
		`CREATE TABLE IF NOT EXISTS customer_deliveries (
			key             TEXT NOT NULL,
			channel         TEXT NOT NULL,
			case_id         TEXT NOT NULL,
			robot           TEXT NOT NULL DEFAULT '',
			state           TEXT NOT NULL,
			attempts        INTEGER NOT NULL DEFAULT 0,
			next_attempt_at {ts} NOT NULL,
			lease_until     {ts} NULL,
			last_error      TEXT NOT NULL DEFAULT '',
			created_at      {ts} NOT NULL,
			sent_at         {ts} NULL,
			failed_at       {ts} NULL,
			PRIMARY KEY (key, channel)
		)`,
		`CREATE INDEX IF NOT EXISTS customer_deliveries_due_idx ON customer_deliveries (state, next_attempt_at)`,
		`CREATE INDEX IF NOT EXISTS customer_deliveries_robot_idx ON customer_deliveries (robot, sent_at)`,
	}, []string{
		`DROP TABLE IF EXISTS customer_deliveries`,
		`DROP TABLE IF EXISTS customer_messages`,
		`DROP TABLE IF EXISTS customer_channels`,
	})
	// Credentials run for years (#20): a token expires (live tokens issued before get DefaultTokenTTL from
	// now), records its last use at most once a minute, and names the successor it was rotated to; a
	// timeline line names who took the step (the token's holder, its partner company, the token); a webhook
	// subscription keeps its previous secret, signing with both, until the rotation's overlap ends.
	ms.Add(migrate.Migration{Name: "20261201000010", Comment: "token life cycle, step authors, webhook secret overlap",
		Up: func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
			r := dialectTypes(m.DB().Dialect().Name())
			return m.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				for _, stmt := range credentialsUp {
					if _, err := tx.ExecContext(ctx, r.Replace(stmt)); err != nil {
						return fmt.Errorf("exec %q: %w", firstLine(stmt), err)
					}
				}
				_, err := tx.NewUpdate().Table("tokens").Set("expires_at = ?", time.Now().UTC().Add(DefaultTokenTTL)).
					Where("expires_at IS NULL").Where("revoked_at IS NULL").Exec(ctx)
				if err != nil {
					return fmt.Errorf("token expiry: %w", err)
				}
				return nil
			})
		}, Down: sqlMigration(credentialsDown)})
	// Notifications leave from the outbox the record step writes (#21): a row carries its message and is
	// claimed with a lease by a dispatcher, rather than sent by an activity of the case.
	add("20261201000011", "notification outbox", []string{
		`ALTER TABLE notifications ADD COLUMN message TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE notifications ADD COLUMN partner_id TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE notifications ADD COLUMN next_attempt_at {ts} NULL`,
		`ALTER TABLE notifications ADD COLUMN lease_until {ts} NULL`,
		`CREATE INDEX IF NOT EXISTS notifications_due_idx ON notifications (status, next_attempt_at)`,
	}, []string{
		`DROP INDEX IF EXISTS notifications_due_idx`,
		`ALTER TABLE notifications DROP COLUMN lease_until`,
		`ALTER TABLE notifications DROP COLUMN next_attempt_at`,
		`ALTER TABLE notifications DROP COLUMN partner_id`,
		`ALTER TABLE notifications DROP COLUMN message`,
	})
	add("20261201000012", "partner loads", []string{
		`CREATE TABLE IF NOT EXISTS partner_loads (
			partner_id TEXT PRIMARY KEY,
			open_cases INTEGER NOT NULL DEFAULT 0
		)`,
		// Counted once from the cases; every write of a case row keeps it in step from here on.
		`INSERT INTO partner_loads (partner_id, open_cases)
			SELECT partner_id, COUNT(*) FROM cases WHERE status = 'open' AND partner_id <> '' GROUP BY partner_id
			ON CONFLICT (partner_id) DO NOTHING`,
	}, []string{
		`DROP TABLE IF EXISTS partner_loads`,
	})
	return ms
}

var credentialsUp = []string{
	`ALTER TABLE tokens ADD COLUMN expires_at {ts} NULL`,
	`ALTER TABLE tokens ADD COLUMN last_used_at {ts} NULL`,
	`ALTER TABLE tokens ADD COLUMN last_used_from TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE tokens ADD COLUMN replaced_by TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE case_events ADD COLUMN by_name TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE case_events ADD COLUMN by_token_id TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE case_events ADD COLUMN by_partner_id TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE webhook_subscriptions ADD COLUMN previous_secret TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE webhook_subscriptions ADD COLUMN previous_until {ts} NULL`,
}

var credentialsDown = []string{
	`ALTER TABLE webhook_subscriptions DROP COLUMN previous_until`,
	`ALTER TABLE webhook_subscriptions DROP COLUMN previous_secret`,
	`ALTER TABLE case_events DROP COLUMN by_partner_id`,
	`ALTER TABLE case_events DROP COLUMN by_token_id`,
	`ALTER TABLE case_events DROP COLUMN by_name`,
	`ALTER TABLE tokens DROP COLUMN replaced_by`,
	`ALTER TABLE tokens DROP COLUMN last_used_from`,
	`ALTER TABLE tokens DROP COLUMN last_used_at`,
	`ALTER TABLE tokens DROP COLUMN expires_at`,
}

var webhooksUp = []string{
	`CREATE TABLE IF NOT EXISTS webhook_events (
		id         TEXT PRIMARY KEY,
		key        TEXT NOT NULL UNIQUE,
		case_id    TEXT NOT NULL,
		sequence   BIGINT NOT NULL,
		type       TEXT NOT NULL,
		created_at {ts} NOT NULL,
		payload    TEXT NOT NULL,
		UNIQUE (case_id, sequence)
	)`,
	`CREATE INDEX IF NOT EXISTS webhook_events_created_idx ON webhook_events (created_at)`,
	`CREATE TABLE IF NOT EXISTS webhook_subscriptions (
		id            TEXT PRIMARY KEY,
		url           TEXT NOT NULL,
		events        TEXT NOT NULL,
		secret        TEXT NOT NULL,
		allow_private BOOLEAN NOT NULL DEFAULT FALSE,
		created_at    {ts} NOT NULL,
		disabled_at   {ts} NULL
	)`,
	`CREATE TABLE IF NOT EXISTS webhook_deliveries (
		id              TEXT PRIMARY KEY,
		event_id        TEXT NOT NULL,
		subscription_id TEXT NOT NULL,
		state           TEXT NOT NULL,
		attempts        INTEGER NOT NULL DEFAULT 0,
		next_attempt_at {ts} NOT NULL,
		last_status     INTEGER NOT NULL DEFAULT 0,
		last_error      TEXT NOT NULL DEFAULT '',
		created_at      {ts} NOT NULL,
		delivered_at    {ts} NULL,
		failed_at       {ts} NULL,
		alerted_at      {ts} NULL,
		UNIQUE (event_id, subscription_id)
	)`,
	`CREATE INDEX IF NOT EXISTS webhook_deliveries_due_idx ON webhook_deliveries (state, next_attempt_at)`,
	`ALTER TABLE refunds ADD COLUMN id TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE refunds ADD COLUMN state TEXT NOT NULL DEFAULT 'owed'`,
	`ALTER TABLE refunds ADD COLUMN instructed_at {ts} NULL`,
	`ALTER TABLE refunds ADD COLUMN paid_at {ts} NULL`,
	`ALTER TABLE refunds ADD COLUMN reference TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE refunds ADD COLUMN waived_at {ts} NULL`,
	`ALTER TABLE refunds ADD COLUMN waived_by TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE refunds ADD COLUMN waived_reason TEXT NOT NULL DEFAULT ''`,
	`CREATE INDEX IF NOT EXISTS refunds_state_idx ON refunds (state, created_at)`,
}

var webhooksDown = []string{
	`DROP INDEX IF EXISTS refunds_id_idx`,
	`DROP INDEX IF EXISTS refunds_state_idx`,
	`ALTER TABLE refunds DROP COLUMN waived_reason`,
	`ALTER TABLE refunds DROP COLUMN waived_by`,
	`ALTER TABLE refunds DROP COLUMN waived_at`,
	`ALTER TABLE refunds DROP COLUMN reference`,
	`ALTER TABLE refunds DROP COLUMN paid_at`,
	`ALTER TABLE refunds DROP COLUMN instructed_at`,
	`ALTER TABLE refunds DROP COLUMN state`,
	`ALTER TABLE refunds DROP COLUMN id`,
	`DROP TABLE IF EXISTS webhook_deliveries`,
	`DROP TABLE IF EXISTS webhook_subscriptions`,
	`DROP TABLE IF EXISTS webhook_events`,
}

// backfillRefundIDs gives the refunds recorded before refund ids existed their id (RefundID of the key),
// then makes ids unique.
func backfillRefundIDs(ctx context.Context, idb *bun.DB) error {
	var keys []string
	if err := idb.NewSelect().Table("refunds").Column("key").Where("id = ''").Scan(ctx, &keys); err != nil {
		return fmt.Errorf("backfill refund ids: %w", err)
	}
	for _, k := range keys {
		if _, err := idb.NewUpdate().Table("refunds").Set("id = ?", RefundID(k)).Where("key = ?", k).Exec(ctx); err != nil {
			return fmt.Errorf("backfill refund id %s: %w", k, err)
		}
	}
	if _, err := idb.ExecContext(ctx, `CREATE UNIQUE INDEX IF NOT EXISTS refunds_id_idx ON refunds (id)`); err != nil {
		return fmt.Errorf("refund id index: %w", err)
	}
	return nil
}

// sqlMigration runs statements in one transaction (DDL is transactional on both databases).
func sqlMigration(stmts []string) func(context.Context, *migrate.Migrator, *migrate.Migration) error {
	return func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
		r := dialectTypes(m.DB().Dialect().Name())
		return m.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for _, stmt := range stmts {
				if _, err := tx.ExecContext(ctx, r.Replace(stmt)); err != nil {
					return fmt.Errorf("exec %q: %w", firstLine(stmt), err)
				}
			}
			return nil
		})
	}
}

func dialectTypes(name dialect.Name) *strings.Replacer {
	if name == dialect.PG {
		return strings.NewReplacer(
			"{ts}", "TIMESTAMPTZ",
			"{json}", "JSONB",
			"{serial}", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
		)
	}
	return strings.NewReplacer(
		"{ts}", "TIMESTAMP",
		"{json}", "TEXT",
		"{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT",
	)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

var schemaV1Up = []string{
	`CREATE TABLE IF NOT EXISTS orders (
		order_id     TEXT PRIMARY KEY,
		customer_id  TEXT NOT NULL DEFAULT '',
		service      TEXT NOT NULL DEFAULT '',
		spec         TEXT NOT NULL DEFAULT '',
		quantity     INTEGER NOT NULL DEFAULT 0,
		amount_cents BIGINT NOT NULL DEFAULT 0,
		currency     TEXT NOT NULL DEFAULT '',
		paid_at      {ts} NOT NULL,
		contact      {json} NOT NULL,
		body_hash    TEXT NOT NULL DEFAULT '',
		case_id      TEXT NOT NULL DEFAULT '',
		workflow_id  TEXT NOT NULL DEFAULT '',
		created_at   {ts} NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS orders_customer_id_idx ON orders (customer_id)`,

	`CREATE TABLE IF NOT EXISTS partners (
		id            TEXT PRIMARY KEY,
		name          TEXT NOT NULL DEFAULT '',
		services      {json} NOT NULL,
		onsite        BOOLEAN NOT NULL DEFAULT FALSE,
		capacity      INTEGER NOT NULL DEFAULT 0,
		slack_channel TEXT NOT NULL DEFAULT '',
		active        BOOLEAN NOT NULL DEFAULT TRUE,
		created_at    {ts} NOT NULL
	)`,

	`CREATE TABLE IF NOT EXISTS tokens (
		id         TEXT PRIMARY KEY,
		hash       TEXT NOT NULL UNIQUE,
		role       TEXT NOT NULL,
		partner_id TEXT NULL REFERENCES partners (id),
		name       TEXT NOT NULL DEFAULT '',
		created_at {ts} NOT NULL,
		revoked_at {ts} NULL
	)`,
	`CREATE INDEX IF NOT EXISTS tokens_partner_id_idx ON tokens (partner_id)`,

	`CREATE TABLE IF NOT EXISTS cases (
		case_id        TEXT PRIMARY KEY,
		workflow_id    TEXT NOT NULL UNIQUE,
		service        TEXT NOT NULL DEFAULT '',
		spec           TEXT NOT NULL DEFAULT '',
		stage          TEXT NOT NULL DEFAULT '',
		status         TEXT NOT NULL DEFAULT 'open',
		partner_id     TEXT NOT NULL DEFAULT '',
		customer_id    TEXT NOT NULL DEFAULT '',
		order_id       TEXT NOT NULL DEFAULT '',
		amount_cents   BIGINT NOT NULL DEFAULT 0,
		sla_status     TEXT NOT NULL DEFAULT '',
		refund_percent INTEGER NOT NULL DEFAULT 0,
		next_deadline  {ts} NULL,
		opened_at      {ts} NOT NULL,
		updated_at     {ts} NOT NULL,
		closed_at      {ts} NULL
	)`,
	`CREATE INDEX IF NOT EXISTS cases_opened_at_idx ON cases (opened_at)`,
	`CREATE INDEX IF NOT EXISTS cases_service_idx ON cases (service, opened_at)`,
	`CREATE INDEX IF NOT EXISTS cases_stage_idx ON cases (stage, opened_at)`,
	`CREATE INDEX IF NOT EXISTS cases_partner_id_idx ON cases (partner_id, opened_at)`,
	`CREATE INDEX IF NOT EXISTS cases_sla_status_idx ON cases (sla_status, opened_at)`,
	`CREATE INDEX IF NOT EXISTS cases_status_idx ON cases (status, opened_at)`,

	`CREATE TABLE IF NOT EXISTS case_events (
		id      {serial},
		key     TEXT NOT NULL UNIQUE,
		case_id TEXT NOT NULL,
		at      {ts} NOT NULL,
		actor   TEXT NOT NULL DEFAULT '',
		event   TEXT NOT NULL DEFAULT '',
		detail  TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE INDEX IF NOT EXISTS case_events_case_id_idx ON case_events (case_id, at, id)`,

	`CREATE TABLE IF NOT EXISTS refunds (
		key          TEXT PRIMARY KEY,
		case_id      TEXT NOT NULL,
		clause       TEXT NOT NULL DEFAULT '',
		percent      INTEGER NOT NULL DEFAULT 0,
		amount_cents BIGINT NOT NULL DEFAULT 0,
		reason       TEXT NOT NULL DEFAULT '',
		created_at   {ts} NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS refunds_case_id_idx ON refunds (case_id, created_at)`,

	`CREATE TABLE IF NOT EXISTS reports (
		case_id    TEXT NOT NULL,
		kind       TEXT NOT NULL DEFAULT 'incident_report',
		format     TEXT NOT NULL,
		version    INTEGER NOT NULL,
		title      TEXT NOT NULL DEFAULT '',
		content    TEXT NOT NULL DEFAULT '',
		created_at {ts} NOT NULL,
		PRIMARY KEY (case_id, kind, format, version)
	)`,

	`CREATE TABLE IF NOT EXISTS notifications (
		key        TEXT PRIMARY KEY,
		case_id    TEXT NOT NULL DEFAULT '',
		channel    TEXT NOT NULL DEFAULT '',
		text       TEXT NOT NULL DEFAULT '',
		status     TEXT NOT NULL DEFAULT 'pending',
		attempts   INTEGER NOT NULL DEFAULT 0,
		last_error TEXT NOT NULL DEFAULT '',
		created_at {ts} NOT NULL,
		sent_at    {ts} NULL
	)`,
	`CREATE INDEX IF NOT EXISTS notifications_case_id_idx ON notifications (case_id)`,
	`CREATE INDEX IF NOT EXISTS notifications_status_idx ON notifications (status, created_at)`,
}

var schemaV1Down = []string{
	`DROP TABLE IF EXISTS notifications`,
	`DROP TABLE IF EXISTS reports`,
	`DROP TABLE IF EXISTS refunds`,
	`DROP TABLE IF EXISTS case_events`,
	`DROP TABLE IF EXISTS cases`,
	`DROP TABLE IF EXISTS tokens`,
	`DROP TABLE IF EXISTS partners`,
	`DROP TABLE IF EXISTS orders`,
}

// Migrate applies the migrations not yet applied. It is idempotent and safe to run on every start,
// also from several processes at once: on PostgreSQL they queue on an advisory lock (per schema),
// on SQLite on the database's write lock.
func (s *Store) Migrate(ctx context.Context) error {
	if s.IsPostgres() {
		conn, err := s.DB.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate: conn: %w", err)
		}
		defer conn.Close()
		const key = "hashtext('steward_migrate:' || current_schema())"
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		// Unlock with a fresh context: ctx may be cancelled, and the lock must not outlive us.
		defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+key+")") }()
	}
	m := migrate.NewMigrator(s.DB, migrations,
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(migrationLocks),
		migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithUpsert(true),
	)
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("migrate: init: %w", err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
