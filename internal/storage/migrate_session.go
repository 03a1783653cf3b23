package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect"
)

// execQuerier is what migrations run on: the pool, a connection or a
// transaction.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// A migrationSession is one process's exclusive turn at migrating: no
// other Migrate on the same database runs until it ends.
type migrationSession interface {
	// q is where revisions are read and failures recorded.
	q() execQuerier
	// unit runs fn in a unit that commits or rolls back as a whole.
	unit(ctx context.Context, fn func(execQuerier) error) error
	// end releases the turn; err is the migration's outcome so far.
	end(ctx context.Context, err error) error
}

func (d *DB) beginMigration(ctx context.Context) (migrationSession, error) {
	if d.dialect == dialect.SQLite {
		return beginSQLiteMigration(ctx, d.pool)
	}
	return beginPostgresMigration(ctx, d.pool)
}

// migrationLockID is the PostgreSQL advisory lock key Migrate holds
// ("messager" in ASCII). Advisory locks are per database, so migrations
// of different databases on one server do not wait for each other.
const migrationLockID int64 = 0x6d657373616765

// postgresMigration holds a session-level advisory lock on a connection
// of its own while each file runs in a transaction from the pool.
type postgresMigration struct {
	db   *sql.DB
	conn *sql.Conn
}

func beginPostgresMigration(ctx context.Context, db *sql.DB) (*postgresMigration, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	// pg_try_advisory_lock in a loop, not pg_advisory_lock: a waiter
	// blocked inside a statement holds a snapshot, which a CREATE INDEX
	// CONCURRENTLY in the lock holder's migration would wait for forever.
	delay := 25 * time.Millisecond
	for {
		var locked bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", migrationLockID).Scan(&locked); err != nil {
			discardConn(conn)
			return nil, fmt.Errorf("take the migration lock: %w", err)
		}
		if locked {
			return &postgresMigration{db: db, conn: conn}, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = conn.Close()
			return nil, fmt.Errorf("waiting for another process's migration to finish: %w", ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, time.Second)
	}
}

func (m *postgresMigration) q() execQuerier { return m.db }

func (m *postgresMigration) unit(ctx context.Context, fn func(execQuerier) error) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
		}
		return err
	}
	return tx.Commit()
}

func (m *postgresMigration) end(ctx context.Context, err error) error {
	// Unlock even when ctx is cancelled: a connection that went back to
	// the pool holding the lock would block every later migration.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var released bool
	uerr := m.conn.QueryRowContext(uctx, "SELECT pg_advisory_unlock($1)", migrationLockID).Scan(&released)
	if uerr != nil || !released {
		// Closing the session releases the lock.
		discardConn(m.conn)
		return err
	}
	_ = m.conn.Close()
	return err
}

// sqliteMigration runs the whole migration in one write (IMMEDIATE)
// transaction on a connection of its own: SQLite's single writer is the
// lock. Each file is a savepoint inside it.
type sqliteMigration struct {
	conn *sql.Conn
	tx   *sql.Tx
	// ran is set once a file ran: only then are foreign keys checked
	// (a scan of every table, too slow for each start of a large database).
	ran bool
}

func beginSQLiteMigration(ctx context.Context, db *sql.DB) (*sqliteMigration, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	// Foreign keys off for the migration, as Atlas's own SQLite apply
	// does: a migration that rebuilds a table (SQLite's way to alter a
	// column) would otherwise cascade or fail. The pragma is a no-op
	// inside a transaction, so it is set before BEGIN; the keys are
	// checked before COMMIT instead.
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = off"); err != nil {
		_ = conn.Close()
		return nil, err
	}
	m := &sqliteMigration{conn: conn}
	for {
		// The DSN's _txlock=immediate makes this BEGIN IMMEDIATE: it
		// waits busy_timeout for another writer, then fails busy; a
		// migration in another process may take longer, so wait on.
		m.tx, err = conn.BeginTx(ctx, nil)
		if err == nil {
			return m, nil
		}
		if !isBusy(err) || ctx.Err() != nil {
			m.restore()
			return nil, fmt.Errorf("begin the migration: %w", err)
		}
		// Busy came back at once: do not spin.
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

func (m *sqliteMigration) q() execQuerier { return m.tx }

func (m *sqliteMigration) unit(ctx context.Context, fn func(execQuerier) error) error {
	m.ran = true
	if _, err := m.tx.ExecContext(ctx, "SAVEPOINT migration_file"); err != nil {
		return err
	}
	if err := fn(m.tx); err != nil {
		if _, rerr := m.tx.ExecContext(ctx, "ROLLBACK TO migration_file"); rerr != nil {
			return errors.Join(err, fmt.Errorf("roll back: %w", rerr))
		}
		if _, rerr := m.tx.ExecContext(ctx, "RELEASE migration_file"); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	_, err := m.tx.ExecContext(ctx, "RELEASE migration_file")
	return err
}

// end commits what succeeded, a failed file's record included, unless a
// foreign key no longer holds.
func (m *sqliteMigration) end(ctx context.Context, err error) error {
	defer m.restore()
	if m.ran {
		if ferr := foreignKeyCheck(ctx, m.tx); ferr != nil {
			return errors.Join(err, ferr, m.tx.Rollback())
		}
	}
	if cerr := m.tx.Commit(); cerr != nil {
		return errors.Join(err, fmt.Errorf("commit the migration: %w", cerr))
	}
	return err
}

// restore turns foreign keys back on before the connection goes back to
// the pool, or closes it for good.
func (m *sqliteMigration) restore() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.conn.ExecContext(ctx, "PRAGMA foreign_keys = on"); err != nil {
		discardConn(m.conn)
		return
	}
	_ = m.conn.Close()
}

func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var violations []string
	for rows.Next() {
		var (
			table, parent string
			rowid, fkid   sql.NullInt64
		)
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return err
		}
		violations = append(violations, fmt.Sprintf("%s row %d references a missing %s", table, rowid.Int64, parent))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(violations) > 0 {
		return fmt.Errorf("the migration broke foreign keys, rolled back: %s", strings.Join(violations, "; "))
	}
	return nil
}

// discardConn closes c for good instead of returning it to the pool.
func discardConn(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.Close()
}

// isBusy reports SQLite's SQLITE_BUSY ("database is locked").
func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}
