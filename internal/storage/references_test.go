package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/messager/messager/internal/storage"
)

// Every reference a message or recipient row makes holds on both
// backends, whoever writes: on SQLite by foreign-key constraints, on
// PostgreSQL by messager_save_batch's own checks and triggers for every
// other writer (migration 20261202153000_references_checked_setwise).
func TestReferences_HoldForEveryWriter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		u := makeUsers(t, db, 4)
		ann, bob, cat, dan := u[0], u[1], u[2], u[3] // cat and dan are referenced by nothing
		mustSave(t, db.Messages(), dm(1, ann, bob))
		exec := func(q string) error {
			_, err := db.SQL().ExecContext(ctx, q)
			return storage.Classify(err)
		}
		id := func(u storage.User) string { return strconv.Itoa(u.ID) }
		recipientRow := func(message, recipient string) string {
			return "INSERT INTO message_recipients (message_id, recipient_id, seq, created_at) VALUES ('" + message + "', " + recipient + ", 9, CURRENT_TIMESTAMP)"
		}
		const ghost = "999999"
		for _, c := range []struct{ name, stmt string }{
			{"a recipient row for an unknown user", recipientRow(msgID(1), ghost)},
			{"a recipient row for an unknown message", recipientRow(msgID(99), id(cat))},
			{"a message to an unknown user", "INSERT INTO messages (id, body, created_at, sender_id, to_id) VALUES ('" + msgID(2) + "', 'hi', CURRENT_TIMESTAMP, " + id(ann) + ", " + ghost + ")"},
			{"a message from an unknown user", "INSERT INTO messages (id, body, created_at, sender_id) VALUES ('" + msgID(3) + "', 'hi', CURRENT_TIMESTAMP, " + ghost + ")"},
			{"a recipient row moved to an unknown user", "UPDATE message_recipients SET recipient_id = " + ghost},
			{"a message moved to an unknown sender", "UPDATE messages SET sender_id = " + ghost},
			{"deleting a recipient", "DELETE FROM users WHERE id = " + id(bob)},
			{"deleting a sender", "DELETE FROM users WHERE id = " + id(ann)},
			{"deleting a message that has recipients", "DELETE FROM messages WHERE id = '" + msgID(1) + "'"},
			{"renumbering a sender", "UPDATE users SET id = " + ghost + " WHERE id = " + id(ann)},
		} {
			if err := exec(c.stmt); !errors.Is(err, storage.ErrRejected) {
				t.Errorf("%s: %v; want ErrRejected", c.name, err)
			}
		}
		if db.Dialect() == dialect.Postgres {
			for _, table := range []string{"users", "messages"} {
				if err := exec("TRUNCATE " + table); err == nil {
					t.Errorf("TRUNCATE %s succeeded while messages refer to it", table)
				}
			}
		}
		if n, _ := db.Messages().Count(ctx); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
		if got, err := db.Messages().Recipients(ctx, msgID(1)); err != nil || len(got) != 1 || got[0] != bob.ID {
			t.Errorf("recipients of the message = %v, %v; want only %d", got, err, bob.ID)
		}
		// What refers to something that exists is written; what nothing
		// refers to can go.
		if err := exec(recipientRow(msgID(1), id(cat))); err != nil {
			t.Errorf("a recipient row for a known message and user: %v", err)
		}
		if err := exec("DELETE FROM users WHERE id = " + id(dan)); err != nil {
			t.Errorf("deleting a user nothing refers to: %v", err)
		}
	})
}

// On PostgreSQL the references are no constraints (each checked every row
// with a query of its own), and removing a user waits for a write in
// flight that refers to it, then refuses.
func TestReferences_PostgreSQLChecksThemWithoutConstraints(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		if db.Dialect() != dialect.Postgres {
			t.Skip("SQLite keeps its foreign-key constraints")
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var fks int
		if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid IN ('messages'::regclass, 'message_recipients'::regclass)`).Scan(&fks); err != nil {
			t.Fatal(err)
		}
		if fks != 0 {
			t.Errorf("%d foreign-key constraints on messages and message_recipients; want none", fks)
		}

		u := makeUsers(t, db, 3)
		mustSave(t, db.Messages(), dm(1, u[0], u[1]))
		cat := u[2]
		tx, err := db.SQL().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.ExecContext(ctx, "INSERT INTO message_recipients (message_id, recipient_id, seq, created_at) VALUES ($1, $2, 9, now())", msgID(1), cat.ID); err != nil {
			t.Fatal(err)
		}
		deleted := make(chan error, 1)
		go func() {
			_, err := db.SQL().ExecContext(ctx, "DELETE FROM users WHERE id = $1", cat.ID)
			deleted <- err
		}()
		waitForALockWait(t, db.SQL())
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		err = <-deleted
		var pge *pgconn.PgError
		if !errors.As(err, &pge) || pge.Code != "23503" {
			t.Fatalf("deleting a user a committed write now refers to: %v; want foreign_key_violation (23503)", err)
		}
	})
}

// waitForALockWait returns once some session of the database waits for a
// lock.
func waitForALockWait(t *testing.T, pool *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var waiting int
		if err := pool.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no session waited for a lock within 30 s")
}
