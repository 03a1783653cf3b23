package storage

import (
	"context"
	"database/sql"
	"io/fs"

	"github.com/messager/messager/ent"
)

// WithMigrationFiles makes Migrate apply the migration directory fsys
// (.sql files and atlas.sum) instead of the embedded one.
func WithMigrationFiles(fsys fs.FS) MigrateOption {
	return func(o *migrateOptions) { o.files = fsys }
}

// Classify is classify, for tests that feed it the drivers' own errors.
func Classify(err error) error { return classify(err) }

// SQL is the pool, for storage's own tests that check or prepare rows
// with statements of their own.
func (d *DB) SQL() *sql.DB { return d.pool }

// Ent is the ent client, for storage's own tests (bulk inserts, ent's
// auto-migration of old releases).
func (d *DB) Ent() *ent.Client { return d.client }

// Save writes m and its recipient rows in one transaction, idempotently:
// SaveBatch of one message, which the worker never calls alone.
func (s *Messages) Save(ctx context.Context, m NewMessage) (Saved, error) {
	saved, err := s.SaveBatch(ctx, []NewMessage{m})
	if err != nil {
		return Saved{}, err
	}
	return saved[0], nil
}
