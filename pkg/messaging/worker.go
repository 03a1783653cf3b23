package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/pkg/events"
	"github.com/messager/messager/pkg/storage"
)

// Worker handles TypeDeliver tasks. Run must be running while the asynq
// server calls its handlers.
type Worker struct {
	batch     *batcher
	persisted *prometheus.CounterVec
	latency   prometheus.Histogram
	taskTime  *prometheus.HistogramVec
	tracer    trace.Tracer
}

// maxBatch is how many messages may share a transaction.
const maxBatch = 64

// NewWorker returns the task handler, registering its metrics on reg.
// writers is how many transactions run at once: 1 for SQLite, which
// allows one writer and would otherwise make the rest sleep on its lock,
// a few for PostgreSQL.
func NewWorker(store BatchWriter, pub BatchPublisher, reg prometheus.Registerer, logger *slog.Logger, writers int) *Worker {
	w := &Worker{
		batch: newBatcher(store, pub, logger, max(writers, 1), maxBatch),
		persisted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messager_messages_persisted_total", Help: "Messages persisted and published by workers, by kind.",
		}, []string{"kind"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "messager_delivery_seconds", Help: "Time from a message's acceptance by the API to its publication by a worker.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		taskTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "messager_worker_task_duration_seconds", Help: "Time a worker spends on one task, by queue.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"queue"}),
		tracer: otel.Tracer("github.com/messager/messager/pkg/messaging"),
	}
	reg.MustRegister(w.persisted, w.latency, w.taskTime)
	return w
}

// Run runs the writers that persist and publish deliveries until ctx
// ends; stop the asynq server first so no handler is left waiting.
func (w *Worker) Run(ctx context.Context) { w.batch.run(ctx) }

// Register adds the worker's handlers to mux.
func (w *Worker) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeDeliver, w.HandleDeliver)
}

// HandleDeliver persists the message and its recipients, then publishes
// the message to the sender and every recipient (batched with other
// handlers' messages; see batcher). Both steps are
// idempotent, so when the process dies between them asynq's retry (or
// another worker, once the lease lapses) finishes the job: each recipient
// has the message once in the database and receives it at least once,
// with the same id, on its stream.
func (w *Worker) HandleDeliver(ctx context.Context, t *asynq.Task) error {
	start := time.Now()
	var d Delivery
	if err := json.Unmarshal(t.Payload(), &d); err != nil {
		return fmt.Errorf("undecodable delivery: %v: %w", err, asynq.SkipRetry)
	}
	ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(d.Trace))
	ctx, span := w.tracer.Start(ctx, "message.deliver", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messager.message_id", d.Message.ID), attribute.Int("messager.recipients", len(d.Recipients))))
	defer span.End()

	m := d.Message
	m.Status = events.StatusDelivered
	// The event is encoded only once the message is known to be fresh.
	encode := func() (events.Envelope, error) {
		audience := make([]int, 0, len(d.Recipients)+1)
		audience = append(audience, d.Recipients...)
		audience = append(audience, d.SenderID)
		env, err := events.NewMessage(m, audience)
		if err != nil {
			return env, fmt.Errorf("encode message %s: %v: %w", m.ID, err, asynq.SkipRetry)
		}
		carrier := propagation.MapCarrier{}
		otel.GetTextMapPropagator().Inject(ctx, carrier)
		if len(carrier) > 0 {
			env.Trace = carrier
		}
		return env, nil
	}
	fresh, err := w.batch.submit(ctx, storage.NewMessage{
		ID: d.Message.ID, SenderID: d.SenderID, ToID: d.ToID, Body: d.Message.Body,
		Broadcast: d.Message.Broadcast, ClientID: d.ClientID, CreatedAt: d.Message.CreatedAt, Recipients: d.Recipients,
	}, encode)
	if err != nil {
		span.RecordError(err)
		return fmt.Errorf("deliver message %s: %w", d.Message.ID, err)
	}
	if !fresh {
		// Another message of this sender holds the client_id: a duplicate
		// send that slipped past the API's check. Deliver nothing.
		return nil
	}
	kind := "direct"
	if m.Broadcast {
		kind = "broadcast"
	}
	w.persisted.WithLabelValues(kind).Inc()
	w.latency.Observe(time.Since(m.CreatedAt).Seconds())
	w.taskTime.WithLabelValues(d.Queue()).Observe(time.Since(start).Seconds())
	return nil
}
