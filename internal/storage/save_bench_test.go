package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/testenv"
)

// BenchmarkSaveBatch measures the worker's write: one SaveBatch of n DMs,
// or of one broadcast to 1,000 recipients, on SQLite or (with
// MESSAGER_TEST_DATABASE_URL) PostgreSQL. ns/op is per batch; msgs/s and
// rows/s are what one writer sustains at that batch size.
func BenchmarkSaveBatch(b *testing.B) {
	for _, bc := range []struct {
		name       string
		messages   int
		recipients int
	}{
		{"dm-1", 1, 1}, {"dm-16", 16, 1}, {"dm-128", 128, 1}, {"broadcast-1000", 1, 1000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db := testenv.DB(b)
			users := makeUsers(b, db, bc.recipients+1)
			s := db.Messages()
			ctx := context.Background()
			n := 0
			batch := make([]storage.NewMessage, bc.messages)
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					n++
					if bc.recipients == 1 {
						batch[i] = dm(n, users[0], users[1])
					} else {
						batch[i] = broadcast(n, users[0], users[1:]...)
					}
					batch[i].ClientID = fmt.Sprint("c", n)
				}
				if _, err := s.SaveBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(n)/secs, "msgs/s")
			b.ReportMetric(float64(n*bc.recipients)/secs, "rows/s")
		})
	}
}
