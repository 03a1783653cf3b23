package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/telemetry"
)

// Task types. TypeDeliverGroup is what the API enqueues: one or more
// messages accepted together (see GroupEnqueuer); its wire name keeps the
// older word "batch" so tasks already queued by an earlier version are
// still handled. TypeDeliver, one message per task, is still handled for
// the same reason.
const (
	TypeDeliver      = "message:deliver"
	TypeDeliverGroup = "message:deliver-batch"
)

// Queue names; their priorities come from spec.worker.queues.
const (
	QueueDirect    = "direct"
	QueueBroadcast = "broadcast"
)

// MaxRetry is how often a failed delivery is retried before asynq archives
// it, where an operator sees it in asynqmon and can retry it by hand.
const MaxRetry = 20

// Delivery is the payload of a TypeDeliver task: everything the worker
// needs, fixed at send time, so a retry does exactly the same thing.
type Delivery struct {
	Message    events.Message    `json:"message"`
	SenderID   int               `json:"sender_id"`
	ToID       *int              `json:"to_id,omitempty"`
	Recipients []int             `json:"recipients"`
	ClientID   string            `json:"client_id,omitempty"`
	Trace      map[string]string `json:"trace,omitempty"`
}

// Group is the payload of a TypeDeliverGroup task: deliveries that all
// travel on the same queue.
type Group struct {
	Deliveries []Delivery `json:"deliveries"`
}

// Queue returns the queue d travels on.
func (d Delivery) Queue() string {
	if d.Message.Broadcast {
		return QueueBroadcast
	}
	return QueueDirect
}

// AsynqEnqueuer enqueues deliveries with asynq.
type AsynqEnqueuer struct {
	client    *asynq.Client
	retention time.Duration
}

// EnqueueOption configures an AsynqEnqueuer.
type EnqueueOption func(*AsynqEnqueuer)

// WithRetention keeps each task, once delivered, as a completed task for d
// (spec.worker.completedRetention), so the task monitor shows what ran,
// when, how long it took and where. 0 keeps none. A kept task holds its
// payload, message bodies included, in Redis until d has passed.
func WithRetention(d time.Duration) EnqueueOption {
	return func(e *AsynqEnqueuer) { e.retention = d }
}

// NewAsynqEnqueuer returns an enqueuer on client.
func NewAsynqEnqueuer(client *asynq.Client, opts ...EnqueueOption) *AsynqEnqueuer {
	e := &AsynqEnqueuer{client: client}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Enqueue adds a one-message TypeDeliver task with TaskID = message id, so
// the same message can never be queued twice.
func (e *AsynqEnqueuer) Enqueue(ctx context.Context, d Delivery) (err error) {
	ctx, span, d := startEnqueue(ctx, otel.Tracer(tracerName), d)
	defer func() { telemetry.Fail(span, err); span.End() }()
	payload, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	return e.enqueue(ctx, asynq.NewTask(TypeDeliver, payload), d.Message.ID, d)
}

// EnqueueGroup adds one TypeDeliverGroup task holding ds, which must all
// travel on the same queue. Its TaskID is the first message's id: each
// message is in exactly one group, so a group can never be queued twice.
func (e *AsynqEnqueuer) EnqueueGroup(ctx context.Context, ds []Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	payload, err := json.Marshal(Group{Deliveries: ds})
	if err != nil {
		return fmt.Errorf("encode deliveries: %w", err)
	}
	return e.enqueue(ctx, asynq.NewTask(TypeDeliverGroup, payload), ds[0].Message.ID, ds[0])
}

// EnqueueAlone adds a one-message TypeDeliver task for a message taken out
// of a group task. Its TaskID differs from the message id, which may be the
// id of the group task still running; taking it out twice (a retried group task)
// queues it once.
func (e *AsynqEnqueuer) EnqueueAlone(ctx context.Context, d Delivery) error {
	payload, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	return e.enqueue(ctx, asynq.NewTask(TypeDeliver, payload), d.Message.ID+"/alone", d)
}

// enqueue adds t on first's queue; a task with the same id already there
// means it is queued, not an error.
func (e *AsynqEnqueuer) enqueue(ctx context.Context, t *asynq.Task, taskID string, first Delivery) error {
	opts := []asynq.Option{
		asynq.TaskID(taskID),
		asynq.Queue(first.Queue()),
		asynq.MaxRetry(MaxRetry),
		asynq.Timeout(30 * time.Second),
	}
	if e.retention > 0 {
		// A kept task also keeps its id: the same message enqueued again
		// within the retention is still a conflict, i.e. already queued.
		opts = append(opts, asynq.Retention(e.retention))
	}
	_, err := e.client.EnqueueContext(ctx, t, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue delivery: %w", err)
	}
	return nil
}

// tracerName names the spans this package starts.
const tracerName = "github.com/messager/messager/internal/delivery"

// startEnqueue opens the message.enqueue span, which lasts until d's task
// is in Redis, and records its trace context in d, so the worker's
// message.deliver continues the trace of the request that accepted the
// message (api → task → worker → push).
func startEnqueue(ctx context.Context, tracer trace.Tracer, d Delivery) (context.Context, trace.Span, Delivery) {
	ctx, span := tracer.Start(ctx, "message.enqueue", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "asynq"),
			attribute.String("messaging.destination.name", d.Queue()),
			attribute.String("messager.message_id", d.Message.ID),
			attribute.Int("messager.recipients", len(d.Recipients)),
		))
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if len(carrier) > 0 {
		d.Trace = carrier
	}
	return ctx, span, d
}

// RetryDelay backs off exponentially from 1 s to a minute, with jitter so
// tasks that failed together do not retry together.
func RetryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	d := time.Second << min(n, 6)
	if d > time.Minute {
		d = time.Minute
	}
	return d/2 + rand.N(d/2+1)
}
