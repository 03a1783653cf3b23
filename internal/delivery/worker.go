package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/telemetry"
)

// Worker handles TypeDeliver and TypeDeliverGroup tasks. Run must be
// running while the asynq server calls its handlers.
type Worker struct {
	commit    *committer
	requeue   Requeuer
	rejected  prometheus.Counter
	persisted *prometheus.CounterVec
	latency   prometheus.Histogram
	taskTime  *prometheus.HistogramVec
	taskSize  *prometheus.HistogramVec
	tracer    trace.Tracer
}

// A transaction holds at most maxCommit messages and, past its first
// message, stops taking more once it has maxCommitRecipients recipient rows,
// so a run of broadcasts does not make one huge transaction.
const (
	maxCommit           = 256
	maxCommitRecipients = 8192
)

// Requeuer queues one message of a group task as a task of its own; see
// deliver. *AsynqEnqueuer is one.
type Requeuer interface {
	EnqueueAlone(ctx context.Context, d Delivery) error
}

// NewWorker returns the task handler, registering its metrics on reg.
// writers is how many transactions run at once: 1 for SQLite, which
// allows one writer and would otherwise make the rest sleep on its lock,
// a few for PostgreSQL.
// requeue takes the messages the database refuses out of their group task.
func NewWorker(store Store, pub Publisher, requeue Requeuer, reg prometheus.Registerer, logger *slog.Logger, writers int) *Worker {
	w := &Worker{
		commit:  newCommitter(store, pub, logger, max(writers, 1), maxCommit, maxCommitRecipients),
		requeue: requeue,
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "messager_messages_rejected_total", Help: "Messages the database refused to store (their task is archived, for an operator to see).",
		}),
		persisted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messager_messages_persisted_total", Help: "Messages persisted and published by workers, by kind.",
		}, []string{"kind"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "messager_delivery_seconds", Help: "Time from a message's acceptance by the API to its publication by a worker.",
			Buckets: deliveryBuckets,
		}),
		taskTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "messager_worker_task_duration_seconds", Help: "Time a worker spends on one task, by queue.",
			Buckets: taskTimeBuckets,
		}, []string{"queue"}),
		taskSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "messager_worker_task_messages", Help: "Messages per delivery task, by queue: 1 while the API is idle, more when it groups sends that arrive together.",
			Buckets: taskSizeBuckets,
		}, []string{"queue"}),
		tracer: otel.Tracer(tracerName),
	}
	reg.MustRegister(w.persisted, w.latency, w.taskTime, w.taskSize, w.rejected)
	return w
}

// Run runs the writers that persist and publish deliveries until ctx
// ends; stop the asynq server first so no handler is left waiting.
func (w *Worker) Run(ctx context.Context) { w.commit.run(ctx) }

// Register adds the worker's handlers to mux.
func (w *Worker) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeDeliver, w.HandleDeliver)
	mux.HandleFunc(TypeDeliverGroup, w.HandleDeliverGroup)
}

// HandleDeliver handles a one-message TypeDeliver task; see deliver.
func (w *Worker) HandleDeliver(ctx context.Context, t *asynq.Task) error {
	var d Delivery
	if err := json.Unmarshal(t.Payload(), &d); err != nil {
		return fmt.Errorf("undecodable delivery: %v: %w", err, asynq.SkipRetry)
	}
	return w.deliver(ctx, []Delivery{d})
}

// HandleDeliverGroup handles a TypeDeliverGroup task; see deliver.
func (w *Worker) HandleDeliverGroup(ctx context.Context, t *asynq.Task) error {
	var b Group
	if err := json.Unmarshal(t.Payload(), &b); err != nil {
		return fmt.Errorf("undecodable delivery group: %v: %w", err, asynq.SkipRetry)
	}
	return w.deliver(ctx, b.Deliveries)
}

// deliver persists each message and its recipients, then publishes it to
// the sender and every recipient (batched with other handlers' messages;
// see committer). Both steps are idempotent, so when the process dies
// between them asynq's retry (or another worker, once the lease lapses)
// finishes the job: each recipient has the message once in the database
// and receives it at least once, with the same id and mailbox position,
// on its stream (streams drop positions they have passed).
//
// A message the database refuses (ErrRejected: its content can never be
// stored) must not hold its neighbours hostage: a retry of the whole task
// would republish them on every attempt. So the others complete, and the
// refused one leaves the group task as a task of its own, which fails without
// retry and is archived for an operator to see. Any other failure (the
// database or Redis down) fails the task, and asynq retries it whole.
func (w *Worker) deliver(ctx context.Context, ds []Delivery) error {
	start := time.Now()
	jobs := make([]*job, len(ds))
	spans := make([]trace.Span, len(ds))
	retried, _ := asynq.GetRetryCount(ctx)
	taskID, _ := asynq.GetTaskID(ctx)
	for i, d := range ds {
		mctx := otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(d.Trace))
		mctx, span := w.tracer.Start(mctx, "message.deliver", trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("messager.message_id", d.Message.ID),
				attribute.Int("messager.recipients", len(d.Recipients)),
				attribute.String("messaging.system", "asynq"),
				attribute.String("messaging.destination.name", d.Queue()),
				attribute.String("messaging.message.id", taskID),
				attribute.Int("messaging.batch.message_count", len(ds)),
				// How often asynq ran this task before: a retried
				// delivery's trace says so.
				attribute.Int("messaging.retry_count", retried),
			))
		spans[i] = span
		jobs[i] = &job{span: span, msg: storage.NewMessage{
			ID: d.Message.ID, SenderID: d.SenderID, ToID: d.ToID, Body: d.Message.Body,
			Broadcast: d.Message.Broadcast, ClientID: d.ClientID, CreatedAt: d.Message.CreatedAt, Recipients: d.Recipients,
		}, env: envelope(mctx, d), done: make(chan result, 1)}
	}
	results := w.commit.submit(ctx, jobs)
	var failed error
	for i, r := range results {
		d, span := ds[i], spans[i]
		switch {
		case r.err != nil && errors.Is(r.err, storage.ErrRejected) && len(ds) > 1:
			telemetry.Fail(span, r.err)
			if err := w.requeue.EnqueueAlone(trace.ContextWithSpan(ctx, span), d); err != nil && failed == nil {
				failed = fmt.Errorf("take refused message %s out of its group task: %w", d.Message.ID, err)
			}
		case r.err != nil && errors.Is(r.err, storage.ErrRejected):
			telemetry.Fail(span, r.err)
			w.rejected.Inc()
			if failed == nil {
				failed = fmt.Errorf("deliver message %s: %w: %w", d.Message.ID, r.err, asynq.SkipRetry)
			}
		case r.err != nil:
			telemetry.Fail(span, r.err)
			if failed == nil {
				failed = fmt.Errorf("deliver message %s: %w", d.Message.ID, r.err)
			}
		case r.fresh:
			// (Not fresh: another message of this sender holds the
			// client_id, a duplicate send that slipped past the API's
			// check. It is delivered by nobody.)
			kind := "direct"
			if d.Message.Broadcast {
				kind = "broadcast"
			}
			w.persisted.WithLabelValues(kind).Inc()
			w.latency.Observe(time.Since(d.Message.CreatedAt).Seconds())
		}
		span.End()
	}
	if len(ds) > 0 {
		w.taskTime.WithLabelValues(ds[0].Queue()).Observe(time.Since(start).Seconds())
		w.taskSize.WithLabelValues(ds[0].Queue()).Observe(float64(len(ds)))
	}
	return failed
}

// envelope returns the function that encodes d's event for its audience;
// the event is encoded only once the message is known to be fresh.
func envelope(ctx context.Context, d Delivery) func([]storage.Position) (events.Envelope, error) {
	return func(audience []storage.Position) (events.Envelope, error) {
		m := d.Message
		m.Status = events.StatusDelivered
		users, seqs := make([]int, len(audience)), make([]int64, len(audience))
		for i, p := range audience {
			users[i], seqs[i] = p.UserID, p.Seq
		}
		env, err := events.NewMessage(m, users)
		if err != nil {
			return env, fmt.Errorf("encode message %s: %v: %w", m.ID, err, asynq.SkipRetry)
		}
		env.Seqs = seqs
		carrier := propagation.MapCarrier{}
		otel.GetTextMapPropagator().Inject(ctx, carrier)
		if len(carrier) > 0 {
			env.Trace = carrier
		}
		return env, nil
	}
}
