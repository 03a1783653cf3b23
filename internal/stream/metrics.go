package stream

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Transports, the values of the transport label.
const (
	transportWS  = "ws"
	transportSSE = "sse"
)

// This file holds the stream metrics registered outside NewHub, with the
// options that install them.

// WithHandlerMetrics counts, on reg, failed writes to clients by transport
// (messager_stream_write_errors_total), both series created at zero.
func WithHandlerMetrics(reg prometheus.Registerer) HandlerOption {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "messager_stream_write_errors_total", Help: "Writes to a client stream that failed (the client stopped reading, or the connection broke) by transport; the stream ends and the client resumes with after=.",
	}, []string{"transport"})
	reg.MustRegister(vec)
	errs := map[string]prometheus.Counter{transportWS: vec.WithLabelValues(transportWS), transportSSE: vec.WithLabelValues(transportSSE)}
	return func(h *Handler) { h.writeErrors = errs }
}

// WithBusMetrics counts, on reg, the times the event subscription was
// re-established after it broke (messager_pubsub_resubscribes_total).
func WithBusMetrics(reg prometheus.Registerer) BusOption {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "messager_pubsub_resubscribes_total", Help: "Times this pod re-established its Redis event subscription after it broke; each one asks every local stream to resync.",
	})
	reg.MustRegister(c)
	return func(b *Bus) { b.resubscribes = c }
}

// countWrites wraps s so that its failed writes count on the handler's
// write-error counter of transport, unless the stream had already ended
// (ctx done: the client left or the server closed it), which is no error.
func (h *Handler) countWrites(ctx context.Context, transport string, s sink) sink {
	c, ok := h.writeErrors[transport]
	if !ok {
		return s
	}
	return &countingSink{sink: s, ctx: ctx, errs: c}
}

type countingSink struct {
	sink
	ctx  context.Context
	errs prometheus.Counter
}

func (s *countingSink) count(err error) error {
	if err != nil && s.ctx.Err() == nil {
		s.errs.Inc()
	}
	return err
}

func (s *countingSink) write(ctx context.Context, f Frame) error {
	return s.count(s.sink.write(ctx, f))
}
func (s *countingSink) flush() error                   { return s.count(s.sink.flush()) }
func (s *countingSink) ping(ctx context.Context) error { return s.count(s.sink.ping(ctx)) }
func (s *countingSink) pong(ctx context.Context, p []byte) error {
	return s.count(s.sink.pong(ctx, p))
}
