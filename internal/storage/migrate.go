package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/sqlite"
	"entgo.io/ent/dialect"

	"github.com/messager/messager/ent/migrate/migrations"
	"github.com/messager/messager/internal/version"
)

// MigrateOption configures Migrate.
type MigrateOption func(*migrateOptions)

type migrateOptions struct {
	logger *slog.Logger
	// files replaces the embedded migrations (tests).
	files fs.FS
}

// WithMigrateLogger logs what Migrate does on l: each file applied, an
// adoption, a retry of a file that failed before.
func WithMigrateLogger(l *slog.Logger) MigrateOption {
	return func(o *migrateOptions) { o.logger = l }
}

// Migrate brings the schema up to this binary's version by applying the
// versioned migrations embedded from ent/migrate/migrations (written by
// `go generate ./ent`), in version order, each file at most once. The
// files are checked against their atlas.sum first: one that was edited
// after it was generated is refused, and nothing is applied.
//
// It is idempotent (with nothing pending it changes nothing) and safe when
// several processes run it at once: they take turns under a PostgreSQL
// advisory lock, or SQLite's single write transaction, and the later ones
// find nothing to do. A binary older than the database also finds nothing
// to do: migrations only add, so its code keeps working.
//
// Each file runs in a transaction of its own (PostgreSQL and SQLite both
// roll DDL back), unless it carries the `-- atlas:txmode none` directive
// (PostgreSQL only, for statements such as CREATE INDEX CONCURRENTLY),
// where each statement commits alone and a retry resumes after the last
// one that succeeded. A file that fails is recorded in schema_revisions
// with its error, so the next run reports it and tries it again rather
// than skipping it; the error names the file and the statement.
//
// A database made by the automatic migration of earlier releases (the
// tables exist, schema_revisions does not) is adopted at the first file,
// the baseline, when it has every table and column the baseline creates;
// otherwise Migrate refuses and says what is missing.
func (d *DB) Migrate(ctx context.Context, opts ...MigrateOption) error {
	o := migrateOptions{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, opt := range opts {
		opt(&o)
	}
	fsys := o.files
	if fsys == nil {
		var err error
		if fsys, err = migrations.FS(d.dialect); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := d.migrate(ctx, fsys, o.logger); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func (d *DB) migrate(ctx context.Context, fsys fs.FS, log *slog.Logger) (err error) {
	dir, err := loadDir(fsys)
	if err != nil {
		return err
	}
	files, err := dir.Files()
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("no migration files")
	}
	s, err := d.beginMigration(ctx)
	if err != nil {
		return err
	}
	defer func() { err = s.end(ctx, err) }()
	revs := &revisions{q: s.q(), dialect: d.dialect}
	if err := revs.createTable(ctx); err != nil {
		return err
	}
	applied, err := revs.ReadRevisions(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		if err := d.adopt(ctx, s.q(), files[0], revs, log); err != nil {
			return err
		}
	}
	drv, err := d.atlasDriver(s.q())
	if err != nil {
		return err
	}
	ex, err := migrate.NewExecutor(drv, dir, revs, d.executorOptions()...)
	if err != nil {
		return err
	}
	pending, err := ex.Pending(ctx)
	switch {
	case errors.Is(err, migrate.ErrNoPendingFiles):
		log.Info("schema is up to date", "version", files[len(files)-1].Version())
		return nil
	case err != nil:
		return fmt.Errorf("find pending migrations: %w", err)
	}
	for _, f := range pending {
		if err := d.applyFile(ctx, s, dir, f, revs, log); err != nil {
			return err
		}
	}
	return nil
}

// loadDir copies the .sql files and atlas.sum of fsys into an Atlas
// directory and checks them against the sum.
func loadDir(fsys fs.FS) (*migrate.MemDir, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migration files: %w", err)
	}
	dir := &migrate.MemDir{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || (name != migrate.HashFileName && path.Ext(name) != ".sql") {
			continue
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration files: %w", err)
		}
		if err := dir.WriteFile(name, b); err != nil {
			return nil, err
		}
	}
	if err := migrate.Validate(dir); err != nil {
		var cerr *migrate.ChecksumError
		if errors.As(err, &cerr) {
			return nil, fmt.Errorf("migration file %s was %s after atlas.sum was written: a migration must not change once generated (make a new one with `MIGRATION_NAME=... go generate ./ent`); refusing to apply any: %w", cerr.File, cerr.Reason, err)
		}
		return nil, fmt.Errorf("migration files do not match atlas.sum: %w", err)
	}
	return dir, nil
}

func (d *DB) atlasDriver(q execQuerier) (migrate.Driver, error) {
	if d.dialect == dialect.SQLite {
		return sqlite.Open(q)
	}
	return postgres.Open(q)
}

func (d *DB) executorOptions() []migrate.ExecutorOption {
	return []migrate.ExecutorOption{
		// Whether the database is empty is decided by adopt, which knows
		// our tables: other applications' tables in the same database
		// are no reason to refuse.
		migrate.WithAllowDirty(true),
		migrate.WithOperatorVersion("messager " + version.Number()),
	}
}

// applyFile runs one pending file. In a transaction (the usual case) a
// failure rolls back the file and, with it, the revision the executor
// wrote; the failure is then recorded outside the transaction so the next
// run reports it.
func (d *DB) applyFile(ctx context.Context, s migrationSession, dir migrate.Dir, f migrate.File, revs *revisions, log *slog.Logger) error {
	before, err := revs.ReadRevision(ctx, f.Version())
	switch {
	case errors.Is(err, migrate.ErrRevisionNotExist):
		before = nil
	case err != nil:
		return err
	case before.Error != "":
		log.Warn("retrying a migration that failed before", "file", f.Name(), "failed_at", before.ExecutedAt, "error", before.Error)
	}
	start := time.Now()
	log.Info("applying migration", "file", f.Name())
	noTx := d.dialect == dialect.Postgres && txModeNone(f)
	var last *migrate.Revision
	if noTx {
		// Statements commit one by one and the executor records the
		// progress itself, so a retry resumes after the last that
		// succeeded.
		err = d.execute(ctx, d.pool, dir, f, before, &last)
	} else {
		err = s.unit(ctx, func(q execQuerier) error { return d.execute(ctx, q, dir, f, before, &last) })
	}
	if err != nil {
		if !noTx && last != nil {
			// Rolled back: keep the error, not the progress.
			failed := *last
			failed.Applied, failed.PartialHashes = 0, nil
			if before != nil {
				failed.Applied, failed.PartialHashes = before.Applied, before.PartialHashes
			}
			// PostgreSQL refused the executor's own record of the error
			// in the aborted transaction: take it from the error.
			failed.Error, failed.ErrorStmt = err.Error(), ""
			var serr *migrate.StmtExecError
			if errors.As(err, &serr) {
				failed.Error, failed.ErrorStmt = serr.Err.Error(), serr.Stmt.Text
			}
			failed.ExecutionTime = time.Since(start)
			if werr := revs.WriteRevision(ctx, &failed); werr != nil {
				err = errors.Join(err, fmt.Errorf("record the failure: %w", werr))
			}
		}
		return fileError(f, last, noTx, err)
	}
	log.Info("applied migration", "file", f.Name(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// execute runs f's pending statements with Atlas's executor on q,
// recording its revision there; last, if not nil, receives the last
// revision the executor wrote. before is f's revision from an earlier
// attempt that failed, or nil.
func (d *DB) execute(ctx context.Context, q execQuerier, dir migrate.Dir, f migrate.File, before *migrate.Revision, last **migrate.Revision) error {
	drv, err := d.atlasDriver(q)
	if err != nil {
		return err
	}
	revs := &revisions{q: q, dialect: d.dialect, last: last}
	// The executor resumes a revision it finds, keeping its statement
	// count; the file may have been fixed since it failed (a different
	// count), so start over from a fresh revision when nothing of it
	// stayed applied, and otherwise count the statements again.
	switch {
	case before == nil:
	case before.Applied == 0:
		if err := revs.DeleteRevision(ctx, f.Version()); err != nil {
			return err
		}
	default:
		stmts, err := migrate.FileStmtDecls(drv, f)
		if err != nil {
			return err
		}
		again := *before
		again.Total = len(stmts)
		if err := revs.WriteRevision(ctx, &again); err != nil {
			return err
		}
	}
	ex, err := migrate.NewExecutor(drv, dir, revs, d.executorOptions()...)
	if err != nil {
		return err
	}
	return ex.Execute(ctx, f)
}

// fileError names the file and the statement that failed.
func fileError(f migrate.File, last *migrate.Revision, noTx bool, err error) error {
	where := ""
	var serr *migrate.StmtExecError
	if errors.As(err, &serr) {
		where = fmt.Sprintf(" at statement %q", strings.TrimSpace(serr.Stmt.Text))
		if last != nil {
			where = fmt.Sprintf(" at statement %d of %d (%q)", last.Applied+1, last.Total, strings.TrimSpace(serr.Stmt.Text))
		}
		err = serr.Err
	}
	outcome := "rolled back"
	if noTx {
		outcome = "the statements before it stay applied"
	}
	return fmt.Errorf("migration %s failed%s: %w (%s; recorded in %s, the next run retries it)", f.Name(), where, err, outcome, revisionsTable)
}

// txModeNone reports the `-- atlas:txmode none` directive.
func txModeNone(f migrate.File) bool {
	lf, ok := f.(*migrate.LocalFile)
	if !ok {
		return false
	}
	ds := lf.Directive("txmode")
	return len(ds) == 1 && ds[0] == "none"
}
