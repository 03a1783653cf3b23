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
	"github.com/XSAM/otelsql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/messager/messager/ent"
)

// ErrUnavailable wraps errors that mean the database did not answer, so
// callers can map them to 503 rather than 500.
var ErrUnavailable = errors.New("database unavailable")

// DB is an open database. Its ent client, pool and dialect stay inside
// storage: callers get what they need through methods (Users, Messages,
// Writers, StatsCollector, Dialect), so SQL and dialect rules live here.
type DB struct {
	client  *ent.Client
	pool    *sql.DB
	dialect string
	// schema caches a complete schema (CheckSchema).
	schema schemaChecked
}

// OpenOption configures Open.
type OpenOption func(*openOptions)

type openOptions struct {
	tracer trace.TracerProvider
}

// WithTracing makes a span of every statement, transaction and
// connection, on tp. The spans carry the statement with its placeholders,
// never its arguments (message bodies, password hashes).
//
// Both dialects go through database/sql (PostgreSQL through pgx's stdlib
// driver), so one database/sql instrumentation (otelsql) traces both,
// the embedded SQLite as well as PostgreSQL, rather than pgx's own tracer
// for PostgreSQL alone.
func WithTracing(tp trace.TracerProvider) OpenOption {
	return func(o *openOptions) { o.tracer = tp }
}

// Open connects to url: postgres://… (or postgresql://…) opens PostgreSQL
// through pgx; anything else is a SQLite file path, and an empty url means
// messager.db inside dataDir.
func Open(ctx context.Context, rawURL, dataDir string, opts ...OpenOption) (*DB, error) {
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	driver, dsn, dia, err := dsnFor(rawURL, dataDir)
	if err != nil {
		return nil, err
	}
	var db *sql.DB
	if o.tracer != nil {
		system := semconv.DBSystemNamePostgreSQL
		if dia == dialect.SQLite {
			system = semconv.DBSystemNameSQLite
		}
		db, err = otelsql.Open(driver, dsn,
			otelsql.WithTracerProvider(o.tracer),
			// Database metrics are Prometheus's job.
			otelsql.WithMeterProvider(metricnoop.NewMeterProvider()),
			otelsql.WithAttributes(system),
			otelsql.WithSpanOptions(otelsql.SpanOptions{OmitConnResetSession: true, OmitRows: true, DisableErrSkip: true}),
		)
	} else {
		db, err = sql.Open(driver, dsn)
	}
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
	return &DB{client: ent.NewClient(ent.Driver(drv)), pool: db, dialect: dia}, nil
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

// Dialect names the database: "postgres" or "sqlite3" (ent's dialect
// names), for messages to operators.
func (d *DB) Dialect() string { return d.dialect }

// Writers is how many goroutines should write messages (SaveBatch) at
// once. SQLite runs one write transaction at a time, so a second writer
// would only queue behind the first; PostgreSQL takes two, which keeps the
// database busy while the other writer publishes.
func (d *DB) Writers() int {
	if d.dialect == dialect.SQLite {
		return 1
	}
	return 2
}

// StatsCollector exports the connection pool's statistics (database/sql's
// DBStats) to Prometheus as the go_sql_* metrics, labelled db_name="messager".
func (d *DB) StatsCollector() prometheus.Collector {
	return collectors.NewDBStatsCollector(d.pool, "messager")
}

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Close closes the pool.
func (d *DB) Close() error { return d.client.Close() }
