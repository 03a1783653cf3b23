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
// wrapped client, except that a dequeue waits when there is nothing to find.
//
// That is so in two cases. Idle: since the last task found (or the last
// wait), a dequeue of every one of the server's queues came back empty,
// and no wake-up has come since the first of them was sent; the next
// dequeue then waits for a wake-up meant for it or for the fallback
// interval, whichever comes first. Drained: the task just found took the
// last task the Signal had announced, so the round asynq runs next would
// find every queue empty; the next dequeue then waits for a wake-up or for
// the recheck interval (a task that came unannounced and took another's
// credit waits no longer than that). After a task found with no credit
// left (tasks moved in by asynq, or queued by an older version) the server
// dequeues until it finds every queue empty, as asynq does.
//
// asynq calls a server's dequeues from one goroutine, one at a time, so
// give each server a Client of its own (they may share the Signal and the
// wrapped client).
type Client struct {
	redis.UniversalClient
	sig      *Signal
	queues   []string
	fallback time.Duration
	recheck  time.Duration

	mu       sync.Mutex
	streak   bool            // dequeues have come back empty since the last task found
	gen      uint64          // generation before the streak's first dequeue was sent
	empty    map[string]bool // queues found empty in the streak
	credited bool            // the last dequeue found a task and took a credit
	draining bool            // a task was found with no credit left: look until empty

	waits atomic.Int64 // dequeues that waited because the server was idle
	skips atomic.Int64 // dequeues that waited because the queues were drained
}

// Recheck is how long a drained server waits for a wake-up before it looks
// at its queues anyway.
const Recheck = 100 * time.Millisecond

// NewClient wraps rdb for an asynq server that processes queues. A
// dequeue of an idle server waits for sig, or at most fallback.
func NewClient(rdb redis.UniversalClient, sig *Signal, queues []string, fallback time.Duration) *Client {
	return &Client{UniversalClient: rdb, sig: sig, queues: queues, fallback: fallback, recheck: min(Recheck, fallback), empty: map[string]bool{}}
}

// EvalSha runs a script by its hash; see Client.
func (c *Client) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	q, ok := dequeueQueue(keys)
	if !ok {
		return c.forwarded(keys, c.UniversalClient.EvalSha(ctx, sha1, keys, args...))
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
		return c.forwarded(keys, c.UniversalClient.Eval(ctx, script, keys, args...))
	}
	gen := c.wait(ctx)
	cmd := c.UniversalClient.Eval(ctx, script, keys, args...)
	c.observe(q, gen, cmd.Err())
	return cmd
}

// Waits is how many dequeues have waited for a wake-up: once it grows,
// the server has found its queues empty and sleeps.
func (c *Client) Waits() int64 { return c.waits.Load() }

// forwarded wakes the signal, count unknown, when cmd is asynq's forwarder
// script (retry and scheduled tasks into the pending list; see asynq's
// internal/rdb.forward) and it moved tasks: they come unannounced.
func (c *Client) forwarded(keys []string, cmd *redis.Cmd) *redis.Cmd {
	if len(keys) == 2 && strings.HasSuffix(keys[1], "}:pending") &&
		(strings.HasSuffix(keys[0], "}:retry") || strings.HasSuffix(keys[0], "}:scheduled")) {
		if n, err := cmd.Int64(); err == nil && n > 0 {
			c.sig.Wake()
		}
	}
	return cmd
}

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
	credited := c.credited
	c.credited = false
	c.mu.Unlock()
	if credited {
		// Drained if that was the last credit: wait unless one is left.
		if woken, done, ok := c.sig.waitForCredit(); ok {
			c.skips.Add(1)
			waitAtMost(ctx, woken, done, c.recheck)
		}
	}
	if idle {
		if woken, done, ok := c.sig.wait(streakGen); ok {
			c.waits.Add(1)
			waitAtMost(ctx, woken, done, c.fallback)
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

// waitAtMost waits until woken is closed, d has passed or ctx ends, then
// calls done, so a waiter that gave up takes no later wake-up.
func waitAtMost(ctx context.Context, woken <-chan struct{}, done func(), d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-woken:
	case <-t.C:
	case <-ctx.Done():
	}
	done()
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
// streak, and once the streak covers every queue settles the signal's
// credit; a task (or an error) ends it, and a task takes a credit unless
// the server is draining unannounced tasks.
func (c *Client) observe(queue string, gen uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !errors.Is(err, redis.Nil) {
		c.streak = false
		clear(c.empty)
		if err == nil && !c.draining {
			// A task: it took an announced task's credit, or it came
			// unannounced and the queues may hold more like it.
			c.credited = c.sig.take()
			c.draining = !c.credited
		}
		return
	}
	if !c.streak {
		c.streak, c.gen = true, gen
		clear(c.empty)
	}
	c.gen = min(c.gen, gen)
	c.empty[queue] = true
	if c.coversAll() {
		c.draining = false
		c.sig.settle(c.gen)
	}
}
