package app

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/delivery"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/taskwake"
)

// idleFallback is how long an idle worker waits for an enqueue
// notification before it looks at its queues anyway: what a task that
// comes without one (a retry or scheduled task moved in by asynq, a task
// queued by an API of an older version) may wait at most. An idle worker
// runs one dequeue round per server this often instead of one every few
// milliseconds.
const idleFallback = time.Second

// embeddedIdleFallback replaces idleFallback on the embedded Redis: there
// the API wakes the workers in process, so no notification can be lost or
// come from another version, and only retries and scheduled tasks (which
// asynq moves in every 5 s anyway) come unannounced. Each dequeue script
// runs in an interpreted Lua there, so fewer rounds matter.
const embeddedIdleFallback = 5 * time.Second

// taskWake is the process's side of the enqueue wake-up (internal/taskwake):
// workers wait on signal while idle; every enqueue wakes them through
// taskClient (a PUBLISH every worker process hears, sent with the enqueue)
// or, on the embedded Redis, which only this process can reach, by
// announcing the task to signal directly.
type taskWake struct {
	signal  *taskwake.Signal
	clients []*taskwake.Client // one per asynq server
}

// wakeSignal is the signal this process's idle dequeuers wait on.
func (a *App) wakeSignal() *taskwake.Signal {
	if a.wake.signal == nil {
		a.wake.signal = taskwake.NewSignal()
	}
	return a.wake.signal
}

// dequeueClient is the Redis client one asynq server dequeues through:
// a's shared client, except that the server's dequeues wait while idle.
func (a *App) dequeueClient() redis.UniversalClient {
	queues := []string{delivery.QueueDirect, delivery.QueueBroadcast}
	fallback := idleFallback
	if a.embedded != nil {
		fallback = embeddedIdleFallback
	}
	if a.opts.idleFallback > 0 {
		fallback = a.opts.idleFallback
	}
	c := taskwake.NewClient(a.rdb, a.wakeSignal(), queues, fallback)
	a.wake.clients = append(a.wake.clients, c)
	return c
}

// wakingEnqueuer is the API's delivery enqueuer: every enqueue wakes idle
// workers (see taskClient for the real Redis).
func (a *App) wakingEnqueuer() delivery.GroupSink {
	if a.embedded != nil {
		// No other process holds the embedded server's password: the
		// workers are ours, and a PUBLISH would only cost the server
		// (miniredis delivers it under its global lock).
		sig := a.wakeSignal()
		return notifyingEnqueuer{next: a.enqueuer(), notify: func() { sig.Announce(1) }}
	}
	return a.enqueuer()
}

// taskChannel is the channel enqueue notifications travel on: scoped to
// the Redis database like the event bus, so deployments or test runs in
// other databases of the same server do not wake these workers.
func (a *App) taskChannel() string { return storage.PubSubChannel(a.rdb, "tasks") }

type notifyingEnqueuer struct {
	next   delivery.GroupSink
	notify func()
}

// EnqueueGroup implements delivery.BatchEnqueuer. It notifies whatever
// the outcome: an enqueue that timed out may still have landed, and a
// needless notification costs one empty dequeue round.
func (e notifyingEnqueuer) EnqueueGroup(ctx context.Context, ds []delivery.Delivery) error {
	err := e.next.EnqueueGroup(ctx, ds)
	e.notify()
	return err
}

// stopTaskWake releases the idle dequeuers so the asynq servers can shut
// down without waiting out idleFallback.
func (a *App) stopTaskWake() {
	if a.wake.signal != nil {
		a.wake.signal.Stop()
	}
}
