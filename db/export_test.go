package db

import (
	"context"

	"github.com/uptrace/bun/migrate"
)

// MigrationCount is how many migrations the schema has, for the tests.
var MigrationCount = len(migrations.Sorted())

// MigrateBefore applies only the migrations older than name, as an older version of steward would; a
// later Migrate applies the rest.
func (s *Store) MigrateBefore(ctx context.Context, name string) error {
	older := migrate.NewMigrations()
	for _, m := range migrations.Sorted() {
		if m.Name < name {
			older.Add(migrate.Migration{Name: m.Name, Comment: m.Comment, Up: m.Up, Down: m.Down})
		}
	}
	m := migrate.NewMigrator(s.DB, older, migrate.WithTableName(migrationsTable), migrate.WithLocksTableName(migrationLocks),
		migrate.WithMarkAppliedOnSuccess(true), migrate.WithUpsert(true))
	if err := m.Init(ctx); err != nil {
		return err
	}
	_, err := m.Migrate(ctx)
	return err
}
