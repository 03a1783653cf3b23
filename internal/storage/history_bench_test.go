package storage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/messager/messager/ent/message"
	"github.com/messager/messager/ent/messagerecipient"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/testenv"
)

// historyDepth is how many messages the benchmarked user has.
const historyDepth = 100_000

// seedHistory gives users[0] historyDepth messages with multi-row inserts
// in one transaction: a third sent DMs, a third received DMs, a third
// received broadcasts (each also delivered to a bystander), plus DMs
// between the others that users[0] must never see, each at the next
// position of every mailbox it is in, as SaveBatch places them. It
// returns the ids of users[0]'s messages, oldest first.
func seedHistory(b *testing.B, db *storage.DB, users []storage.User) []string {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	me, peer, bystander := users[0], users[1], users[2]
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	d := entsql.Dialect(db.Dialect())
	const chunk = 1000      // 7 params a row: far under both databases' limits
	last := map[int]int64{} // each user's newest position
	next := func(u storage.User) int64 { last[u.ID]++; return last[u.ID] }
	var mine []string
	now := time.Now().UTC()
	total := historyDepth + historyDepth/10
	for lo := 0; lo < total; lo += chunk {
		msgs := d.Insert(message.Table).Columns(message.FieldID, message.FieldSenderID, message.FieldToID, message.FieldBody, message.FieldBroadcast, message.FieldCreatedAt, message.FieldSenderSeq)
		recs := d.Insert(messagerecipient.Table).Columns(messagerecipient.FieldMessageID, messagerecipient.FieldRecipientID, messagerecipient.FieldCreatedAt, messagerecipient.FieldSeq)
		for n := lo; n < min(lo+chunk, total); n++ {
			id := msgID(n)
			at := epoch.Add(time.Duration(n) * time.Millisecond)
			body := fmt.Sprintf("message number %d with a body of ordinary length", n)
			switch {
			case n%11 == 10: // noise among the others
				msgs.Values(id, peer.ID, bystander.ID, body, false, at, next(peer))
				recs.Values(id, bystander.ID, now, next(bystander))
				continue
			case n%3 == 0:
				msgs.Values(id, me.ID, peer.ID, body, false, at, next(me))
				recs.Values(id, peer.ID, now, next(peer))
			case n%3 == 1:
				msgs.Values(id, peer.ID, me.ID, body, false, at, next(peer))
				recs.Values(id, me.ID, now, next(me))
			default:
				sender := users[3+n%(len(users)-3)]
				msgs.Values(id, sender.ID, nil, body, true, at, next(sender))
				recs.Values(id, me.ID, now, next(me))
				recs.Values(id, bystander.ID, now, next(bystander))
			}
			mine = append(mine, id)
		}
		for _, ins := range []*entsql.InsertBuilder{msgs, recs} {
			q, args := ins.Query()
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				b.Fatal(err)
			}
		}
		if len(mine) >= historyDepth {
			break
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	// A long-running database has statistics; give the planner them too.
	if _, err := db.SQL().ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: seeded %d messages for one user in %v", db.Dialect(), len(mine), time.Since(start).Round(time.Millisecond))
	return mine
}

// BenchmarkHistoryPage times History(limit 50) for a user with 100k
// messages: the newest page, and pages before random cursors. SQLite
// always; PostgreSQL too when MESSAGER_TEST_DATABASE_URL is set. Seeding
// happens once per database, outside the timed loops. p99-ns is the 99th
// percentile of the timed calls.
func BenchmarkHistoryPage(b *testing.B) {
	type backend struct {
		name string
		open func(b *testing.B) *storage.DB
	}
	backends := []backend{{"sqlite", func(b *testing.B) *storage.DB {
		db, err := storage.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), "")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
		if err := db.Migrate(context.Background()); err != nil {
			b.Fatal(err)
		}
		return db
	}}}
	if strings.HasPrefix(os.Getenv(testenv.EnvDatabaseURL), "postgres") {
		backends = append(backends, backend{"postgres", func(b *testing.B) *storage.DB { return testenv.DB(b) }})
	}
	for _, be := range backends {
		b.Run("db="+be.name, func(b *testing.B) {
			db := be.open(b)
			users := makeUsers(b, db, 8)
			ids := seedHistory(b, db, users)
			me := users[0].ID
			s := db.Messages()
			ctx := context.Background()
			for _, page := range []struct {
				name   string
				cursor func(r *rand.Rand) string
			}{
				{"page=newest", func(*rand.Rand) string { return "" }},
				{"page=random", func(r *rand.Rand) string { return ids[50+r.IntN(len(ids)-50)] }},
			} {
				b.Run(page.name, func(b *testing.B) {
					r := rand.New(rand.NewPCG(1, 2))
					lat := make([]time.Duration, 0, 1024)
					b.ReportAllocs()
					for b.Loop() {
						cursor := page.cursor(r)
						t0 := time.Now()
						ms, err := s.History(ctx, me, cursor, 50)
						lat = append(lat, time.Since(t0))
						if err != nil {
							b.Fatal(err)
						}
						if len(ms) != 50 {
							b.Fatalf("page of %d before %q, want 50", len(ms), cursor)
						}
					}
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
				})
			}
		})
	}
}
