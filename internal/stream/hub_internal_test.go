package stream

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/messager/messager/internal/events"
)

// fakeSink records what serve writes. When block is set, every write waits
// on it (or the write deadline), so the connection stops draining.
type fakeSink struct {
	mu      sync.Mutex
	frames  []Frame
	closed  []int32
	started chan struct{} // receives once per write that begins
	block   chan struct{}
	wrote   chan struct{} // receives once per completed write
}

func newFakeSink() *fakeSink {
	return &fakeSink{started: make(chan struct{}, 1<<12), wrote: make(chan struct{}, 1<<12)}
}

func (s *fakeSink) write(ctx context.Context, f Frame) error {
	s.started <- struct{}{}
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	s.frames = append(s.frames, f)
	s.mu.Unlock()
	s.wrote <- struct{}{}
	return nil
}

func (s *fakeSink) flush() error                       { return nil }
func (s *fakeSink) ping(ctx context.Context) error     { return nil }
func (s *fakeSink) control() <-chan []byte             { return nil }
func (s *fakeSink) pong(context.Context, []byte) error { return nil }
func (s *fakeSink) direct() *directWriter              { return nil }
func (s *fakeSink) closeWith(reason int32) {
	s.mu.Lock()
	s.closed = append(s.closed, reason)
	s.mu.Unlock()
}

func (s *fakeSink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.frames))
	for i, f := range s.frames {
		out[i] = f.ID
	}
	return out
}

func (s *fakeSink) closeReasons() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int32(nil), s.closed...)
}

// counterValue reads a counter without the testutil package, whose
// dependencies are not in go.mod.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func waitFor(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// startServe runs hub.serve for userID on s and returns a channel that
// yields serve's error when it returns.
func startServe(ctx context.Context, h *Hub, userID int, s sink) <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.serve(ctx, userID, "fake", streamStart{head: -1}, s, nil, time.Hour) }()
	return done
}

func msgEnv(id string, users ...int) events.Envelope {
	return events.Envelope{Type: events.TypeMessage, ID: id, Users: users, Frame: []byte(`{"type":"message"}`)}
}

func TestHubDeliver_FullQueueClosesOnlyThatConnectionAsSlow(t *testing.T) {
	const buffer = 4
	h := NewHub(prometheus.NewRegistry(), buffer)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	slow := newFakeSink()
	slow.block = make(chan struct{})
	fast := newFakeSink()
	slowDone := startServe(ctx, h, 1, slow)
	fastDone := startServe(ctx, h, 2, fast)
	waitUntil(t, "both connections registered", func() bool { return h.Len() == 2 })

	// The first frame is taken by the slow writer, which then blocks.
	h.Deliver(msgEnv("m0", 1, 2))
	waitFor(t, "slow writer to start", slow.started)

	waitFor(t, "fast connection to receive", fast.wrote)

	// buffer more frames fill the slow queue; one more overflows it. Each
	// Deliver returns at once although user 1's writer is stuck, and user 2
	// receives each frame meanwhile (one at a time, so its own small
	// buffer never overflows).
	start := time.Now()
	for i := 1; i <= buffer+1; i++ {
		h.Deliver(msgEnv("m"+string(rune('0'+i)), 1, 2))
		waitFor(t, "fast connection to receive", fast.wrote)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("delivery took %v behind a stuck connection", d)
	}
	if got := counterValue(h.slow); got != 1 {
		t.Fatalf("messager_stream_slow_consumers_total = %v, want 1", got)
	}

	// Overflowing again does not count the same connection twice.
	h.Deliver(msgEnv("m9", 1, 2))
	waitFor(t, "fast connection to receive", fast.wrote)
	if got := counterValue(h.slow); got != 1 {
		t.Fatalf("slow consumer counted %v times, want once", got)
	}

	close(slow.block)
	select {
	case err := <-slowDone:
		if err != nil {
			t.Fatalf("slow serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("slow connection was not closed")
	}
	if got := slow.closeReasons(); len(got) != 1 || got[0] != closeSlow {
		t.Fatalf("slow sink closed with %v, want [closeSlow]", got)
	}
	if h.Len() != 1 {
		t.Fatalf("hub has %d connections, want only the fast one", h.Len())
	}
	if got := fast.closeReasons(); len(got) != 0 {
		t.Fatalf("fast connection closed too: %v", got)
	}

	// The fast connection keeps receiving, every frame in order.
	h.Deliver(msgEnv("mz", 2))
	waitFor(t, "fast connection to keep receiving", fast.wrote)
	want := []string{"m0", "m1", "m2", "m3", "m4", "m5", "m9", "mz"}
	if got := fast.ids(); !slices.Equal(got, want) {
		t.Fatalf("fast received %v, want %v", got, want)
	}
	cancel()
	<-fastDone
}

func TestHubDeliver_OnlyToTheNamedUsersOrAll(t *testing.T) {
	h := NewHub(prometheus.NewRegistry(), 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sinks := map[int][]*fakeSink{}
	var dones []<-chan error
	for _, uid := range []int{1, 1, 2, 3} {
		s := newFakeSink()
		sinks[uid] = append(sinks[uid], s)
		dones = append(dones, startServe(ctx, h, uid, s))
	}
	waitUntil(t, "registration", func() bool { return h.Len() == 4 })
	h.Deliver(msgEnv("dm", 1))
	h.Deliver(events.Envelope{Type: events.TypePresence, All: true, Frame: []byte(`{}`)})
	for _, s := range sinks[1] {
		waitFor(t, "dm", s.wrote)
		waitFor(t, "presence", s.wrote)
	}
	for _, uid := range []int{2, 3} {
		waitFor(t, "presence", sinks[uid][0].wrote)
	}
	for uid, ss := range sinks {
		for _, s := range ss {
			want := 1
			if uid == 1 {
				want = 2
			}
			if got := s.ids(); len(got) != want {
				t.Fatalf("user %d received %v, want %d frames", uid, got, want)
			}
		}
	}
	cancel()
	for _, d := range dones {
		<-d
	}
}

func TestHubCloseAll_ClosesOpenStreamsAndRefusesNewOnes(t *testing.T) {
	h := NewHub(prometheus.NewRegistry(), 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := newFakeSink()
	openDone := startServe(ctx, h, 1, open)
	waitUntil(t, "registration", func() bool { return h.Len() == 1 })

	h.CloseAll()
	select {
	case <-openDone:
	case <-time.After(5 * time.Second):
		t.Fatal("CloseAll left a stream open")
	}
	if got := open.closeReasons(); len(got) != 1 || got[0] != closeGoingAway {
		t.Fatalf("open stream closed with %v, want [closeGoingAway]", got)
	}

	late := newFakeSink()
	if err := h.serve(ctx, 2, "fake", streamStart{head: -1}, late, nil, time.Hour); err != errShuttingDown {
		t.Fatalf("serve after CloseAll = %v, want errShuttingDown", err)
	}
	if got := late.closeReasons(); len(got) != 1 || got[0] != closeGoingAway {
		t.Fatalf("refused stream closed with %v, want [closeGoingAway]", got)
	}
	if h.Len() != 0 || len(h.ConnectedUsers()) != 0 {
		t.Fatalf("hub still holds %d connections after CloseAll", h.Len())
	}
	if got := counterValue(h.slow); got != 0 {
		t.Fatalf("shutdown counted as slow consumers: %v", got)
	}
}

func TestHubResync_ClosesStreamsButAcceptsNewOnes(t *testing.T) {
	h := NewHub(prometheus.NewRegistry(), 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := newFakeSink()
	firstDone := startServe(ctx, h, 1, first)
	waitUntil(t, "registration", func() bool { return h.Len() == 1 })
	h.Resync()
	<-firstDone
	if got := first.closeReasons(); len(got) != 1 || got[0] != closeGoingAway {
		t.Fatalf("closed with %v, want [closeGoingAway]", got)
	}
	again := newFakeSink()
	againDone := startServe(ctx, h, 1, again)
	waitUntil(t, "re-registration", func() bool { return h.Len() == 1 })
	h.Deliver(msgEnv("after-resync", 1))
	waitFor(t, "delivery after resync", again.wrote)
	cancel()
	<-againDone
}

// discardSink counts writes and signals when the shared count reaches want.
type discardSink struct {
	count   *atomic.Int64
	want    *atomic.Int64
	reached chan struct{}
}

func (s discardSink) write(context.Context, Frame) error {
	if s.count.Add(1) == s.want.Load() {
		s.reached <- struct{}{}
	}
	return nil
}
func (discardSink) flush() error                       { return nil }
func (discardSink) ping(context.Context) error         { return nil }
func (discardSink) control() <-chan []byte             { return nil }
func (discardSink) pong(context.Context, []byte) error { return nil }
func (discardSink) closeWith(int32)                    {}
func (discardSink) direct() *directWriter              { return nil }

// BenchmarkHubFanout1000 delivers one event to 1,000 local connections
// through Hub.Deliver and waits until their writers have drained it.
// "sync" waits after every event (latency of one fan-out); "pipelined"
// keeps up to 256 events in flight per connection (throughput).
func BenchmarkHubFanout1000(b *testing.B) {
	const conns = 1000
	for _, mode := range []struct {
		name  string
		batch int
	}{{"sync", 1}, {"pipelined", 256}} {
		b.Run(mode.name, func(b *testing.B) {
			h := NewHub(prometheus.NewRegistry(), 1024)
			ctx, cancel := context.WithCancel(context.Background())
			var count, want atomic.Int64
			reached := make(chan struct{}, 1)
			var wg sync.WaitGroup
			users := make([]int, conns)
			for i := range conns {
				users[i] = i + 1
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = h.serve(ctx, i+1, "bench", streamStart{head: -1}, discardSink{count: &count, want: &want, reached: reached}, nil, time.Hour)
				}()
			}
			for h.Len() < conns {
				time.Sleep(time.Millisecond)
			}
			env := events.Envelope{Type: events.TypeMessage, ID: "0190a5d0-0000-7000-8000-000000000001", Users: users,
				Frame: []byte(`{"type":"message","message":{"id":"0190a5d0-0000-7000-8000-000000000001","body":"hi"}}`)}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			sent := 0
			for i := 0; i < b.N; i++ {
				if (i % mode.batch) == 0 {
					want.Store(int64(sent+min(mode.batch, b.N-i)) * conns)
				}
				h.Deliver(env)
				sent++
				if sent%mode.batch == 0 || i == b.N-1 {
					<-reached
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)*conns/elapsed.Seconds(), "deliveries/s")
			if got := count.Load(); got != int64(b.N)*conns {
				b.Fatalf("delivered %d, want %d", got, int64(b.N)*conns)
			}
			if s := counterValue(h.slow); s != 0 {
				b.Fatalf("%v slow consumers during the benchmark", s)
			}
			cancel()
			wg.Wait()
		})
	}
}

// gateSink holds every write until gate is closed, whatever the context.
type gateSink struct {
	discardSink
	started chan struct{}
	gate    chan struct{}
	mu      sync.Mutex
	ids     []string
}

func (s *gateSink) write(_ context.Context, f Frame) error {
	s.started <- struct{}{}
	<-s.gate
	s.mu.Lock()
	s.ids = append(s.ids, f.ID)
	s.mu.Unlock()
	return nil
}

// A stream whose context ends (logout ends it through its slot) writes
// nothing queued after: a frame that arrived as it ended, while it was
// still writing the one before, is not written once that write is done
// (its goroutine then saw both at once and could pick either).
func TestServe_WritesNothingQueuedAfterItsContextEnds(t *testing.T) {
	h := NewHub(prometheus.NewRegistry(), 16)
	for i := range 40 {
		ctx, cancel := context.WithCancel(context.Background())
		s := &gateSink{started: make(chan struct{}, 4), gate: make(chan struct{})}
		done := startServe(ctx, h, 1, s)
		waitUntil(t, "stream registered", func() bool { return h.Len() == 1 })
		h.Deliver(msgEnv("first", 1))
		waitFor(t, "first write", s.started)
		cancel()
		h.Deliver(msgEnv("late", 1))
		close(s.gate)
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
		s.mu.Lock()
		got := slices.Clone(s.ids)
		s.mu.Unlock()
		if !slices.Equal(got, []string{"first"}) {
			t.Fatalf("round %d: wrote %v, want only the frame written before the context ended", i, got)
		}
		waitUntil(t, "stream gone", func() bool { return h.Len() == 0 })
	}
}
