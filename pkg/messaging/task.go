package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/messager/messager/pkg/events"
)

// Task types. TypeDeliverBatch is what the API enqueues: one or more
// messages accepted together (see GroupEnqueuer). TypeDeliver, one message
// per task, is still handled so tasks queued by an earlier version are
// delivered across an upgrade.
const (
	TypeDeliver      = "message:deliver"
	TypeDeliverBatch = "message:deliver-batch"
)

// Queue names; their priorities come from spec.worker.queues.
const (
	QueueDirect      = "direct"
	QueueBroadcast   = "broadcast"
	QueueMaintenance = "maintenance"
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

// Batch is the payload of a TypeDeliverBatch task: deliveries that all
// travel on the same queue.
type Batch struct {
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
type AsynqEnqueuer struct{ client *asynq.Client }

// NewAsynqEnqueuer returns an enqueuer on client.
func NewAsynqEnqueuer(client *asynq.Client) *AsynqEnqueuer { return &AsynqEnqueuer{client: client} }

// Enqueue adds a one-message TypeDeliver task with TaskID = message id, so
// the same message can never be queued twice.
func (e *AsynqEnqueuer) Enqueue(ctx context.Context, d Delivery) error {
	payload, err := json.Marshal(withTrace(ctx, d))
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	return e.enqueue(ctx, asynq.NewTask(TypeDeliver, payload), d)
}

// EnqueueBatch adds one TypeDeliverBatch task holding ds, which must all
// travel on the same queue. Its TaskID is the first message's id: each
// message is in exactly one batch, so a batch can never be queued twice.
func (e *AsynqEnqueuer) EnqueueBatch(ctx context.Context, ds []Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	payload, err := json.Marshal(Batch{Deliveries: ds})
	if err != nil {
		return fmt.Errorf("encode deliveries: %w", err)
	}
	return e.enqueue(ctx, asynq.NewTask(TypeDeliverBatch, payload), ds[0])
}

func (e *AsynqEnqueuer) enqueue(ctx context.Context, t *asynq.Task, first Delivery) error {
	_, err := e.client.EnqueueContext(ctx, t,
		asynq.TaskID(first.Message.ID),
		asynq.Queue(first.Queue()),
		asynq.MaxRetry(MaxRetry),
		asynq.Timeout(30*time.Second),
	)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue delivery: %w", err)
	}
	return nil
}

// withTrace records the send's trace context in d, so the worker's span
// joins the trace of the request that accepted the message.
func withTrace(ctx context.Context, d Delivery) Delivery {
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if len(carrier) > 0 {
		d.Trace = carrier
	}
	return d
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

// RedisDedup keeps client_id reservations in Redis for a day. rdb may be
// an auto-pipelining client (storage.AutoPipeline), so concurrent sends
// share round trips.
type RedisDedup struct {
	rdb redis.Cmdable
	ttl time.Duration
}

// NewRedisDedup returns the client_id store.
func NewRedisDedup(rdb redis.Cmdable) *RedisDedup {
	return &RedisDedup{rdb: rdb, ttl: 24 * time.Hour}
}

func dedupKey(senderID int, clientID string) string {
	return fmt.Sprintf("messager:clientid:%d:%s", senderID, clientID)
}

// Reserve implements Dedup.
func (d *RedisDedup) Reserve(ctx context.Context, senderID int, clientID string, m events.Message) (*events.Message, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	key := dedupKey(senderID, clientID)
	ok, err := d.rdb.SetNX(ctx, key, data, d.ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("reserve client_id: %w", err)
	}
	if ok {
		return nil, nil
	}
	prev, err := d.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return nil, fmt.Errorf("read client_id: %w", err)
	}
	var pm events.Message
	if err := json.Unmarshal(prev, &pm); err != nil {
		return nil, fmt.Errorf("decode client_id record: %w", err)
	}
	return &pm, nil
}

// Release implements Dedup.
func (d *RedisDedup) Release(ctx context.Context, senderID int, clientID string) error {
	return d.rdb.Del(ctx, dedupKey(senderID, clientID)).Err()
}
