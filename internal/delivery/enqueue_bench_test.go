package delivery

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/testenv"
)

// BenchmarkEnqueueDeliver measures the API's share of a send: queueing a
// direct message for the workers (on the embedded Redis, or the real one
// named by MESSAGER_TEST_REDIS_URL). "task-per-message" is one asynq task
// per message, sent one after another; "grouped-16" is the API's path,
// GroupEnqueuer, with 16 concurrent senders per CPU, so sends that pile up
// behind an in-flight enqueue share one task. ns/op is per message.
func BenchmarkEnqueueDeliver(b *testing.B) {
	opt, err := redis.ParseURL(testenv.Redis(b))
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	q := NewAsynqEnqueuer(asynq.NewClientFromRedisClient(rdb))
	var seq atomic.Int64
	delivery := func() Delivery {
		to := 2
		return Delivery{SenderID: 1, ToID: &to, Recipients: []int{2}, Message: events.Message{
			ID:     fmt.Sprintf("01a21a36-0000-7000-8000-%012d", seq.Add(1)),
			Sender: events.UserRef{Usercode: "AAAAAA", Username: "alice"}, Body: "hello there", CreatedAt: time.Now().UTC(),
		}}
	}
	ctx := context.Background()
	b.Run("task-per-message", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := q.Enqueue(ctx, delivery()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("grouped-16", func(b *testing.B) {
		g := NewGroupEnqueuer(q)
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := g.Enqueue(ctx, delivery()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
