//go:build unix

package storage_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/testenv"
)

// BenchmarkLoneCommand sends one GETEX every 4 ms, the pace of a session
// look-up at ~250 requests/s, through the plain client, go-redis's
// auto-pipeliner and storage.AutoPipeline, and reports the process's CPU
// time and context switches per command (the 4 ms sleep's own wake-up
// included: compare the clients, not the absolute figures). Against a
// real Redis set MESSAGER_TEST_REDIS_URL; otherwise the embedded one
// answers. For example:
//
//	MESSAGER_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test ./internal/storage -run '^$' -bench LoneCommand -benchtime 1000x -count 3
func BenchmarkLoneCommand(b *testing.B) {
	rdb, _ := testenv.RedisClient(b)
	ap, err := rdb.(*redis.Client).AutoPipeline()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		rdb  redis.Cmdable
	}{{"plain", rdb}, {"auto-pipeliner", ap}, {"storage.AutoPipeline", storage.AutoPipeline(rdb)}} {
		b.Run("client="+c.name, func(b *testing.B) {
			cpu0, sw0 := usage(b)
			for b.Loop() {
				if err := c.rdb.GetEx(ctx, "k", time.Hour).Err(); err != nil {
					b.Fatal(err)
				}
				time.Sleep(4 * time.Millisecond)
			}
			cpu1, sw1 := usage(b)
			b.ReportMetric(float64(cpu1-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(sw1-sw0)/float64(b.N), "switches/op")
		})
	}
}

// usage returns the process's CPU time and context switches so far.
func usage(b *testing.B) (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Nvcsw + ru.Nivcsw)
}
