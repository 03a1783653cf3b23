package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/telemetry"
)

// Bus publishes events to every pod and feeds this pod's hub.
//
// All pods share one channel: a broadcast is one PUBLISH however many users
// it reaches, and each pod keeps only the events whose audience is
// connected to it.
type Bus struct {
	rdb     redis.UniversalClient
	channel string
	logger  *slog.Logger
	// resubscribes counts re-established subscriptions; nil: not counted.
	resubscribes prometheus.Counter
	// sessions is this pod's session cache, told of every logout the bus
	// brings; nil: the pod caches no sessions.
	sessions SessionForgetter
}

// SessionForgetter drops cached sessions: *auth.SessionCache.
type SessionForgetter interface {
	// Forget drops the session sessionID (auth.SessionID).
	Forget(sessionID string)
	// ForgetAll drops every session.
	ForgetAll()
}

// WithSessionCache makes Run forget each session whose logout the bus
// announces, and every session whenever announcements may have been
// missed: when the subscription breaks and each time it is established.
func WithSessionCache(c SessionForgetter) BusOption {
	return func(b *Bus) { b.sessions = c }
}

// BusOption configures a Bus.
type BusOption func(*Bus)

// NewBus returns a bus on rdb.
func NewBus(rdb redis.UniversalClient, logger *slog.Logger, opts ...BusOption) *Bus {
	b := &Bus{rdb: rdb, channel: ChannelFor(rdb), logger: logger}
	for _, o := range opts {
		o(b)
	}
	return b
}

// ChannelFor names the event channel of the deployment using rdb, scoped
// to its Redis database (storage.PubSubChannel).
func ChannelFor(rdb redis.UniversalClient) string { return storage.PubSubChannel(rdb, "events") }

// Publish sends env to every pod. An error means no pod received it.
func (b *Bus) Publish(ctx context.Context, env events.Envelope) (err error) {
	one := [1]events.Envelope{env}
	ctx, spans := b.startPublish(ctx, one[:])
	defer endAll(spans, &err)
	data, err := json.Marshal(one[0])
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if err := b.rdb.Publish(ctx, b.channel, data).Err(); err != nil {
		return fmt.Errorf("publish event: %w", err)
	}
	return nil
}

// PublishBatch sends several events in one pipelined round trip. The
// Trace of a sampled message's envelope is replaced by its publish span.
func (b *Bus) PublishBatch(ctx context.Context, envs []events.Envelope) (err error) {
	if len(envs) == 1 {
		return b.Publish(ctx, envs[0])
	}
	ctx, spans := b.startPublish(ctx, envs)
	defer endAll(spans, &err)
	pipe := b.rdb.Pipeline()
	for _, env := range envs {
		data, err := json.Marshal(env)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		pipe.Publish(ctx, b.channel, data)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("publish events: %w", err)
	}
	return nil
}

// tracerName names the spans this package starts.
const tracerName = "github.com/messager/messager/internal/stream"

// startPublish opens a stream.publish span for each envelope of envs that
// carries a sampled trace (a message: the worker's message.deliver), and
// puts the span's context in the envelope's Trace, so the push on every
// pod continues from its publish. The returned ctx carries the first such
// span, for the Redis round trip.
func (b *Bus) startPublish(ctx context.Context, envs []events.Envelope) (context.Context, []trace.Span) {
	var spans []trace.Span
	for i := range envs {
		env := &envs[i]
		if env.Trace == nil {
			continue
		}
		pctx := otel.GetTextMapPropagator().Extract(context.Background(), propagation.MapCarrier(env.Trace))
		if !trace.SpanContextFromContext(pctx).IsSampled() {
			continue
		}
		pctx, span := otel.Tracer(tracerName).Start(pctx, "stream.publish", trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(
				attribute.String("messaging.system", "redis"),
				attribute.String("messaging.destination.name", b.channel),
				attribute.String("messager.message_id", env.ID),
				attribute.Int("messager.audience", len(env.Users)),
			))
		if !span.IsRecording() {
			continue
		}
		carrier := propagation.MapCarrier{}
		otel.GetTextMapPropagator().Inject(pctx, carrier)
		env.Trace = carrier
		if len(spans) == 0 {
			ctx = trace.ContextWithSpan(ctx, span)
		}
		spans = append(spans, span)
	}
	return ctx, spans
}

// endAll ends spans, failed when *err is set.
func endAll(spans []trace.Span, err *error) {
	for _, span := range spans {
		telemetry.Fail(span, *err)
		span.End()
	}
}

// busPingEvery is how often Run pings its subscription's connection.
const busPingEvery = 15 * time.Second

// Run subscribes and delivers every event to hub until ctx ends. When the
// subscription is re-established after a Redis failure, events may have
// been missed in between, so every local stream is closed to make its
// client reconnect with after= and get the gap from the database.
func (b *Bus) Run(ctx context.Context, hub *Hub) error {
	sub := b.rdb.Subscribe(ctx, b.channel)
	// Receive does not return when ctx ends; closing the subscription
	// does. A ping now and then finds a connection that died silently, so
	// the subscription is re-established rather than waiting forever.
	// Run returns only once the pinger has stopped.
	var pinger sync.WaitGroup
	defer pinger.Wait()
	pinger.Go(func() {
		t := time.NewTicker(busPingEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				_ = sub.Close()
				return
			case <-t.C:
				_ = sub.Ping(ctx)
			}
		}
	})
	subscribed := 0
	// idleSince is when the last event's delivery ended (see busyGap).
	var idleSince time.Time
	for {
		// Receive subscription confirmations too: each one after the first
		// marks a reconnect.
		msg, err := sub.Receive(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			b.forgetAllSessions()
			b.logger.Warn("event subscription interrupted", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				// Logouts announced before this subscription were not
				// heard: sessions cached until now may have ended.
				b.forgetAllSessions()
				subscribed++
				if subscribed > 1 {
					if b.resubscribes != nil {
						b.resubscribes.Inc()
					}
					b.logger.Warn("event subscription re-established; asking clients to resync")
					hub.Resync()
				}
			}
		case *redis.Message:
			direct := time.Since(idleSince) >= busyGap
			b.deliver(hub, m.Payload, direct)
			idleSince = time.Now()
		case *redis.Pong:
		}
	}
}

func (b *Bus) forgetAllSessions() {
	if b.sessions != nil {
		b.sessions.ForgetAll()
	}
}

// busyGap tells a bus that has time from one that is behind. An event
// that arrives less than busyGap after the previous one was delivered
// comes in a burst (broadcasts sent flat out, say): its frames are queued,
// so each stream's goroutine writes several in one system call, on
// whichever core is free, instead of this goroutine writing each alone.
// Otherwise an idle stream's frame is written at once by this goroutine
// (Conn.push), which at moderate rates saves the stream's wake-up.
const busyGap = time.Millisecond

func (b *Bus) deliver(hub *Hub, payload string, direct bool) {
	var env events.Envelope
	if err := json.Unmarshal([]byte(payload), &env); err != nil {
		b.logger.Error("undecodable event on bus", "err", err)
		return
	}
	if env.Type == events.TypeSessionEnded {
		// Refuse the session's requests before ending its streams, so a
		// client cannot reconnect on the strength of a cached session.
		if b.sessions != nil {
			b.sessions.Forget(env.Session)
		}
		hub.EndSession(env.Session)
		return
	}
	if env.Trace == nil {
		hub.deliver(env, nil, direct)
		return
	}
	// The last hops of a sampled message's trace: api → task → worker →
	// publish → push to this pod's connections → write to each client.
	ctx := otel.GetTextMapPropagator().Extract(context.Background(), propagation.MapCarrier(env.Trace))
	_, span := otel.Tracer(tracerName).Start(ctx, "stream.push",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messager.message_id", env.ID), attribute.Int("messager.audience", len(env.Users))))
	if !span.IsRecording() {
		hub.deliver(env, nil, direct)
		return
	}
	push := span.SpanContext()
	hub.deliver(env, &push, direct)
	span.End()
}
