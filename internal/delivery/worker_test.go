package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/testenv"
)

// flakyPublisher fails the first publish of each message, as if the worker
// died after the database write and before the publish, and records every
// successful publish.
type flakyPublisher struct {
	mu        sync.Mutex
	failed    map[string]bool
	published map[string]int
}

func (p *flakyPublisher) Publish(_ context.Context, env events.Envelope) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.failed[env.ID] {
		p.failed[env.ID] = true
		return errors.New("simulated crash between persist and publish")
	}
	p.published[env.ID]++
	return nil
}

func (p *flakyPublisher) PublishBatch(ctx context.Context, envs []events.Envelope) error {
	for _, env := range envs {
		if err := p.Publish(ctx, env); err != nil {
			return err
		}
	}
	return nil
}

func (p *flakyPublisher) count(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published[id]
}

func newTestUsers(t *testing.T, db *storage.DB, n int) []storage.User {
	t.Helper()
	users := make([]storage.User, n)
	for i := range users {
		u, err := db.Users().Create(context.Background(), storage.NewUser{
			Username: "u" + string(rune('a'+i)) + "xyz", Email: "u@example.com", PasswordHash: "x", Usercode: "CODE0" + string(rune('A'+i)),
		})
		if err != nil {
			t.Fatal(err)
		}
		users[i] = u
	}
	return users
}

// A worker that fails after the database write and before the publish is
// retried: each recipient has the message exactly once in the database and
// it is published, with the same id, at least once.
func TestWorker_CrashBetweenPersistAndPublishIsRetriedWithoutDuplicates(t *testing.T) {
	db := testenv.DB(t)
	rdbURL := testenv.Redis(t)
	opt, err := redis.ParseURL(rdbURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	users := newTestUsers(t, db, 4)
	pub := &flakyPublisher{failed: map[string]bool{}, published: map[string]int{}}

	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:       4,
		Queues:            map[string]int{QueueDirect: 2, QueueBroadcast: 1},
		RetryDelayFunc:    func(int, error, *asynq.Task) time.Duration { return 100 * time.Millisecond },
		TaskCheckInterval: 10 * time.Millisecond,
		Logger:            quietLogger{},
	})
	mux := asynq.NewServeMux()
	w := startWorker(t, db, pub)
	w.Register(mux)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	q := NewAsynqEnqueuer(asynq.NewClientFromRedisClient(rdb))
	to := users[1].ID
	dm := Delivery{SenderID: users[0].ID, ToID: &to, Recipients: []int{to}, Message: events.Message{ID: "01a21a36-0000-7000-8000-000000000001", Body: "dm", CreatedAt: time.Now().UTC()}}
	bc := Delivery{SenderID: users[0].ID, Recipients: []int{users[1].ID, users[2].ID, users[3].ID}, Message: events.Message{ID: "01a21a36-0000-7000-8000-000000000002", Body: "all", Broadcast: true, CreatedAt: time.Now().UTC()}}
	for _, d := range []Delivery{dm, bc} {
		if err := q.Enqueue(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		// Enqueueing the same message again is a no-op, not a second task.
		if err := q.Enqueue(context.Background(), d); err != nil {
			t.Fatalf("re-enqueue: %v", err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for pub.count(dm.Message.ID) == 0 || pub.count(bc.Message.ID) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the failed deliveries were not retried to completion")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx := context.Background()
	for _, d := range []Delivery{dm, bc} {
		// Stored once (the id is the key), with one row per recipient.
		got, err := db.Messages().Recipients(ctx, d.Message.ID)
		if err != nil {
			t.Fatalf("message %s: %v", d.Message.ID, err)
		}
		for _, rid := range d.Recipients {
			if n := countOf(got, rid); n != 1 {
				t.Fatalf("recipient %d has message %s %d times", rid, d.Message.ID, n)
			}
		}
	}
}

// Running the same task twice writes nothing new and publishes the same id.
func TestWorker_HandleDeliverIsIdempotent(t *testing.T) {
	db := testenv.DB(t)
	users := newTestUsers(t, db, 2)
	pub := &flakyPublisher{failed: map[string]bool{"01a21a36-0000-7000-8000-000000000009": true}, published: map[string]int{}}
	w := startWorker(t, db, pub)
	to := users[1].ID
	payload, _ := json.Marshal(Delivery{SenderID: users[0].ID, ToID: &to, Recipients: []int{to}, ClientID: "k1",
		Message: events.Message{ID: "01a21a36-0000-7000-8000-000000000009", Body: "twice", CreatedAt: time.Now().UTC()}})
	for i := 0; i < 2; i++ {
		if err := w.HandleDeliver(context.Background(), asynq.NewTask(TypeDeliver, payload)); err != nil {
			t.Fatal(err)
		}
	}
	if n := pub.count("01a21a36-0000-7000-8000-000000000009"); n != 2 {
		t.Fatalf("published %d times, want 2 (the same id each time)", n)
	}
	if n := mustCount(t, db.Messages().CountRecipients); n != 1 {
		t.Fatalf("%d recipient rows, want 1", n)
	}
	// Another message with the same client_id is a duplicate send: dropped.
	dup, _ := json.Marshal(Delivery{SenderID: users[0].ID, ToID: &to, Recipients: []int{to}, ClientID: "k1",
		Message: events.Message{ID: "01a21a36-0000-7000-8000-00000000000a", Body: "dup", CreatedAt: time.Now().UTC()}})
	if err := w.HandleDeliver(context.Background(), asynq.NewTask(TypeDeliver, dup)); err != nil {
		t.Fatal(err)
	}
	if n := mustCount(t, db.Messages().Count); n != 1 {
		t.Fatalf("%d messages stored, want 1: the duplicate client_id was stored", n)
	}
}

// A batch task stores and publishes each of its messages as its own
// one-message task would: fresh ones once, an already-stored one again by
// the same id, a duplicate client_id not at all. When a publish fails the
// task fails, and running it again completes it without a second row.
func TestWorker_HandleDeliverBatch(t *testing.T) {
	db := testenv.DB(t)
	users := newTestUsers(t, db, 3)
	id := func(i int) string { return fmt.Sprintf("01a21a36-0000-7000-8000-%012d", i) }
	// Message 2's first publish fails, so the first run of the task fails.
	pub := &flakyPublisher{failed: map[string]bool{id(1): true, id(3): true, id(4): true}, published: map[string]int{}}
	w := startWorker(t, db, pub)
	to := users[1].ID
	mk := func(i int, clientID string, recipients ...int) Delivery {
		return Delivery{SenderID: users[0].ID, ToID: &to, Recipients: recipients, ClientID: clientID,
			Message: events.Message{ID: id(i), Body: fmt.Sprint("m", i), CreatedAt: time.Now().UTC()}}
	}
	batch := Group{Deliveries: []Delivery{
		mk(1, "c1", to), mk(2, "", to), mk(3, "c1", to), // 3 reuses 1's client_id
		{SenderID: users[0].ID, Recipients: []int{users[1].ID, users[2].ID}, Message: events.Message{ID: id(4), Body: "all", Broadcast: true, CreatedAt: time.Now().UTC()}},
	}}
	payload, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	task := asynq.NewTask(TypeDeliverGroup, payload)
	if err := w.HandleDeliverGroup(context.Background(), task); err == nil {
		t.Fatal("the first run published nothing yet reported success")
	}
	if err := w.HandleDeliverGroup(context.Background(), task); err != nil {
		t.Fatalf("retry: %v", err)
	}
	// 2 is published once, 4 once or twice (again by the retry, when its
	// publish went through beside 2's failure). Of 1 and 3, which share a
	// client_id, exactly one is delivered: the one whose transaction ran
	// first (the writers run concurrently).
	for i, want := range map[int][2]int{2: {1, 1}, 4: {1, 2}} {
		if n := pub.count(id(i)); n < want[0] || n > want[1] {
			t.Errorf("message %d published %d times, want %d to %d", i, n, want[0], want[1])
		}
	}
	if n1, n3 := pub.count(id(1)), pub.count(id(3)); (n1 == 0) == (n3 == 0) {
		t.Errorf("messages 1 and 3 (same client_id) published %d and %d times: want exactly one of them", n1, n3)
	}
	if n := mustCount(t, db.Messages().Count); n != 3 {
		t.Errorf("%d messages stored, want 3 (the duplicate client_id dropped)", n)
	}
	if n := mustCount(t, db.Messages().CountRecipients); n != 4 {
		t.Errorf("%d recipient rows, want 4 (two DMs, a broadcast to two)", n)
	}
	// Both runs are in the messages-per-task histogram, on the first
	// delivery's queue.
	var m dto.Metric
	if err := w.taskSize.WithLabelValues(QueueDirect).(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	if c, sum := m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum(); c != 2 || sum != 8 {
		t.Errorf("messages-per-task histogram: %d tasks, %v messages; want 2 and 8", c, sum)
	}
}

func TestWorker_UndecodablePayloadIsNotRetried(t *testing.T) {
	w := NewWorker(nil, nil, nil, prometheus.NewRegistry(), slog.Default(), 1)
	err := w.HandleDeliver(context.Background(), asynq.NewTask(TypeDeliver, []byte("{not json")))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("got %v, want SkipRetry", err)
	}
}

func TestRetryDelay_GrowsAndIsCapped(t *testing.T) {
	for n, bounds := range map[int][2]time.Duration{0: {500 * time.Millisecond, time.Second}, 3: {4 * time.Second, 8 * time.Second}, 30: {30 * time.Second, time.Minute}} {
		for i := 0; i < 50; i++ {
			if d := RetryDelay(n, nil, nil); d < bounds[0] || d > bounds[1] {
				t.Fatalf("RetryDelay(%d) = %v, want within %v", n, d, bounds)
			}
		}
	}
}

// startWorker returns a worker whose writers run until the test ends.
func startWorker(t *testing.T, db *storage.DB, pub Publisher) *Worker {
	t.Helper()
	w := NewWorker(db.Messages(), pub, nil, prometheus.NewRegistry(), slog.Default(), 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(...any) {}

// refusingStore is the real store, except that it refuses, as PostgreSQL
// refuses U+0000 in text, every batch holding a message whose body is
// "poison" (on SQLite, which stores U+0000, the refusal is simulated).
type refusingStore struct{ next Store }

func (s refusingStore) SaveBatch(ctx context.Context, ms []storage.NewMessage) ([]storage.Saved, error) {
	for _, m := range ms {
		if m.Body == "poison" {
			return nil, fmt.Errorf("%w: invalid byte sequence for encoding \"UTF8\": 0x00", storage.ErrRejected)
		}
	}
	return s.next.SaveBatch(ctx, ms)
}

// recordingRequeuer records the messages taken out of their batch.
type recordingRequeuer struct {
	mu  sync.Mutex
	ids []string
}

func (r *recordingRequeuer) EnqueueAlone(_ context.Context, d Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, d.Message.ID)
	return nil
}

// One message the database refuses does not poison its batch task: the
// others are stored and published once and the task succeeds (no retry
// republishes them); the refused one leaves as a task of its own, which
// fails without retries (archived, for an operator to see).
func TestWorker_RefusedMessageDoesNotPoisonItsBatch(t *testing.T) {
	db := testenv.DB(t)
	users := newTestUsers(t, db, 2)
	id := func(i int) string { return fmt.Sprintf("01a21a37-0000-7000-8000-%012d", i) }
	pub := &flakyPublisher{failed: map[string]bool{}, published: map[string]int{}}
	for i := 1; i <= 6; i++ {
		pub.failed[id(i)] = true // no simulated publish failures in this test
	}
	requeue := &recordingRequeuer{}
	w := NewWorker(refusingStore{db.Messages()}, pub, requeue, prometheus.NewRegistry(), slog.Default(), 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	to := users[1].ID
	var batch Group
	for i := 1; i <= 6; i++ {
		body := fmt.Sprint("fine ", i)
		if i == 3 {
			body = "poison"
		}
		batch.Deliveries = append(batch.Deliveries, Delivery{SenderID: users[0].ID, ToID: &to, Recipients: []int{to},
			Message: events.Message{ID: id(i), Body: body, CreatedAt: time.Now().UTC()}})
	}
	payload, _ := json.Marshal(batch)
	if err := w.HandleDeliverGroup(context.Background(), asynq.NewTask(TypeDeliverGroup, payload)); err != nil {
		t.Fatalf("the batch task failed (%v): asynq would retry it and republish its good messages", err)
	}
	for i := 1; i <= 6; i++ {
		want := 1
		if i == 3 {
			want = 0
		}
		if n := pub.count(id(i)); n != want {
			t.Errorf("message %d published %d times, want %d", i, n, want)
		}
	}
	if n := mustCount(t, db.Messages().Count); n != 5 {
		t.Errorf("%d messages stored, want 5", n)
	}
	if len(requeue.ids) != 1 || requeue.ids[0] != id(3) {
		t.Fatalf("taken out of the batch: %v, want [%s]", requeue.ids, id(3))
	}
	// Its own task fails for good: no retry can store it.
	alone, _ := json.Marshal(batch.Deliveries[2])
	err := w.HandleDeliver(context.Background(), asynq.NewTask(TypeDeliver, alone))
	if !errors.Is(err, asynq.SkipRetry) || !errors.Is(err, storage.ErrRejected) {
		t.Fatalf("the refused message's own task: %v, want ErrRejected and SkipRetry", err)
	}
}

func countOf(ids []int, id int) (n int) {
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

// mustCount is what count (Messages.Count, Messages.CountRecipients) says.
func mustCount(t *testing.T, count func(context.Context) (int, error)) int {
	t.Helper()
	n, err := count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}
