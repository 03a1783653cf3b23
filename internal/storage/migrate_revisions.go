package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// revisionsTable records which migration files ran on this database: one
// row per file, as Atlas's own atlas_schema_revisions does.
const revisionsTable = "schema_revisions"

// revisionColumns in the order revisions reads and writes them.
var revisionColumns = []string{
	"version", "description", "type", "applied", "total", "executed_at",
	"execution_time", "error", "error_stmt", "hash", "partial_hashes", "operator_version",
}

// revisions is Atlas's RevisionReadWriter on revisionsTable, through q
// (the pool, or a migration's transaction).
type revisions struct {
	q       execQuerier
	dialect string
	// last, if not nil, receives a copy of each revision written.
	last **migrate.Revision
}

var _ migrate.RevisionReadWriter = (*revisions)(nil)

// createTable creates revisionsTable if it does not exist. It lives
// outside the versioned files, as Atlas's does: it says which of them ran.
func (r *revisions) createTable(ctx context.Context) error {
	ts, integer := "timestamptz", "bigint"
	if r.dialect == dialect.SQLite {
		ts, integer = "datetime", "integer"
	}
	_, err := r.q.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
	version text NOT NULL PRIMARY KEY,
	description text NOT NULL,
	type %[2]s NOT NULL,
	applied %[2]s NOT NULL DEFAULT 0,
	total %[2]s NOT NULL DEFAULT 0,
	executed_at %[3]s NOT NULL,
	execution_time %[2]s NOT NULL,
	error text NULL,
	error_stmt text NULL,
	hash text NOT NULL,
	partial_hashes text NULL,
	operator_version text NOT NULL
)`, revisionsTable, integer, ts))
	if err != nil {
		return fmt.Errorf("create %s: %w", revisionsTable, err)
	}
	return nil
}

// Ident implements migrate.RevisionReadWriter.
func (r *revisions) Ident() *migrate.TableIdent {
	return &migrate.TableIdent{Name: revisionsTable}
}

// ReadRevisions implements migrate.RevisionReadWriter: every revision,
// oldest version first.
func (r *revisions) ReadRevisions(ctx context.Context) ([]*migrate.Revision, error) {
	query, args := entsql.Dialect(r.dialect).Select(revisionColumns...).
		From(entsql.Table(revisionsTable)).OrderBy("version").Query()
	return r.query(ctx, query, args)
}

// ReadRevision implements migrate.RevisionReadWriter.
func (r *revisions) ReadRevision(ctx context.Context, version string) (*migrate.Revision, error) {
	query, args := entsql.Dialect(r.dialect).Select(revisionColumns...).
		From(entsql.Table(revisionsTable)).Where(entsql.EQ("version", version)).Query()
	revs, err := r.query(ctx, query, args)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, migrate.ErrRevisionNotExist
	}
	return revs[0], nil
}

func (r *revisions) query(ctx context.Context, query string, args []any) ([]*migrate.Revision, error) {
	rows, err := r.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", revisionsTable, err)
	}
	defer rows.Close()
	var revs []*migrate.Revision
	for rows.Next() {
		var (
			rev            migrate.Revision
			typ            int64
			execTime       int64
			errMsg, errSQL sql.NullString
			partial        sql.NullString
		)
		if err := rows.Scan(&rev.Version, &rev.Description, &typ, &rev.Applied, &rev.Total, &rev.ExecutedAt,
			&execTime, &errMsg, &errSQL, &rev.Hash, &partial, &rev.OperatorVersion); err != nil {
			return nil, fmt.Errorf("read %s: %w", revisionsTable, err)
		}
		rev.Type = migrate.RevisionType(typ)
		rev.ExecutionTime = time.Duration(execTime)
		rev.Error, rev.ErrorStmt = errMsg.String, errSQL.String
		if partial.Valid && partial.String != "" {
			if err := json.Unmarshal([]byte(partial.String), &rev.PartialHashes); err != nil {
				return nil, fmt.Errorf("read %s: version %s: partial_hashes: %w", revisionsTable, rev.Version, err)
			}
		}
		revs = append(revs, &rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", revisionsTable, err)
	}
	return revs, nil
}

// WriteRevision implements migrate.RevisionReadWriter: insert or replace
// the row of rev.Version.
func (r *revisions) WriteRevision(ctx context.Context, rev *migrate.Revision) error {
	var partial any
	if len(rev.PartialHashes) > 0 {
		b, err := json.Marshal(rev.PartialHashes)
		if err != nil {
			return err
		}
		partial = string(b)
	}
	query, args := entsql.Dialect(r.dialect).Insert(revisionsTable).Columns(revisionColumns...).
		Values(rev.Version, rev.Description, int64(rev.Type), rev.Applied, rev.Total, rev.ExecutedAt.UTC(),
			int64(rev.ExecutionTime), nullString(rev.Error), nullString(rev.ErrorStmt), rev.Hash, partial, rev.OperatorVersion).
		OnConflict(entsql.ConflictColumns("version"), entsql.ResolveWithNewValues()).
		Query()
	if _, err := r.q.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("write %s: %w", revisionsTable, err)
	}
	if r.last != nil {
		c := *rev
		c.PartialHashes = append([]string(nil), rev.PartialHashes...)
		*r.last = &c
	}
	return nil
}

// DeleteRevision implements migrate.RevisionReadWriter.
func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	query, args := entsql.Dialect(r.dialect).Delete(revisionsTable).Where(entsql.EQ("version", version)).Query()
	if _, err := r.q.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("delete from %s: %w", revisionsTable, err)
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
