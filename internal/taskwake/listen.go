package taskwake

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// pingEvery is how often Listen checks that its subscription is alive: a
// connection that died silently would otherwise leave idle workers on
// their fallback polling until it is noticed.
const pingEvery = 15 * time.Second

// announced is the number of tasks a notification announces (see
// AnnouncingClient); 0, unknown, for a message that does not say (an
// older version's empty one).
func announced(payload string) int {
	n, err := strconv.Atoi(payload)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Listen announces to sig the tasks every notification on channel (the
// one the deployment's AnnouncingClients publish on) counts, until ctx ends. It
// also wakes sig, count unknown, whenever its subscription (re)starts or
// fails: a notification may have been missed while it was down.
func Listen(ctx context.Context, rdb redis.UniversalClient, channel string, sig *Signal, logger *slog.Logger) {
	ps := rdb.Subscribe(ctx, channel)
	// Receive does not return when ctx ends; closing the subscription
	// does. A ping now and then finds a connection that died silently.
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				_ = ps.Close()
				return
			case <-t.C:
				_ = ps.Ping(ctx)
			}
		}
	}()
	backoff := 100 * time.Millisecond
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if _, pong := msg.(*redis.Pong); pong {
			continue // the answer to our liveness ping, not a notification
		}
		if m, ok := msg.(*redis.Message); ok {
			sig.Announce(announced(m.Payload))
			continue
		}
		// A (re)started or failed subscription: notifications may have
		// been missed, how many unknown.
		sig.Wake()
		if err != nil {
			logger.Warn("task notifications: subscription interrupted; idle workers poll until it is back", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		if _, ok := msg.(*redis.Subscription); ok {
			backoff = 100 * time.Millisecond
		}
	}
}
