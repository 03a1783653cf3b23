package messaging

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/pkg/events"
	"github.com/messager/messager/pkg/testenv"
)

// BenchmarkEnqueueDeliver measures the API's share of a send: one asynq
// enqueue of a direct-message task (on the embedded Redis, or the real one
// named by MESSAGER_TEST_REDIS_URL).
func BenchmarkEnqueueDeliver(b *testing.B) {
	opt, err := redis.ParseURL(testenv.Redis(b))
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	q := NewAsynqEnqueuer(asynq.NewClientFromRedisClient(rdb))
	to := 2
	d := Delivery{SenderID: 1, ToID: &to, Recipients: []int{2}, Message: events.Message{
		Sender: events.UserRef{Usercode: "AAAAAA", Username: "alice"}, Body: "hello there", CreatedAt: time.Now().UTC(),
	}}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Message.ID = fmt.Sprintf("01a21a36-0000-7000-8000-%012d", i)
		if err := q.Enqueue(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}
