package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/messager/messager/ent/migrate"
)

// ErrNotMigrated says the database answers but lacks a table or column
// this binary uses: `messager migrate` (or --migrate) has not been run
// since the schema last changed.
var ErrNotMigrated = errors.New("database not migrated")

// schemaChecked remembers a database whose schema was found complete:
// migrations only add, so it stays so for the life of the process.
type schemaChecked struct{ ok atomic.Bool }

// CheckSchema reports whether every table and column of this binary's
// schema exists: nil, ErrNotMigrated (naming what is missing), or an
// ErrUnavailable error when the database did not answer. It selects no
// rows (`SELECT <every column> FROM <table> WHERE 1=0`), works the same on
// SQLite and PostgreSQL, and once the schema is found complete it answers
// from memory (without asking the database: use Ping for that).
func (d *DB) CheckSchema(ctx context.Context) error {
	if d.schema.ok.Load() {
		return nil
	}
	for _, t := range migrate.Tables {
		cols := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			// Unquoted: SQLite reads an unknown "quoted" name as a string.
			cols[i] = c.Name
		}
		rows, err := d.pool.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM %s WHERE 1=0`, strings.Join(cols, ", "), t.Name))
		if err == nil {
			err = rows.Close()
		}
		switch {
		case err == nil:
		case isMissingSchema(err):
			return fmt.Errorf("%w: table %s is missing or lacks a column", ErrNotMigrated, t.Name)
		case isConnectionError(err) || ctx.Err() != nil:
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		default:
			return fmt.Errorf("checking the schema: %w", err)
		}
	}
	d.schema.ok.Store(true)
	return nil
}

// isMissingSchema reports an undefined table or column: PostgreSQL's
// 42P01 and 42703, SQLite's "no such table/column".
func isMissingSchema(err error) bool {
	var pge *pgconn.PgError
	if errors.As(err, &pge) {
		return pge.Code == "42P01" || pge.Code == "42703"
	}
	msg := err.Error()
	return strings.Contains(msg, "no such table") || strings.Contains(msg, "no such column")
}
