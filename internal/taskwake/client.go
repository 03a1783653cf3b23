package taskwake

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client is the Redis client one asynq server dequeues through
// (asynq.NewServerFromRedisClient): every command passes straight to the
// wrapped client, except that a dequeue waits while the server is idle.
//
// Idle means: since the last task found (or the last wait), a dequeue of
// every one of the server's queues came back empty, and no wake-up has
// come since the first of them was sent. Then the next dequeue waits for
// a wake-up meant for it or for the fallback interval, whichever comes
// first. asynq
// calls a server's dequeues from one goroutine, one at a time, so give
// each server a Client of its own (they may share the Signal and the
// wrapped client).
type Client struct {
	redis.UniversalClient
	sig      *Signal
	queues   []string
	fallback time.Duration

	mu     sync.Mutex
	streak bool            // dequeues have come back empty since the last task found
	gen    uint64          // generation before the streak's first dequeue was sent
	empty  map[string]bool // queues found empty in the streak

	waits atomic.Int64 // dequeues that waited
}

// NewClient wraps rdb for an asynq server that processes queues. A
// dequeue of an idle server waits for sig, or at most fallback.
func NewClient(rdb redis.UniversalClient, sig *Signal, queues []string, fallback time.Duration) *Client {
	return &Client{UniversalClient: rdb, sig: sig, queues: queues, fallback: fallback, empty: map[string]bool{}}
}

// EvalSha runs a script by its hash; see Client.
func (c *Client) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	q, ok := dequeueQueue(keys)
	if !ok {
		return c.UniversalClient.EvalSha(ctx, sha1, keys, args...)
	}
	gen := c.wait(ctx)
	cmd := c.UniversalClient.EvalSha(ctx, sha1, keys, args...)
	c.observe(q, gen, cmd.Err())
	return cmd
}

// Eval runs a script (asynq's fallback when Redis does not know its
// hash yet); see Client.
func (c *Client) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	q, ok := dequeueQueue(keys)
	if !ok {
		return c.UniversalClient.Eval(ctx, script, keys, args...)
	}
	gen := c.wait(ctx)
	cmd := c.UniversalClient.Eval(ctx, script, keys, args...)
	c.observe(q, gen, cmd.Err())
	return cmd
}

// Waits is how many dequeues have waited for a wake-up: once it grows,
// the server has found its queues empty and sleeps.
func (c *Client) Waits() int64 { return c.waits.Load() }

// dequeueQueue recognises asynq's dequeue script by its keys
// (asynq:{q}:pending, :paused, :active, :lease; see asynq's
// internal/rdb.Dequeue) and returns the queue's name.
func dequeueQueue(keys []string) (string, bool) {
	if len(keys) != 4 || !strings.HasSuffix(keys[0], "}:pending") || !strings.HasSuffix(keys[1], "}:paused") ||
		!strings.HasSuffix(keys[2], "}:active") || !strings.HasSuffix(keys[3], "}:lease") {
		return "", false
	}
	k := strings.TrimSuffix(keys[0], "}:pending")
	open := strings.Index(k, ":{")
	if open < 0 {
		return "", false
	}
	return k[open+2:], true
}

// wait blocks while the server is idle, then returns the generation the
// dequeue about to be sent belongs to.
func (c *Client) wait(ctx context.Context) uint64 {
	c.mu.Lock()
	idle := c.streak && c.coversAll()
	streakGen := c.gen
	c.mu.Unlock()
	if idle {
		if woken, done, ok := c.sig.wait(streakGen); ok {
			c.waits.Add(1)
			t := time.NewTimer(c.fallback)
			select {
			case <-woken:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
			done()
		}
		// Woken, timed out or stopped: the next round looks at every
		// queue again before anyone waits.
		c.mu.Lock()
		c.streak = false
		clear(c.empty)
		c.mu.Unlock()
	}
	// Read before the command is sent: a wake-up that arrives while it
	// runs then counts as new.
	return c.sig.generation()
}

func (c *Client) coversAll() bool {
	for _, q := range c.queues {
		if !c.empty[q] {
			return false
		}
	}
	return true
}

// observe records a dequeue's outcome: an empty queue extends the
// streak; a task (or an error) ends it.
func (c *Client) observe(queue string, gen uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !errors.Is(err, redis.Nil) {
		c.streak = false
		clear(c.empty)
		return
	}
	if !c.streak {
		c.streak, c.gen = true, gen
		clear(c.empty)
	}
	c.gen = min(c.gen, gen)
	c.empty[queue] = true
}
