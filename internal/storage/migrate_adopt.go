package storage

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	"entgo.io/ent/dialect"

	"github.com/messager/messager/internal/version"
)

// adopt handles a database with no migration history. Empty (or holding
// only other applications' tables) it is left to the files, baseline
// first. Holding messager's tables, it was made by the automatic
// migration of the releases before versioned migrations: when it has every
// table and column the baseline file creates, the baseline is recorded as
// applied (the later files then run as usual); otherwise it is refused,
// naming what is missing, since applying the files on top would fail
// halfway or leave a schema this binary cannot use.
func (d *DB) adopt(ctx context.Context, q execQuerier, baseline migrate.File, revs *revisions, log *slog.Logger) error {
	drv, err := d.atlasDriver(q)
	if err != nil {
		return err
	}
	live, err := drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return fmt.Errorf("inspect the database: %w", err)
	}
	if !hasTablesBesides(live, revisionsTable) {
		return nil
	}
	want, err := d.baselineSchema(ctx, baseline)
	if err != nil {
		return fmt.Errorf("read the tables of the baseline %s: %w", baseline.Name(), err)
	}
	var ours bool
	var missing []string
	for _, t := range want.Tables {
		lt, ok := live.Table(t.Name)
		if !ok {
			missing = append(missing, "table "+t.Name)
			continue
		}
		ours = true
		for _, c := range t.Columns {
			if _, ok := lt.Column(c.Name); !ok {
				missing = append(missing, "column "+t.Name+"."+c.Name)
			}
		}
	}
	if !ours {
		return nil
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("the database has messager tables but no %s, and lacks what the baseline migration %s creates: %s; "+
			"only a database made by the automatic migration of the last release before versioned migrations can be adopted (run that release's `messager migrate` first, or restore the missing parts)",
			revisionsTable, baseline.Name(), strings.Join(missing, ", "))
	}
	err = revs.WriteRevision(ctx, &migrate.Revision{
		Version:         baseline.Version(),
		Description:     baseline.Desc(),
		Type:            migrate.RevisionTypeBaseline,
		ExecutedAt:      time.Now(),
		OperatorVersion: "messager " + version.Number(),
	})
	if err != nil {
		return err
	}
	log.Info("adopted a database made by the automatic migration: recorded the baseline as applied", "version", baseline.Version(), "file", baseline.Name())
	return nil
}

func hasTablesBesides(s *schema.Schema, name string) bool {
	for _, t := range s.Tables {
		if t.Name != name {
			return true
		}
	}
	return false
}

// baselineSchema is what the baseline file creates, found by running it
// where it touches nothing: a private in-memory SQLite database, or for
// PostgreSQL a schema of its own inside a transaction that is rolled back.
func (d *DB) baselineSchema(ctx context.Context, baseline migrate.File) (*schema.Schema, error) {
	if d.dialect == dialect.SQLite {
		mem, err := sql.Open("sqlite", "file:messager_baseline?mode=memory")
		if err != nil {
			return nil, err
		}
		defer mem.Close()
		// One connection: each connection to a private in-memory
		// database is another database.
		mem.SetMaxOpenConns(1)
		drv, err := sqlite.Open(mem)
		if err != nil {
			return nil, err
		}
		if err := execFile(ctx, drv, mem, baseline); err != nil {
			return nil, err
		}
		return drv.InspectSchema(ctx, "", nil)
	}
	tx, err := d.pool.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	const scratch = "messager_baseline_check"
	for _, stmt := range []string{"CREATE SCHEMA " + scratch, "SET LOCAL search_path TO " + scratch} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return nil, err
		}
	}
	drv, err := postgres.Open(tx)
	if err != nil {
		return nil, err
	}
	if err := execFile(ctx, drv, tx, baseline); err != nil {
		return nil, err
	}
	return drv.InspectSchema(ctx, scratch, nil)
}

func execFile(ctx context.Context, drv migrate.Driver, q execQuerier, f migrate.File) error {
	stmts, err := migrate.FileStmts(drv, f)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("statement %q: %w", s, err)
		}
	}
	return nil
}
