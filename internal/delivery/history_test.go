package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/testenv"
)

// Every (type, outcome) series exists at 0 before the first task, so
// increase() over a window sees the first success, retry and archive.
func TestTaskMetrics_SeriesExistBeforeTheFirstTask(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewTaskMetrics(reg)
	if n := countSeries(t, reg, "messager_tasks_total"); n != 6 {
		t.Fatalf("%d messager_tasks_total series before any task, want 6 (2 types × 3 outcomes)", n)
	}
	if n := countSeries(t, reg, "messager_worker_up"); n != 1 {
		t.Fatalf("messager_worker_up: %d series, want 1", n)
	}
}

// A real asynq server counts each task once by how it ended: succeeded,
// retried (a failed attempt with retries left) or archived (retries
// exhausted, or SkipRetry at once).
func TestTaskMetrics_CountsEachOutcome(t *testing.T) {
	opt, err := redis.ParseURL(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	reg := prometheus.NewRegistry()
	m := NewTaskMetrics(reg)

	var mu sync.Mutex
	attempts := map[string]int{}
	handle := func(_ context.Context, t *asynq.Task) error {
		mu.Lock()
		defer mu.Unlock()
		kind := string(t.Payload())
		attempts[kind]++
		switch {
		case kind == "ok":
			return nil
		case kind == "fail-once" && attempts[kind] == 1:
			return errors.New("database down")
		case kind == "fail-once":
			return nil
		case kind == "skip":
			return fmt.Errorf("refused: %w", asynq.SkipRetry)
		default: // "fail-always"
			return errors.New("still down")
		}
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:       2,
		Queues:            map[string]int{QueueDirect: 1},
		RetryDelayFunc:    func(int, error, *asynq.Task) time.Duration { return 10 * time.Millisecond },
		TaskCheckInterval: 10 * time.Millisecond,
		// Retries wait in the retry set until the forwarder moves them.
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		Logger:                   quietLogger{},
		ErrorHandler:             asynq.ErrorHandlerFunc(m.Failed),
	})
	mux := asynq.NewServeMux()
	mux.Use(m.Middleware)
	mux.HandleFunc(TypeDeliver, handle)
	mux.HandleFunc(TypeDeliverGroup, handle)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	client := asynq.NewClientFromRedisClient(rdb)
	for _, tc := range []struct{ typ, kind string }{
		{TypeDeliverGroup, "ok"}, {TypeDeliverGroup, "fail-once"}, {TypeDeliver, "skip"}, {TypeDeliver, "fail-always"},
	} {
		if _, err := client.Enqueue(asynq.NewTask(tc.typ, []byte(tc.kind)), asynq.Queue(QueueDirect), asynq.MaxRetry(2)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[[2]string]float64{
		{TypeDeliverGroup, OutcomeSucceeded}: 2, // ok, and fail-once's second attempt
		{TypeDeliverGroup, OutcomeRetried}:   1,
		{TypeDeliverGroup, OutcomeArchived}:  0,
		{TypeDeliver, OutcomeSucceeded}:      0,
		{TypeDeliver, OutcomeRetried}:        2, // fail-always, attempts 1 and 2 of 3
		{TypeDeliver, OutcomeArchived}:       2, // skip at once, fail-always after its retries
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := map[[2]string]float64{}
		for k := range want {
			got[k] = counterValue(t, m.outcomes.WithLabelValues(k[0], k[1]))
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task outcomes:\n got %v\nwant %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// asynqmon shows what the formatter returns in place of a task's payload:
// ids, sender, audience and body length, never a body.
func TestSummarizePayload_NeverShowsTheBody(t *testing.T) {
	to := 7
	dm := Delivery{SenderID: 3, ToID: &to, Recipients: []int{7}, ClientID: "c-1",
		Message: events.Message{ID: "01a21a36-0000-7000-8000-000000000001", Body: "the secret plan, ünïcode", CreatedAt: time.Now()}}
	bc := Delivery{SenderID: 4, Recipients: []int{1, 2, 3}, Message: events.Message{ID: "01a21a36-0000-7000-8000-000000000002", Body: "another secret", Broadcast: true}}
	one, _ := json.Marshal(dm)
	batch, _ := json.Marshal(Group{Deliveries: []Delivery{dm, bc}})
	for name, tc := range map[string]struct {
		typ     string
		payload []byte
		want    []string
	}{
		"deliver":       {TypeDeliver, one, []string{dm.Message.ID, `"sender_id":3`, `"audience":1`, `"body_length":24`}},
		"deliver-batch": {TypeDeliverGroup, batch, []string{dm.Message.ID, bc.Message.ID, `"sender_id":4`, `"audience":3`, `"body_length":14`, `"broadcast":true`}},
		"undecodable":   {TypeDeliver, []byte(`{"message":{"body":"the secret plan"`), []string{"undecodable"}},
		"unknown type":  {"other:task", []byte("the secret plan"), []string{"15 bytes"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := SummarizePayload(tc.typ, tc.payload)
			if strings.Contains(got, "secret") || strings.Contains(got, "c-1") {
				t.Fatalf("summary shows the body or client id: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("summary %s lacks %s", got, w)
				}
			}
		})
	}
	if got := SummarizeResult(TypeDeliver, []byte(`{"body":"the secret plan"}`)); strings.Contains(got, "secret") {
		t.Fatalf("result formatter shows an unknown field: %s", got)
	}
}

// Each histogram's buckets reach as far as what it measures can: a
// delivery that waited out an outage, and a batch of exactly one is not
// read as half a message.
func TestWorkerHistograms_BucketsFitWhatTheyMeasure(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := NewWorker(nil, nil, nil, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), 1)
	w.latency.Observe((3 * time.Hour).Seconds())
	for i := 0; i < 10; i++ {
		w.taskSize.WithLabelValues(QueueDirect).Observe(1)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		h := mf.GetMetric()[0].GetHistogram()
		switch mf.GetName() {
		case "messager_delivery_seconds":
			bs := h.GetBucket()
			if top := bs[len(bs)-1].GetUpperBound(); top < 6*3600 {
				t.Errorf("delivery latency tops out at %vs; a message that waited out an outage is hours", top)
			}
		case "messager_worker_task_messages":
			// histogram_quantile interpolates inside the bucket holding
			// the observations: batches of exactly 1 must read as 1.
			var lower, upper float64
			for _, b := range h.GetBucket() {
				if b.GetCumulativeCount() > 0 {
					upper = b.GetUpperBound()
					break
				}
				lower = b.GetUpperBound()
			}
			if mid := (lower + upper) / 2; mid != 1 {
				t.Errorf("batches of exactly 1 fall in bucket (%v, %v]: the median reads %v, not 1", lower, upper, mid)
			}
		}
	}
}

func countSeries(t *testing.T, g prometheus.Gatherer, name string) int {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
