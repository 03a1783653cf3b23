package taskwake

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/testenv"
)

func TestDequeueQueue_RecognisesAsynqsDequeueKeysOnly(t *testing.T) {
	q, ok := dequeueQueue([]string{"asynq:{direct}:pending", "asynq:{direct}:paused", "asynq:{direct}:active", "asynq:{direct}:lease"})
	if !ok || q != "direct" {
		t.Errorf("dequeue keys: %q, %v; want direct", q, ok)
	}
	for _, keys := range [][]string{
		nil,
		{"asynq:{direct}:pending"},
		// asynq's enqueue and done scripts touch the same queue.
		{"asynq:{direct}:t:1", "asynq:{direct}:pending", "asynq:{direct}:paused", "asynq:{direct}:active"},
		{"asynq:{direct}:active", "asynq:{direct}:lease", "asynq:{direct}:t:1", "asynq:{direct}:processed:2026-01-01"},
	} {
		if q, ok := dequeueQueue(keys); ok {
			t.Errorf("%q taken for a dequeue of %q", keys, q)
		}
	}
}

// scripted is a Redis client whose EvalSha answers from a function.
type scripted struct {
	redis.UniversalClient
	eval func(queue string) error
}

func (s *scripted) EvalSha(ctx context.Context, _ string, keys []string, _ ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	q, _ := dequeueQueue(keys)
	if err := s.eval(q); err != nil {
		cmd.SetErr(err)
	} else {
		cmd.SetVal("task")
	}
	return cmd
}

func dequeueKeys(q string) []string {
	p := "asynq:{" + q + "}:"
	return []string{p + "pending", p + "paused", p + "active", p + "lease"}
}

// round runs one asynq dequeue round (every queue in turn until one has
// a task) through c and reports whether it finished within limit.
func round(c *Client, queues []string, limit time.Duration) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, q := range queues {
			if c.EvalSha(context.Background(), "sha", dequeueKeys(q)).Err() == nil {
				return
			}
		}
	}()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

// Once every queue came back empty, the next dequeue waits for a wake-up
// (here the fallback is an hour: only Wake can end the wait).
func TestClient_WaitsAfterAnEmptyRoundUntilWoken(t *testing.T) {
	queues := []string{"direct", "broadcast"}
	sig := NewSignal()
	c := NewClient(&scripted{eval: func(string) error { return redis.Nil }}, sig, queues, time.Hour)
	if !round(c, queues, 10*time.Second) {
		t.Fatal("the first round waited: nothing was known to be empty")
	}
	done := make(chan struct{})
	go func() { defer close(done); round(c, queues, time.Hour) }()
	for c.waits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	sig.Wake()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wake did not end the wait")
	}
}

// A notification that arrives while a round is looking at the queues
// must not be lost: the round may have looked at the queue before the
// task landed, so the next round runs at once.
func TestClient_AWakeUpDuringTheRoundIsNotLost(t *testing.T) {
	queues := []string{"direct", "broadcast", "maintenance"}
	sig := NewSignal()
	var n atomic.Int64
	c := NewClient(&scripted{eval: func(q string) error {
		if n.Add(1) == 2 {
			sig.Wake() // the API enqueued into direct, already looked at, and published
		}
		return redis.Nil
	}}, sig, queues, time.Hour)
	if !round(c, queues, 10*time.Second) {
		t.Fatal("the first round waited")
	}
	if !round(c, queues, 10*time.Second) {
		t.Fatal("the round after a wake-up that came mid-round waited: the wake-up was lost")
	}
	if c.waits.Load() != 0 {
		t.Errorf("%d waits, want 0", c.waits.Load())
	}
}

// A queue not yet looked at, a task found or an error: no wait.
func TestClient_DoesNotWaitUnlessEveryQueueWasEmpty(t *testing.T) {
	queues := []string{"direct", "broadcast"}
	sig := NewSignal()
	found := map[string]bool{"broadcast": true}
	c := NewClient(&scripted{eval: func(q string) error {
		if found[q] {
			return nil
		}
		return redis.Nil
	}}, sig, queues, time.Hour)
	for i := 0; i < 5; i++ {
		if !round(c, queues, 10*time.Second) {
			t.Fatal("a round waited although broadcast always has a task")
		}
	}
	errs := NewClient(&scripted{eval: func(string) error { return io.ErrUnexpectedEOF }}, sig, queues, time.Hour)
	for i := 0; i < 5; i++ {
		if !round(errs, queues, 10*time.Second) {
			t.Fatal("a round waited after errors")
		}
	}
	if c.waits.Load()+errs.waits.Load() != 0 {
		t.Errorf("waits: %d, %d", c.waits.Load(), errs.waits.Load())
	}
}

// Shutdown must not wait for the fallback: Stop ends every wait, and
// nobody waits afterwards.
func TestSignal_StopReleasesWaitersForGood(t *testing.T) {
	queues := []string{"direct"}
	sig := NewSignal()
	c := NewClient(&scripted{eval: func(string) error { return redis.Nil }}, sig, queues, time.Hour)
	round(c, queues, 10*time.Second)
	done := make(chan struct{})
	go func() { defer close(done); round(c, queues, time.Hour) }()
	for c.waits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	sig.Stop()
	<-done
	for i := 0; i < 3; i++ {
		if !round(c, queues, 10*time.Second) {
			t.Fatal("a round waited after Stop")
		}
	}
	sig.Wake() // harmless after Stop
}

// countingClient counts asynq's dequeue scripts.
type countingClient struct {
	redis.UniversalClient
	dequeues atomic.Int64
}

func (c *countingClient) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	if _, ok := dequeueQueue(keys); ok {
		c.dequeues.Add(1)
	}
	return c.UniversalClient.EvalSha(ctx, sha, keys, args...)
}

func (c *countingClient) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	if _, ok := dequeueQueue(keys); ok {
		c.dequeues.Add(1)
	}
	return c.UniversalClient.Eval(ctx, script, keys, args...)
}

type quiet struct{}

func (quiet) Debug(...any) {}
func (quiet) Info(...any)  {}
func (quiet) Warn(...any)  {}
func (quiet) Error(...any) {}
func (quiet) Fatal(...any) {}

// announcedServer is the product's wiring on the test Redis (embedded or
// real): an asynq server on two queues that dequeues through a Client
// woken by Listen, and an asynq client that enqueues through an
// AnnouncingClient. Its handler sends each task's payload to handled.
type announcedServer struct {
	gated    *Client
	counting *countingClient
	handled  chan string
	client   *asynq.Client
}

// startAnnouncedServer starts one, waits until it idles, and stops it at
// the end of the test. Its fallback and recheck are an hour: only an
// announcement can end its waits.
func startAnnouncedServer(t *testing.T) *announcedServer {
	t.Helper()
	rdb, _ := testenv.RedisClient(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	sig := NewSignal()
	go Listen(ctx, rdb, testChannel, sig, logger)
	// Listen wakes the signal once subscribed; after that, only a
	// notification does.
	waitFor(t, func() bool { return sig.generation() > 0 }, "the notification subscription")

	s := &announcedServer{counting: &countingClient{UniversalClient: rdb}, handled: make(chan string, 10)}
	s.gated = NewClient(s.counting, sig, []string{"direct", "broadcast"}, time.Hour)
	s.gated.recheck = time.Hour
	mux := asynq.NewServeMux()
	mux.HandleFunc("t", func(_ context.Context, t *asynq.Task) error { s.handled <- string(t.Payload()); return nil })
	srv := asynq.NewServerFromRedisClient(s.gated, asynq.Config{
		Concurrency: 2, Queues: map[string]int{"direct": 2, "broadcast": 1},
		TaskCheckInterval: time.Millisecond, Logger: quiet{},
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sig.Stop(); srv.Shutdown() })
	s.client = asynq.NewClientFromRedisClient(NewAnnouncingClient(rdb, testChannel))
	t.Cleanup(func() { _ = s.client.Close() })
	waitFor(t, func() bool { return s.gated.waits.Load() > 0 }, "the idle server to wait")
	return s
}

// With a real asynq server: an idle server stops running dequeue scripts,
// a notification published by the enqueue through an AnnouncingClient
// wakes it, and the task is processed at once, long before the hour-long
// fallback.
func TestAsynqServer_IdlesUntilNotified(t *testing.T) {
	s := startAnnouncedServer(t)
	// Idle: the server waits on the signal, and no dequeue runs meanwhile
	// (polling every millisecond would run hundreds).
	before := s.counting.dequeues.Load()
	time.Sleep(300 * time.Millisecond)
	if d := s.counting.dequeues.Load() - before; d != 0 {
		t.Fatalf("%d dequeue scripts while idle, want 0", d)
	}

	if _, err := s.client.Enqueue(asynq.NewTask("t", []byte("one")), asynq.Queue("broadcast")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-s.handled:
		if got != "one" {
			t.Fatalf("handled %q", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the notified task was not processed: the wake-up did not reach the idle server")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// One notification wakes one idle server; a waiter that gave up (its
// fallback passed) does not swallow a later one.
func TestSignal_WakesOneWaiterOldestFirst(t *testing.T) {
	s := NewSignal()
	gen := s.generation()
	gone, leave, ok := s.wait(gen)
	if !ok {
		t.Fatal("no wait in the current generation")
	}
	leave()
	a, _, _ := s.wait(gen)
	b, _, _ := s.wait(gen)
	s.Wake()
	if !closed(a) || closed(b) || closed(gone) {
		t.Fatalf("after one Wake: a %v, b %v, the waiter that left %v; want only a", closed(a), closed(b), closed(gone))
	}
	if _, _, ok := s.wait(gen); ok {
		t.Error("a wait on a past generation was accepted: its wake-up already happened")
	}
	s.Wake()
	if !closed(b) {
		t.Error("the second Wake did not wake b")
	}
}

// Listen is owned by its caller: it returns once ctx ends, although
// go-redis's Receive does not watch the context.
func TestListen_ReturnsWhenTheContextEnds(t *testing.T) {
	rdb, _ := testenv.RedisClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	sig := NewSignal()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Listen(ctx, rdb, testChannel, sig, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	waitFor(t, func() bool { return sig.generation() > 0 }, "the subscription to start (it wakes the signal)")
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Listen still running 30 s after its context ended")
	}
}

// testChannel is the notification channel these tests publish and listen on.
const testChannel = "messager:tasks:test"

// tasks is a scripted dequeue: each queue holds a number of tasks, and a
// dequeue takes one or finds the queue empty.
type tasks struct {
	mu    sync.Mutex
	left  map[string]int
	calls int
}

func (q *tasks) eval(queue string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if q.left[queue] == 0 {
		return redis.Nil
	}
	q.left[queue]--
	return nil
}

func (q *tasks) add(queue string, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.left[queue] += n
}

func (q *tasks) dequeues() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls
}

// newDrainClient is a Client over q whose waits end only by a wake-up.
func newDrainClient(q *tasks, sig *Signal, queues []string) *Client {
	c := NewClient(&scripted{eval: q.eval}, sig, queues, time.Hour)
	c.recheck = time.Hour
	return c
}

// A server that has just found the last task announced runs no round that
// would find nothing: its next dequeue waits for the next announcement.
func TestClient_WaitsOnceItHasFoundEveryAnnouncedTask(t *testing.T) {
	queues := []string{"direct", "broadcast"}
	sig := NewSignal()
	q := &tasks{left: map[string]int{}}
	c := newDrainClient(q, sig, queues)
	for i := 0; i < 3; i++ {
		q.add("direct", 1)
		sig.Announce(1)
		if !round(c, queues, 10*time.Second) {
			t.Fatalf("round %d waited with an announced task in the queue", i)
		}
		before := q.dequeues()
		done := make(chan struct{})
		go func() { defer close(done); round(c, queues, time.Hour) }()
		waitFor(t, func() bool { return c.skips.Load() == int64(i+1) }, "the drained server to wait")
		time.Sleep(20 * time.Millisecond)
		if d := q.dequeues() - before; d != 0 {
			t.Fatalf("round %d: %d dequeue scripts after the last announced task was found, want 0", i, d)
		}
		q.add("direct", 1)
		sig.Announce(1)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("an announcement did not end the drained server's wait")
		}
	}
	if c.waits.Load() != 0 {
		t.Errorf("%d idle waits: no round found every queue empty", c.waits.Load())
	}
}

// Tasks announced together (one notification covering several enqueues)
// are all looked for before anyone waits.
func TestClient_KeepsDequeuingWhileAnnouncedTasksAreLeft(t *testing.T) {
	queues := []string{"direct", "broadcast"}
	sig := NewSignal()
	q := &tasks{left: map[string]int{"direct": 2, "broadcast": 1}}
	c := newDrainClient(q, sig, queues)
	sig.Announce(3)
	for i := 0; i < 3; i++ {
		if !round(c, queues, 10*time.Second) {
			t.Fatalf("round %d waited with announced tasks left", i+1)
		}
	}
	if round(c, queues, 200*time.Millisecond) {
		t.Fatal("a fourth round ran after the three announced tasks were found")
	}
	if c.skips.Load() != 1 {
		t.Errorf("skips %d, want 1", c.skips.Load())
	}
}

// Tasks found with no credit came unannounced (retries moved in by asynq,
// an older API): the server looks until every queue is empty, and a
// notification meanwhile does not stop it early.
func TestClient_DrainsUnannouncedTasksUntilEveryQueueIsEmpty(t *testing.T) {
	queues := []string{"direct", "broadcast"}
	sig := NewSignal()
	q := &tasks{left: map[string]int{"direct": 5}}
	c := newDrainClient(q, sig, queues)
	for i := 0; i < 5; i++ {
		if i == 2 {
			q.add("broadcast", 1)
			sig.Announce(1)
		}
		if !round(c, queues, 10*time.Second) {
			t.Fatalf("round %d waited with unannounced tasks left", i+1)
		}
	}
	if !round(c, queues, 10*time.Second) {
		t.Fatal("the round after the last unannounced task waited; the announced task is still queued")
	}
	if q.left["direct"]+q.left["broadcast"] != 0 {
		t.Fatalf("left %v", q.left)
	}
	if c.skips.Load() != 0 {
		t.Errorf("skips %d while draining, want 0", c.skips.Load())
	}
}

// Every worker process hears every notification, and one of them takes
// the task: a round that finds every queue empty drops the credit of what
// was announced before it began, so the next task found is the last.
func TestClient_AnEmptyRoundDropsTheCreditOfTasksTakenElsewhere(t *testing.T) {
	queues := []string{"direct", "broadcast"}
	sig := NewSignal()
	q := &tasks{left: map[string]int{}}
	c := newDrainClient(q, sig, queues)
	sig.Announce(4) // taken by another process
	if !round(c, queues, 10*time.Second) {
		t.Fatal("the round after an announcement waited")
	}
	q.add("direct", 1)
	sig.Announce(1)
	if !round(c, queues, 10*time.Second) {
		t.Fatal("the round after the second announcement waited")
	}
	if round(c, queues, 200*time.Millisecond) {
		t.Fatal("a round ran after the only task left was found: the empty round kept the credit of tasks taken elsewhere")
	}
}

// Tasks asynq's forwarder moves into a queue (retries, scheduled tasks)
// are not announced: the forwarder's script wakes the signal, count
// unknown, so the server looks until the queues are empty.
func TestClient_TasksMovedInByTheForwarderWakeWithAnUnknownCount(t *testing.T) {
	queues := []string{"direct"}
	sig := NewSignal()
	q := &tasks{left: map[string]int{}}
	forward := &forwarding{scripted: scripted{eval: q.eval}, moved: 3, q: q}
	c := NewClient(forward, sig, queues, time.Hour)
	c.recheck = time.Hour
	if !round(c, queues, 10*time.Second) {
		t.Fatal("the first round waited")
	}
	// Idle now; the forwarder moves three retries in, then a task is
	// enqueued and announced behind them. The retries must not spend its
	// credit and leave it waiting.
	if err := c.EvalSha(context.Background(), "sha", []string{"asynq:{direct}:retry", "asynq:{direct}:pending"}, 0).Err(); err != nil {
		t.Fatal(err)
	}
	q.add("direct", 1)
	sig.Announce(1)
	for i := 0; i < 4; i++ {
		if !round(c, queues, 10*time.Second) {
			t.Fatalf("round %d waited with tasks left", i+1)
		}
	}
}

// forwarding answers asynq's forwarder script by moving tasks into q.
type forwarding struct {
	scripted
	moved int
	q     *tasks
}

func (f *forwarding) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	if _, ok := dequeueQueue(keys); ok {
		return f.scripted.EvalSha(ctx, sha, keys, args...)
	}
	f.q.add("direct", f.moved)
	cmd := redis.NewCmd(ctx)
	cmd.SetVal(int64(f.moved))
	return cmd
}

func TestAnnounced_ReadsTheNotificationsCount(t *testing.T) {
	for payload, want := range map[string]int{"1": 1, "17": 17, "": 0, "x": 0, "-3": 0} {
		if got := announced(payload); got != want {
			t.Errorf("announced(%q) = %d, want %d", payload, got, want)
		}
	}
}

// With a real asynq server: tasks enqueued one after the other, each
// announced by its enqueue, are dequeued with no empty round between
// them (asynq alone runs one after each task: a dequeue of every queue,
// each empty). A dequeue round takes one script per queue it looks at,
// so at most two per task here.
func TestAsynqServer_RunsNoEmptyRoundBetweenAnnouncedTasks(t *testing.T) {
	s := startAnnouncedServer(t)
	gated, counting, handled, client := s.gated, s.counting, s.handled, s.client
	const tasks = 10
	before := counting.dequeues.Load()
	waiting := func() int64 { return gated.skips.Load() + gated.waits.Load() }
	for i := 0; i < tasks; i++ {
		w := waiting()
		if _, err := client.Enqueue(asynq.NewTask("t", []byte{byte('a' + i)}), asynq.Queue("direct")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-handled:
		case <-time.After(30 * time.Second):
			t.Fatalf("task %d was not processed", i+1)
		}
		// The server has taken the task and waits for the next one.
		waitFor(t, func() bool { return waiting() > w }, "the server to wait")
	}
	if d := counting.dequeues.Load() - before; d > 2*tasks {
		t.Errorf("%d dequeue scripts for %d announced tasks, want at most %d", d, tasks, 2*tasks)
	}
}

// hookCounts records what a client sent: single commands and pipelines.
type hookCounts struct {
	mu        sync.Mutex
	single    []string
	pipelines [][]string
}

func (h *hookCounts) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *hookCounts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.single = append(h.single, cmd.Name())
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *hookCounts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var names []string
		for _, c := range cmds {
			names = append(names, c.Name())
		}
		h.mu.Lock()
		h.pipelines = append(h.pipelines, names)
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// An asynq enqueue through an AnnouncingClient is one round trip, the
// script and then the PUBLISH announcing one task, so a worker that hears
// the notification finds the task already queued; other scripts pass
// straight through, unannounced.
func TestAnnouncingClient_AnnouncesEachEnqueueInItsRoundTrip(t *testing.T) {
	rdb, u := testenv.RedisClient(t)
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	hooked := redis.NewClient(opt)
	t.Cleanup(func() { _ = hooked.Close() })
	counts := &hookCounts{}
	hooked.AddHook(counts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := rdb.Subscribe(ctx, testChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}

	client := asynq.NewClientFromRedisClient(NewAnnouncingClient(hooked, testChannel))
	defer client.Close()
	// The first enqueue may find Redis without asynq's script and be sent
	// twice, announced each time; what it published is read up to a
	// marker published after it.
	if _, err := client.Enqueue(asynq.NewTask("t", []byte("warm-up")), asynq.Queue("warm-up")); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Publish(ctx, testChannel, "marker").Err(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Payload == "marker" {
			break
		}
	}
	counts.mu.Lock()
	counts.single, counts.pipelines = nil, nil
	counts.mu.Unlock()
	for i := 0; i < 3; i++ {
		if _, err := client.Enqueue(asynq.NewTask("t", []byte{byte('a' + i)}), asynq.Queue("direct")); err != nil {
			t.Fatal(err)
		}
		m, err := sub.ReceiveMessage(ctx)
		if err != nil || m.Payload != "1" {
			t.Fatalf("notification %d: %v (%v), want one announcing 1 task", i+1, m, err)
		}
		if n, err := rdb.LLen(ctx, "asynq:{direct}:pending").Result(); err != nil || n != int64(i+1) {
			t.Fatalf("after notification %d: %d pending (%v), want %d", i+1, n, err, i+1)
		}
	}
	counts.mu.Lock()
	single, pipelines := counts.single, counts.pipelines
	counts.mu.Unlock()
	var announced int
	for _, p := range pipelines {
		if len(p) == 2 && (p[0] == "evalsha" || p[0] == "eval") && p[1] == "publish" {
			announced++
		}
	}
	if announced != 3 {
		t.Errorf("pipelines %q: want each of the 3 enqueues as one script and a publish", pipelines)
	}
	for _, name := range single {
		if name == "publish" {
			t.Errorf("a publish went in a round trip of its own: %q", single)
		}
	}

	// A script that is not an enqueue announces nothing.
	if err := NewAnnouncingClient(hooked, testChannel).Eval(ctx, "return 1", []string{"asynq:{direct}:pending"}).Err(); err != nil {
		t.Fatal(err)
	}
	probe := make(chan error, 1)
	go func() {
		_, err := sub.ReceiveMessage(ctx)
		probe <- err
	}()
	select {
	case err := <-probe:
		t.Fatalf("a script other than the enqueue was announced (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
}
