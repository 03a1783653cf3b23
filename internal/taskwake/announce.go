package taskwake

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// AnnouncingClient is the Redis client an asynq.Client enqueues through
// (asynq.NewClientFromRedisClient): every command passes straight to the
// wrapped client, except asynq's enqueue script, which goes out in one
// pipeline with a PUBLISH on the workers' channel announcing one task
// (Listen reads the count). Redis runs the two in order on one
// connection, so the task is queued before any worker hears of it, and an
// enqueue and its notification cost one round trip, not two.
//
// A notification is never needed for correctness: an enqueue whose
// pipeline failed may have queued its task unannounced, and a worker then
// finds it within its fallback interval. One whose task was already
// queued (the same id) announces a task that is not there, and so does the
// first enqueue after Redis lost its scripts (asynq then sends the script
// again, announced again); each costs an idle worker one empty dequeue
// round.
type AnnouncingClient struct {
	redis.UniversalClient
	channel string
}

// NewAnnouncingClient wraps rdb so that asynq enqueues through it announce
// their task on channel (the one the deployment's workers Listen on: one
// per deployment, see storage.PubSubChannel).
func NewAnnouncingClient(rdb redis.UniversalClient, channel string) *AnnouncingClient {
	return &AnnouncingClient{UniversalClient: rdb, channel: channel}
}

// EvalSha runs a script by its hash; see AnnouncingClient.
func (c *AnnouncingClient) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	if !isEnqueue(keys) {
		return c.UniversalClient.EvalSha(ctx, sha1, keys, args...)
	}
	return c.announced(ctx, func(p redis.Pipeliner) *redis.Cmd { return p.EvalSha(ctx, sha1, keys, args...) })
}

// Eval runs a script (asynq's fallback when Redis does not know its hash
// yet); see AnnouncingClient.
func (c *AnnouncingClient) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	if !isEnqueue(keys) {
		return c.UniversalClient.Eval(ctx, script, keys, args...)
	}
	return c.announced(ctx, func(p redis.Pipeliner) *redis.Cmd { return p.Eval(ctx, script, keys, args...) })
}

// announced sends the enqueue script that queue adds to a pipeline, then a
// PUBLISH announcing one task, in one round trip.
func (c *AnnouncingClient) announced(ctx context.Context, queue func(redis.Pipeliner) *redis.Cmd) *redis.Cmd {
	pipe := c.Pipeline()
	cmd := queue(pipe)
	pipe.Publish(ctx, c.channel, "1")
	_, _ = pipe.Exec(ctx) // each command carries its own error
	return cmd
}

// isEnqueue recognises asynq's enqueue script by its keys (asynq:{q}:t:<id>
// and asynq:{q}:pending; see asynq's internal/rdb.Enqueue). Its unique and
// scheduling variants, which messager does not use, go unannounced.
func isEnqueue(keys []string) bool {
	return len(keys) == 2 && strings.Contains(keys[0], "}:t:") && strings.HasSuffix(keys[1], "}:pending")
}
