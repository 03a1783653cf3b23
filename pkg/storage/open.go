package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the pure-Go "sqlite" driver

	"github.com/messager/messager/ent"
	"github.com/messager/messager/ent/migrate"
)

// ErrUnavailable wraps errors that mean the database did not answer, so
// callers can map them to 503 rather than 500.
var ErrUnavailable = errors.New("database unavailable")

// DB is an open database with its ent client.
type DB struct {
	Ent     *ent.Client
	SQL     *sql.DB
	Dialect string
}

// Open connects to url: postgres://… (or postgresql://…) opens PostgreSQL
// through pgx; anything else is a SQLite file path, and an empty url means
// messager.db inside dataDir.
func Open(ctx context.Context, rawURL, dataDir string) (*DB, error) {
	driver, dsn, dia, err := dsnFor(rawURL, dataDir)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dia, err)
	}
	if dia == dialect.SQLite {
		// SQLite allows one writer at a time; a small pool keeps writers
		// queueing in Go instead of spinning on busy_timeout.
		db.SetMaxOpenConns(4)
	} else {
		db.SetMaxOpenConns(40)
		db.SetMaxIdleConns(40)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to %s: %w", dia, err)
	}
	drv := entsql.OpenDB(dia, db)
	return &DB{Ent: ent.NewClient(ent.Driver(drv)), SQL: db, Dialect: dia}, nil
}

func dsnFor(rawURL, dataDir string) (driver, dsn, dia string, err error) {
	if strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://") {
		if _, err := url.Parse(rawURL); err != nil {
			return "", "", "", fmt.Errorf("database url: %w", err)
		}
		return "pgx", rawURL, dialect.Postgres, nil
	}
	path := rawURL
	if path == "" {
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return "", "", "", fmt.Errorf("create data dir: %w", err)
		}
		path = filepath.Join(dataDir, "messager.db")
	}
	path = strings.TrimPrefix(path, "sqlite://")
	path = strings.TrimPrefix(path, "file:")
	path, _, _ = strings.Cut(path, "?")
	q := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "sqlite", "file:" + path + "?" + q.Encode(), dialect.SQLite, nil
}

// Migrate creates or updates the schema. It is safe to run on every start.
func (d *DB) Migrate(ctx context.Context) error {
	if err := d.Ent.Schema.Create(ctx, migrate.WithDropIndex(true)); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return nil
}

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.SQL.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Close closes the pool.
func (d *DB) Close() error { return d.Ent.Close() }
