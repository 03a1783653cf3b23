package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/testenv"
)

// A database that was never migrated answers pings, but every request
// would fail: the pod is not ready, and /readyz says why.
func TestReady_UnmigratedDatabaseIs503NotMigrated(t *testing.T) {
	b := newBackends(t)
	cfg := config.Default()
	cfg.Spec.Redis.URL = b.redisURL
	cfg.Spec.Database.URL = b.dbURL
	cfg.Spec.DataDir = t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), Options{Config: cfg, Mode: ModeAPI, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Listener: ln, PasswordHasher: newFastHasher()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	c := &client{t: t, base: "http://" + a.Addr()}

	res, body := c.do("GET", "/readyz", nil)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz on a database never migrated: %d %s, want 503", res.StatusCode, body)
	}
	if p := decodeProblem(t, res, body); !strings.Contains(p.Detail, "database not migrated") {
		t.Fatalf("readyz does not say the database is not migrated: %s", body)
	}

	if err := a.db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res, body := c.do("GET", "/readyz", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("readyz after migrating: %d %s, want 200", res.StatusCode, body)
	}
}

// A schema missing only the newest column (a binary upgraded without
// migrating) is not ready either.
func TestReady_SchemaMissingTheNewestColumnIsNotReady(t *testing.T) {
	b := newBackends(t)
	a := startApp(t, ModeAPI, b)
	testenv.ExecSQL(t, a.cfg.Spec.Database.URL, `ALTER TABLE users DROP COLUMN last_seen_at`)
	// A second process on the same database, started without migrating.
	cfg := *a.cfg
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := New(context.Background(), Options{Config: &cfg, Mode: ModeAPI, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Listener: ln, PasswordHasher: newFastHasher()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a2.Shutdown(context.Background()) })
	c2 := &client{t: t, base: "http://" + a2.Addr()}
	res, body := c2.do("GET", "/readyz", nil)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "database not migrated") {
		t.Fatalf("readyz without users.last_seen_at: %d %s, want 503 database not migrated", res.StatusCode, body)
	}
}
