package taskwake

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Notifier tells every worker, by a PUBLISH on its channel, that tasks were
// enqueued, and how many (the message is the count in decimal; Listen
// reads it). Notifications coalesce: Notify never blocks, and every Notify
// is followed by a PUBLISH that starts after it, but all the Notify calls
// made while one PUBLISH is in flight share the next one, which counts
// them all. So a busy API pod publishes at most once per round trip,
// whatever its send rate.
type Notifier struct {
	rdb     redis.Cmdable
	channel string
	logger  *slog.Logger
	pending chan struct{}
	count   atomic.Int64 // tasks enqueued since the last PUBLISH began
}

// NewNotifier returns a notifier publishing on channel through rdb (the
// channel workers Listen on: one per deployment, see
// storage.PubSubChannel); Run must be running
// for notifications to go out. rdb may be storage.AutoPipeline's client:
// a busy API pod's notifications then share the round trips of its other
// commands.
func NewNotifier(rdb redis.Cmdable, channel string, logger *slog.Logger) *Notifier {
	return &Notifier{rdb: rdb, channel: channel, logger: logger, pending: make(chan struct{}, 1)}
}

// Notify asks for a notification after a task was enqueued.
func (n *Notifier) Notify() {
	n.count.Add(1)
	select {
	case n.pending <- struct{}{}:
	default: // one is pending already, and will be sent after this call
	}
}

// Run publishes the notifications asked for until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.pending:
		}
		count := n.count.Swap(0)
		if count == 0 {
			// Counted by the PUBLISH before, which began after this
			// Notify's count and before its signal was taken.
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := n.rdb.Publish(pctx, n.channel, strconv.FormatInt(count, 10)).Err()
		cancel()
		if err != nil && ctx.Err() == nil {
			// Workers fall back to polling; nothing is lost.
			n.logger.Debug("task notification not published", "err", err)
		}
	}
}
