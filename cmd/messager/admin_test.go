package main

import (
	"context"
	"strings"
	"testing"

	"github.com/messager/messager/internal/storage"
)

func TestAdmin_GrantAndRevokeOnTheConfiguredDatabase(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := storage.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := db.Users().Create(ctx, storage.NewUser{Username: "Ops", Email: "ops@example.com", PasswordHash: "x", Usercode: "OPS123"})
	if err != nil {
		t.Fatal(err)
	}
	isAdmin := func() bool {
		ok, err := db.Users().IsAdmin(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	t.Setenv("MESSAGER_DATABASE_URL", "")
	out, _, err := run(t, "admin", "grant", "ops", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "Ops is now an admin") || !isAdmin() {
		t.Fatalf("grant: %q, %v, admin %v", out, err, isAdmin())
	}
	out, _, err = run(t, "admin", "revoke", "OPS", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "no longer an admin") || isAdmin() {
		t.Fatalf("revoke: %q, %v, admin %v", out, err, isAdmin())
	}
	if _, _, err := run(t, "admin", "grant", "nobody", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), `no account named "nobody"`) {
		t.Fatalf("grant to an unknown username: %v", err)
	}
	if _, _, err := run(t, "admin", "grant", "--data-dir", dir); err == nil {
		t.Fatal("grant without a username succeeded")
	}
}
