package delivery

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/messager/messager/internal/events"
)

// recordingSink is a BatchEnqueuer that records every batch and can be
// held (to let a backlog pile up) or made to fail.
type recordingSink struct {
	mu      sync.Mutex
	batches [][]Delivery
	hold    chan struct{} // when non-nil, each EnqueueBatch waits on it
	entered chan struct{} // receives once per EnqueueBatch call, when non-nil
	fail    error
}

func newHeldSink() *recordingSink {
	return &recordingSink{hold: make(chan struct{}), entered: make(chan struct{}, 1000)}
}

func (s *recordingSink) EnqueueGroup(_ context.Context, ds []Delivery) error {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.hold != nil {
		<-s.hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, append([]Delivery(nil), ds...))
	return s.fail
}

func dm(i int) Delivery {
	return Delivery{SenderID: 1, Recipients: []int{2}, Message: events.Message{ID: fmt.Sprintf("m%04d", i)}}
}

func TestGroupEnqueuer_AloneGoesAtOnce(t *testing.T) {
	sink := &recordingSink{}
	g := NewGroupEnqueuer(sink)
	if err := g.Enqueue(context.Background(), dm(1)); err != nil {
		t.Fatal(err)
	}
	if len(sink.batches) != 1 || len(sink.batches[0]) != 1 || sink.batches[0][0].Message.ID != "m0001" {
		t.Fatalf("batches = %+v, want one batch holding m0001", sink.batches)
	}
}

// While one enqueue is in flight, later sends pile up and leave together;
// every send is enqueued exactly once and each caller is answered.
func TestGroupEnqueuer_BatchesWhatPilesUpAndLosesNothing(t *testing.T) {
	sink := newHeldSink()
	g := NewGroupEnqueuer(sink)
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- g.Enqueue(context.Background(), dm(i)) }()
		if i == 0 {
			<-sink.entered // the first is in flight, alone
		}
	}
	// Let the backlog build behind the held first enqueue, then release.
	waitPending(t, g, QueueDirect, n-1)
	close(sink.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for _, b := range sink.batches {
		if len(b) > maxGroup {
			t.Errorf("batch of %d, want at most %d", len(b), maxGroup)
		}
		for _, d := range b {
			seen[d.Message.ID]++
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages enqueued, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("message %s enqueued %d times", id, c)
		}
	}
	// 1 alone, then 299 waiting: 128 + 128 + 43.
	if len(sink.batches) != 4 {
		t.Fatalf("%d batches, want 4 (1 + the 299 that piled up, in batches of at most %d)", len(sink.batches), maxGroup)
	}
}

// A busy group lingers before taking a batch, so sends that arrive just
// after a quick enqueue still share the next task; an idle group, or one
// fed by a single sequential sender, does not.
func TestGroupEnqueuer_LingersOnlyWhenBusy(t *testing.T) {
	sink := &recordingSink{}
	g := NewGroupEnqueuer(sink)
	lingering, release := make(chan struct{}, 1), make(chan struct{})
	g.window = time.Hour // recent enough, whatever the machine's speed
	g.wait = func(time.Duration, <-chan struct{}) { lingering <- struct{}{}; <-release }
	// Idle, then one sender at a time: each send goes at once, alone.
	for i := 1; i <= 2; i++ {
		if err := g.Enqueue(context.Background(), dm(i)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-lingering:
		t.Fatal("a lone sequential sender lingered")
	default:
	}
	// Concurrent senders (the last batch held several): the next leader
	// lingers, and a send arriving meanwhile joins its batch.
	g.mu.Lock()
	g.groups[QueueDirect].lastSize = 2
	g.mu.Unlock()
	done := make(chan error, 2)
	go func() { done <- g.Enqueue(context.Background(), dm(3)) }()
	<-lingering
	go func() { done <- g.Enqueue(context.Background(), dm(4)) }()
	waitPending(t, g, QueueDirect, 2)
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if len(sink.batches) != 3 || len(sink.batches[2]) != 2 {
		t.Fatalf("batches = %v, want [m0001], [m0002], then [m0003 m0004]", sink.batches)
	}
}

// Sends from several senders at a few hundred a second mostly arrive one
// at a time, so no group ever held several; that another sender sent just
// before is what says waiting would give company: the send lingers, and a
// send arriving meanwhile shares its task.
func TestGroupEnqueuer_LingersWhenAnotherSenderJustSent(t *testing.T) {
	sink := &recordingSink{}
	g := NewGroupEnqueuer(sink)
	lingering, release := make(chan struct{}, 1), make(chan struct{})
	g.window = time.Hour // recent enough, whatever the machine's speed
	g.wait = func(time.Duration, <-chan struct{}) { lingering <- struct{}{}; <-release }
	if err := g.Enqueue(context.Background(), dm(1)); err != nil { // sender 1, alone
		t.Fatal(err)
	}
	other := dm(2)
	other.SenderID = 2
	done := make(chan error, 2)
	go func() { done <- g.Enqueue(context.Background(), other) }()
	select {
	case <-lingering:
	case <-time.After(10 * time.Second):
		t.Fatal("a send right after another sender's did not linger")
	}
	go func() { done <- g.Enqueue(context.Background(), dm(3)) }()
	waitPending(t, g, QueueDirect, 2)
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if len(sink.batches) != 2 || len(sink.batches[1]) != 2 {
		t.Fatalf("batches = %v, want [m0001], then [m0002 m0003]", sink.batches)
	}
}

// spec.messaging.sendLinger sets how long a busy group lingers, and 0
// turns lingering off: sends from two senders in a row then go at once.
func TestGroupEnqueuer_LingerIsConfigurable(t *testing.T) {
	for _, linger := range []time.Duration{0, 20 * time.Millisecond} {
		sink := &recordingSink{}
		g := NewGroupEnqueuer(sink, WithLinger(linger))
		if g.window != 2*linger {
			t.Errorf("linger %v: busy window %v, want %v", linger, g.window, 2*linger)
		}
		var (
			mu    sync.Mutex
			slept []time.Duration
		)
		g.wait = func(d time.Duration, _ <-chan struct{}) { mu.Lock(); slept = append(slept, d); mu.Unlock() }
		if linger > 0 {
			g.window = time.Hour // recent enough, whatever the machine's speed
		}
		other := dm(2)
		other.SenderID = 2
		for _, d := range []Delivery{dm(1), other} {
			if err := g.Enqueue(context.Background(), d); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.Close(context.Background()); err != nil { // the flushers are done
			t.Fatal(err)
		}
		mu.Lock()
		if linger == 0 && len(slept) > 0 || linger > 0 && (len(slept) == 0 || slices.ContainsFunc(slept, func(d time.Duration) bool { return d != linger })) {
			t.Errorf("linger %v: slept %v", linger, slept)
		}
		mu.Unlock()
	}
}

// A lingering group is taken as soon as it holds enough to share
// (groupEnough sends): a busy pod's sends do not wait out the linger,
// and a closed loop of senders is not held to one round per linger.
func TestGroupEnqueuer_LingerEndsOnceTheGroupHoldsEnough(t *testing.T) {
	sink := &recordingSink{}
	g := NewGroupEnqueuer(sink, WithLinger(time.Hour))             // ran out, it would hang the test
	if err := g.Enqueue(context.Background(), dm(0)); err != nil { // sender 1, alone
		t.Fatal(err)
	}
	done := make(chan error, groupEnough)
	for i := 1; i <= groupEnough; i++ { // other senders, right after: the leader lingers
		d := dm(i)
		d.SenderID = 1 + i
		go func() { done <- g.Enqueue(context.Background(), d) }()
	}
	for range groupEnough {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the linger did not end with %d sends waiting", groupEnough)
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	sizes := []int{}
	for _, b := range sink.batches {
		sizes = append(sizes, len(b))
	}
	if !slices.Equal(sizes, []int{1, groupEnough}) {
		t.Fatalf("task sizes %v, want [1 %d]: the lone first send, then the linger's group", sizes, groupEnough)
	}
}

// A broadcast to a room is enough on its own: its rows dwarf a task's
// cost, so it never waits for company. (Broadcasts to 999 people online
// from different senders, one at a time, each lingered when enough meant
// 1,000 recipients: one sender flat out fell from 42-47k to 33.5k
// deliveries/s.)
func TestGroupEnqueuer_BroadcastToARoomDoesNotLinger(t *testing.T) {
	sink := &recordingSink{}
	g := NewGroupEnqueuer(sink, WithLinger(time.Hour))
	g.window = time.Hour
	for i := range 3 {
		d := Delivery{SenderID: 1 + i, Recipients: make([]int, 999), Message: events.Message{ID: fmt.Sprintf("b%d", i), Broadcast: true}}
		errc := make(chan error, 1)
		go func() { errc <- g.Enqueue(context.Background(), d) }()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("broadcast %d from another sender lingered", i)
		}
	}
}

// A task's recipients are bounded, so broadcasts to big audiences do not
// make one enormous task; a single huge broadcast still goes alone.
func TestGroupEnqueuer_BoundsRecipientsPerTask(t *testing.T) {
	sink := newHeldSink()
	g := NewGroupEnqueuer(sink)
	big := func(i int) Delivery {
		d := Delivery{SenderID: 1, Recipients: make([]int, 6000), Message: events.Message{ID: fmt.Sprintf("b%d", i), Broadcast: true}}
		return d
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = g.Enqueue(context.Background(), big(i)) }()
		if i == 0 {
			<-sink.entered
		}
	}
	waitPending(t, g, QueueBroadcast, 3)
	close(sink.hold)
	wg.Wait()
	for _, b := range sink.batches {
		users := 0
		for _, d := range b {
			users += len(d.Recipients)
		}
		if len(b) > 1 && users > maxGroupRecipients {
			t.Fatalf("a task of %d broadcasts holds %d recipients, over %d", len(b), users, maxGroupRecipients)
		}
	}
	if len(sink.batches) != 3 { // 1, then 2 + 1 (2×6000 fits 16384, 3× does not)
		t.Fatalf("%d tasks, want 3", len(sink.batches))
	}
}

// A failed enqueue is reported to every caller whose message was in it, so
// none of them answers 202 for a message that is not queued.
func TestGroupEnqueuer_ReportsFailureToEveryCaller(t *testing.T) {
	boom := errors.New("redis down")
	sink := newHeldSink()
	sink.fail = boom
	g := NewGroupEnqueuer(sink)
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- g.Enqueue(context.Background(), dm(i)) }()
		if i == 0 {
			<-sink.entered
		}
	}
	waitPending(t, g, QueueDirect, n-1)
	close(sink.hold)
	for range n {
		if err := <-errs; !errors.Is(err, boom) {
			t.Fatalf("Enqueue = %v, want %v", err, boom)
		}
	}
}

// waitPending waits until n deliveries wait behind the in-flight enqueue.
func waitPending(t *testing.T, g *GroupEnqueuer, queue string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		grp := g.groups[queue]
		got := 0
		if grp != nil {
			got = len(grp.pending)
		}
		g.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("fewer than %d deliveries piled up", n)
}

// Close waits for the flusher a request handed its remainder to, and
// refuses deliveries that come after it.
func TestGroupEnqueuer_CloseWaitsForHandedOverFlushesAndRefusesMore(t *testing.T) {
	sink := newHeldSink()
	g := NewGroupEnqueuer(sink)
	g.linger = 0
	errs := make(chan error, 2)
	go func() { errs <- g.Enqueue(context.Background(), dm(1)) }()
	<-sink.entered // m0001 is being enqueued alone; the sink holds it
	go func() { errs <- g.Enqueue(context.Background(), dm(2)) }()
	for { // until m0002 waits behind it
		g.mu.Lock()
		n := len(g.groups[QueueDirect].pending)
		g.mu.Unlock()
		if n == 1 {
			break
		}
		runtime.Gosched()
	}
	closed := make(chan error, 1)
	go func() { closed <- g.Close(context.Background()) }()
	for { // until Close has marked the enqueuer closed
		g.mu.Lock()
		c := g.closed
		g.mu.Unlock()
		if c {
			break
		}
		runtime.Gosched()
	}
	if err := g.Enqueue(context.Background(), dm(3)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Enqueue after Close = %v, want ErrClosed", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a flush was still running", err)
	default:
	}
	close(sink.hold)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	sent := len(sink.batches)
	sink.mu.Unlock()
	if sent != 2 {
		t.Fatalf("Close returned after %d of 2 enqueues", sent)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestGroupEnqueuer_CloseGivesUpWhenItsContextEnds(t *testing.T) {
	sink := newHeldSink()
	defer close(sink.hold)
	g := NewGroupEnqueuer(sink)
	go func() { _ = g.Enqueue(context.Background(), dm(1)) }()
	<-sink.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want the context's error", err)
	}
}

// recordingGate refuses the deliveries whose message ID is in refuse, or
// every group with fail, and records each call.
type recordingGate struct {
	mu       sync.Mutex
	groups   [][]string // message IDs of each AdmitGroup call
	released []string
	refuse   map[string]error
	fail     error
}

func (g *recordingGate) AdmitGroup(_ context.Context, ds []Delivery) ([]error, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ids []string
	refusals := make([]error, len(ds))
	for i, d := range ds {
		ids = append(ids, d.Message.ID)
		refusals[i] = g.refuse[d.Message.ID]
	}
	g.groups = append(g.groups, ids)
	if g.fail != nil {
		return nil, g.fail
	}
	return refusals, nil
}

func (g *recordingGate) ReleaseGroup(_ context.Context, ds []Delivery) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, d := range ds {
		g.released = append(g.released, d.Message.ID)
	}
	return nil
}

// sendPiledUp enqueues dm(0) alone, held in the sink, then dm(1..n-1)
// behind it, releases the sink and returns each delivery's error by index.
func sendPiledUp(t *testing.T, g *GroupEnqueuer, sink *recordingSink, n int) []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = g.Enqueue(context.Background(), dm(i)) })
		if i == 0 {
			<-sink.entered
		}
	}
	waitPending(t, g, QueueDirect, n-1)
	close(sink.hold)
	wg.Wait()
	return errs
}

// The deliveries that pile up are admitted together, in one call, when
// their group is taken; only those admitted are queued, and each refused
// one is answered with its refusal.
func TestGroupEnqueuer_GateAdmitsAGroupAtOnceAndQueuesOnlyWhatItAdmits(t *testing.T) {
	repeat, limited := errors.New("repeat"), errors.New("rate limited")
	gate := &recordingGate{refuse: map[string]error{"m0002": repeat, "m0004": limited}}
	sink := newHeldSink()
	g := NewGroupEnqueuer(sink, WithGate(gate))
	errs := sendPiledUp(t, g, sink, 6)
	want := []error{nil, nil, repeat, nil, limited, nil}
	for i, err := range errs {
		if err != want[i] {
			t.Errorf("Enqueue(m%04d) = %v, want %v", i, err, want[i])
		}
	}
	// The five pile up in whatever order their goroutines ran.
	for _, ids := range gate.groups {
		slices.Sort(ids)
	}
	if !slices.EqualFunc(gate.groups, [][]string{{"m0000"}, {"m0001", "m0002", "m0003", "m0004", "m0005"}}, slices.Equal) {
		t.Fatalf("gate calls %v, want the lone first delivery, then the five that piled up in one call", gate.groups)
	}
	var queued []string
	for _, b := range sink.batches {
		for _, d := range b {
			queued = append(queued, d.Message.ID)
		}
	}
	slices.Sort(queued)
	if !slices.Equal(queued, []string{"m0000", "m0001", "m0003", "m0005"}) {
		t.Fatalf("queued %v, want only the admitted deliveries", queued)
	}
	if len(gate.released) != 0 {
		t.Fatalf("released %v after enqueues that succeeded", gate.released)
	}
}

// A gate that fails refuses its whole group and nothing is queued; an
// enqueue that fails releases exactly the deliveries the gate admitted.
func TestGroupEnqueuer_GateFailureQueuesNothingAndAFailedEnqueueReleases(t *testing.T) {
	down := errors.New("redis down")
	gate := &recordingGate{fail: down}
	sink := &recordingSink{}
	g := NewGroupEnqueuer(sink, WithGate(gate))
	if err := g.Enqueue(context.Background(), dm(1)); !errors.Is(err, down) {
		t.Fatalf("Enqueue with the gate down = %v, want %v", err, down)
	}
	if len(sink.batches) != 0 {
		t.Fatalf("queued %v past a failed gate", sink.batches)
	}

	gate = &recordingGate{refuse: map[string]error{"m0002": errors.New("repeat")}}
	sink = newHeldSink()
	sink.fail = down
	g = NewGroupEnqueuer(sink, WithGate(gate))
	errs := sendPiledUp(t, g, sink, 4)
	for i, err := range errs {
		if i != 2 && !errors.Is(err, down) {
			t.Errorf("Enqueue(m%04d) = %v, want %v", i, err, down)
		}
	}
	slices.Sort(gate.released)
	if !slices.Equal(gate.released, []string{"m0000", "m0001", "m0003"}) {
		t.Fatalf("released %v, want the admitted deliveries whose enqueue failed", gate.released)
	}
}
