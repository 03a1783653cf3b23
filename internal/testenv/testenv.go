// Package testenv gives tests a Redis and a database: the real services
// named by MESSAGER_TEST_REDIS_URL and MESSAGER_TEST_DATABASE_URL when set
// (as .ci/run sets them), else an embedded Redis and a SQLite file, so
// `go test ./...` works on a machine with nothing but Go.
//
// Each test gets its own Redis logical database (claimed with a lock key so
// packages running in parallel never share one) and its own PostgreSQL
// database, so tests never see each other's keys, queues or rows.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/messager/messager/internal/embedredis"
	"github.com/messager/messager/internal/storage"
)

// Env var names that point tests at real services.
const (
	EnvRedisURL    = "MESSAGER_TEST_REDIS_URL"
	EnvDatabaseURL = "MESSAGER_TEST_DATABASE_URL"
)

// Redis returns the URL of a Redis database for this test alone, emptied
// before use. With no MESSAGER_TEST_REDIS_URL it starts an embedded server.
func Redis(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvRedisURL)
	if base == "" {
		srv, err := embedredis.Start("127.0.0.1:0")
		if err != nil {
			t.Fatalf("embedded redis: %v", err)
		}
		t.Cleanup(func() { srv.Close(context.Background()) })
		return srv.URL()
	}
	opt, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvRedisURL, err)
	}
	ctx := context.Background()
	// Whatever database the URL names, the locks live in database 0.
	opt.DB = 0
	lockClient := redis.NewClient(opt)
	defer lockClient.Close()
	token := randomHex(8)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// Databases 1..15; the lock lives in database 0 so it survives FLUSHDB.
		for db := 1; db <= 15; db++ {
			key := fmt.Sprintf("messager:testenv:db:%d", db)
			ok, err := lockClient.SetNX(ctx, key, token, 10*time.Minute).Result()
			if err != nil {
				t.Fatalf("claim a redis database at %s: %v", base, err)
			}
			if !ok {
				continue
			}
			o := *opt
			o.DB = db
			c := redis.NewClient(&o)
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Fatalf("flush redis db %d: %v", db, err)
			}
			_ = c.Close()
			t.Cleanup(func() {
				c := redis.NewClient(opt)
				defer c.Close()
				if v, _ := c.Get(context.Background(), key).Result(); v == token {
					c.Del(context.Background(), key)
				}
			})
			u, _ := url.Parse(base)
			u.Path = fmt.Sprintf("/%d", db)
			return u.String()
		}
		if time.Now().After(deadline) {
			t.Fatal("no free redis test database in 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// RedisClient is Redis wrapped in a client closed at the end of the test.
func RedisClient(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	u := Redis(t)
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c, u
}

// DatabaseURL returns the URL of an empty database for this test alone: a
// fresh PostgreSQL database under MESSAGER_TEST_DATABASE_URL, dropped
// afterwards, or a SQLite file in a temporary directory.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		return filepath.Join(t.TempDir(), "test.db")
	}
	name := "messager_test_" + randomHex(6)
	if err := execSQL(base, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database under %s: %v", EnvDatabaseURL, err)
	}
	t.Cleanup(func() { _ = execSQL(base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// ExecSQL runs stmts, in order, on the database at url (one DatabaseURL
// returned, or any URL storage.Open takes) over a connection of its own:
// for a test that must put a database in a state no storage method makes,
// such as a schema missing a column.
func ExecSQL(t testing.TB, url string, stmts ...string) {
	t.Helper()
	if err := execSQL(url, stmts...); err != nil {
		t.Fatal(err)
	}
}

func execSQL(url string, stmts ...string) error {
	driver, dsn := "pgx", url
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite://"), "file:")
		path, _, _ = strings.Cut(path, "?")
		driver, dsn = "sqlite", "file:"+path+"?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// DB opens and migrates a database for this test alone.
func DB(t testing.TB) *storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, DatabaseURL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// Backends names the services in use, for test logs.
func Backends() string {
	r, d := "embedded redis", "sqlite"
	if os.Getenv(EnvRedisURL) != "" {
		r = "redis " + os.Getenv(EnvRedisURL)
	}
	if u := os.Getenv(EnvDatabaseURL); strings.HasPrefix(u, "postgres") {
		d = "postgresql"
	}
	return r + " + " + d
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
