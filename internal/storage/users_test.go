package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

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

// SetLastSeen (presence sweeps, logouts) and SaveBatch (the worker) write
// the same users' rows at once. SaveBatch locks them in ascending id
// order; if SetLastSeen locked them in any other order (an UPDATE locks
// rows in the order its plan meets them: on a small table a sequential
// scan, in physical order, which updates reshuffle) the two could each
// hold a row the other waits for, and PostgreSQL would kill one with a
// deadlock error (40P01) after deadlock_timeout. Run side by side many
// times over the same users, neither may fail.
func TestUsers_SetLastSeenAndSaveBatchNeverDeadlock(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 8)
	ids := make([]int, len(u))
	for i, x := range u {
		ids[len(u)-1-i] = x.ID // descending on purpose
	}
	ctx := context.Background()
	const rounds, each = 100, 2
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for w := range each {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range rounds {
				n := 1 + w*rounds + i
				// Every user, sender first: locks all of them, ascending.
				if _, err := db.Messages().SaveBatch(ctx, []storage.NewMessage{broadcast(n, u[n%len(u)], u...)}); err != nil {
					errs <- fmt.Errorf("SaveBatch: %w", err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range rounds {
				if err := db.Users().SetLastSeen(ctx, ids[i%2:], epoch.Add(time.Duration(i)*time.Second)); err != nil {
					errs <- fmt.Errorf("SetLastSeen: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, x := range u {
		got, err := db.Users().ByID(ctx, x.ID)
		if err != nil || got.LastSeenAt == nil || got.LastSeenAt.Before(epoch) {
			t.Fatalf("user %d last seen %v, %v; want set", x.ID, got.LastSeenAt, err)
		}
	}
}
