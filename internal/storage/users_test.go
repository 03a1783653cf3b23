package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/testenv"
)

// Under `messager all` the first account becomes the admin. Registrations
// racing on an empty database must still make exactly one admin, and once
// it is revoked nobody is promoted behind the operator's back.
func TestUsers_FirstAdminIsExactlyOneUnderConcurrentRegistrations(t *testing.T) {
	db := testenv.DB(t)
	users := db.Users()
	ctx := context.Background()
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := users.Create(ctx, storage.NewUser{Username: fmt.Sprintf("racer%d", i), Email: "r@example.com", PasswordHash: "x", Usercode: fmt.Sprintf("RACE%02d", i), FirstAdmin: true})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	admins, _, err := users.Admins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(admins) != 1 {
		t.Fatalf("%d admins after %d concurrent first registrations, want exactly 1: %+v", len(admins), n, admins)
	}
	if _, err := users.SetAdmin(ctx, admins[0].Username, false); err != nil {
		t.Fatal(err)
	}
	late, err := users.Create(ctx, storage.NewUser{Username: "late", Email: "l@example.com", PasswordHash: "x", Usercode: "LATE00", FirstAdmin: true})
	if err != nil || late.Admin {
		t.Fatalf("a later account after the only admin was revoked: admin %v, %v; want not promoted", late.Admin, err)
	}
}
