package storage_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/messager/messager/internal/storage"
)

// A unique violation is recognised by the constraint the driver names
// (PostgreSQL's constraint name, SQLite's column list), not by words in
// its message, and maps to the field of that constraint; other
// constraint failures are rejections, not duplicates.
func TestClassify_UniqueViolationsByConstraint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		users := db.Users()
		ann, err := users.Create(ctx, storage.NewUser{Username: "Ann", Email: "ann@example.com", PasswordHash: "x", Usercode: "ANN001"})
		if err != nil {
			t.Fatal(err)
		}
		exec := func(q string) error {
			_, err := db.SQL().ExecContext(ctx, q)
			return storage.Classify(err)
		}
		msg := func(id, clientID string) string {
			return "INSERT INTO messages (id, body, created_at, sender_id, client_id) VALUES ('" + id + "', 'hi', CURRENT_TIMESTAMP, " +
				strconv.Itoa(ann.ID) + ", '" + clientID + "')"
		}
		if err := exec(msg(msgID(1), "c1")); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name  string
			write func() error
			field string
		}{
			{"username, ignoring case", func() error {
				_, err := users.Create(ctx, storage.NewUser{Username: "aNN", Email: "a@example.com", PasswordHash: "x", Usercode: "ANN002"})
				return err
			}, "username"},
			{"usercode", func() error {
				_, err := users.Create(ctx, storage.NewUser{Username: "Bob", Email: "b@example.com", PasswordHash: "x", Usercode: "ANN001"})
				return err
			}, "usercode"},
			{"message id", func() error { return exec(msg(msgID(1), "c2")) }, "id"},
			{"client_id of the sender", func() error { return exec(msg(msgID(2), "c1")) }, "client_id"},
		} {
			err := c.write()
			var dup *storage.DuplicateError
			if !errors.As(err, &dup) || dup.Field != c.field {
				t.Errorf("%s: %v (%T); want a duplicate %s", c.name, err, err, c.field)
			}
		}
		err = exec("INSERT INTO messages (id, body, created_at, sender_id) VALUES ('" + msgID(3) + "', 'hi', CURRENT_TIMESTAMP, 999999)")
		var dup *storage.DuplicateError
		if !errors.Is(err, storage.ErrRejected) || errors.As(err, &dup) {
			t.Errorf("a broken foreign key: %v; want ErrRejected, not a duplicate", err)
		}
	})
}
