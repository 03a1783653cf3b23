package stream

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/messager/messager/internal/events"
)

// fakeMailbox is one user's mailbox as the database holds it.
type fakeMailbox struct {
	mu    sync.Mutex
	byPos map[int64]string // position → message id
	reads int
}

func (m *fakeMailbox) Head(context.Context, int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var head int64
	for p := range m.byPos {
		head = max(head, p)
	}
	return head, nil
}

func (m *fakeMailbox) Resume(_ context.Context, _ int, after string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p, id := range m.byPos {
		if id == after {
			return p, nil
		}
	}
	return 0, nil
}

func (m *fakeMailbox) Since(_ context.Context, _ int, after, upto int64, limit int) ([]events.Positioned, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	var out []events.Positioned
	for p, id := range m.byPos {
		if p > after && (upto == 0 || p < upto) {
			out = append(out, events.Positioned{Seq: p, Message: events.Message{ID: id}})
		}
	}
	slices.SortFunc(out, func(a, b events.Positioned) int { return int(a.Seq - b.Seq) })
	return out[:min(limit, len(out))], nil
}

func (m *fakeMailbox) save(pos int64, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byPos[pos] = id
}

func posEnv(id string, user int, seq int64) events.Envelope {
	env := msgEnv(id, user)
	env.Seqs = []int64{seq}
	return env
}

func serveWith(ctx context.Context, h *Hub, after string, s sink, r Replayer) <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.serve(ctx, 7, "fake", startAt(ctx, r, 7, after), s, r, time.Hour) }()
	return done
}

// Frames published out of mailbox order, or twice, are written in order
// and once each.
func TestServe_LiveFramesInPositionOrderOnceEach(t *testing.T) {
	h := NewHub(prometheus.NewRegistry(), 64)
	mb := &fakeMailbox{byPos: map[int64]string{1: "a"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newFakeSink()
	serveWith(ctx, h, "", s, mb) // starts at head 1
	waitUntil(t, "stream registered", func() bool { return h.Len() == 1 })
	time.Sleep(20 * time.Millisecond) // let it read the head
	mb.save(2, "b")
	mb.save(3, "c")
	h.Deliver(posEnv("c", 7, 3)) // the later publish overtakes
	h.Deliver(posEnv("a", 7, 1)) // already in the mailbox at start: not for this stream
	h.Deliver(posEnv("b", 7, 2))
	h.Deliver(posEnv("c", 7, 3)) // a retried task publishes again
	waitUntil(t, "two frames", func() bool { return len(s.ids()) >= 2 })
	time.Sleep(2 * gapWait)
	if got := s.ids(); !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("wrote %v, want [b c]", got)
	}
}

// A frame whose predecessor never arrives live (its publish was lost with a
// crashed worker) is written after the predecessor, read from the database.
func TestServe_GapIsFilledFromTheDatabase(t *testing.T) {
	h := NewHub(prometheus.NewRegistry(), 64)
	mb := &fakeMailbox{byPos: map[int64]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newFakeSink()
	serveWith(ctx, h, "", s, mb)
	waitUntil(t, "stream registered", func() bool { return h.Len() == 1 })
	time.Sleep(20 * time.Millisecond)
	mb.save(1, "lost")
	mb.save(3, "z") // 2 is an empty place (a client_id clash)
	h.Deliver(posEnv("z", 7, 3))
	waitUntil(t, "two frames", func() bool { return len(s.ids()) >= 2 })
	if got := s.ids(); !slices.Equal(got, []string{"lost", "z"}) {
		t.Fatalf("wrote %v, want [lost z]", got)
	}
	h.Deliver(posEnv("lost", 7, 1)) // the late publish
	time.Sleep(2 * gapWait)
	if got := s.ids(); len(got) != 2 {
		t.Fatalf("wrote %v after the late publish, want nothing more", got)
	}
}

// A stream resumed after a cursor gets what followed it in the mailbox,
// including a message saved after newer ids, and the live copies of the
// replayed messages are not written again.
func TestServe_ResumeReplaysByPositionAndDropsLiveCopies(t *testing.T) {
	h := NewHub(prometheus.NewRegistry(), 64)
	// "new" (a newer id) was saved before "old": a re-leased task.
	mb := &fakeMailbox{byPos: map[int64]string{1: "seen", 2: "new", 3: "old"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newFakeSink()
	serveWith(ctx, h, "new", s, mb)
	waitUntil(t, "replay", func() bool { return len(s.ids()) >= 1 })
	h.Deliver(posEnv("old", 7, 3))
	mb.save(4, "next")
	h.Deliver(posEnv("next", 7, 4))
	waitUntil(t, "live frame", func() bool { return len(s.ids()) >= 2 })
	time.Sleep(2 * gapWait)
	if got := s.ids(); !slices.Equal(got, []string{"old", "next"}) {
		t.Fatalf("wrote %v, want [old next]", got)
	}
}

// A message saved after the client was told its stream is open, but
// published before the stream registered with the hub (so never queued),
// is still written: the stream catches up from the head it read before
// the upgrade was answered.
func TestServe_MessageSavedWhileTheStreamStartsIsWritten(t *testing.T) {
	h := NewHub(prometheus.NewRegistry(), 64)
	mb := &fakeMailbox{byPos: map[int64]string{1: "old"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	from := startAt(ctx, mb, 7, "") // the handler, before the upgrade
	mb.save(2, "racing")
	h.Deliver(posEnv("racing", 7, 2)) // nobody registered yet
	s := newFakeSink()
	go func() { _ = h.serve(ctx, 7, "fake", from, s, mb, time.Hour) }()
	waitUntil(t, "stream registered", func() bool { return h.Len() == 1 })
	time.Sleep(2 * gapWait)
	if got := s.ids(); !slices.Equal(got, []string{"racing"}) {
		t.Fatalf("wrote %v, want [racing]", got)
	}
}
