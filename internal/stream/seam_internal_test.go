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

// seamReplayer is a mailbox whose first Since holds its answer — read
// from the mailbox as it was when the call began, like a database
// snapshot — until the test says go: live events the test delivers
// meanwhile reach the hub while the stream is replaying.
type seamReplayer struct {
	*fakeMailbox
	reading chan struct{} // closed when the first Since has read
	answer  chan struct{} // the first Since returns once this closes
	once    sync.Once
}

func (r *seamReplayer) Since(ctx context.Context, userID int, after, upto int64, limit int) ([]events.Positioned, error) {
	ps, err := r.fakeMailbox.Since(ctx, userID, after, upto, limit)
	r.once.Do(func() {
		close(r.reading)
		<-r.answer
	})
	return ps, err
}

// Whatever side of the replay→live seam a message falls on, the client
// gets it exactly once and in mailbox order: one the replay read and
// whose live copy arrives during the replay is written once; one saved
// after the replay's read and published during it comes live; one
// published during the replay ahead of a message still in flight waits
// for it. The steps are ordered by channels, not by time.
func TestServe_ReplayToLiveSeamHasNoGapAndNoDuplicate(t *testing.T) {
	for _, tc := range []struct {
		name string
		// start returns where the stream starts (what the handler would
		// read before the upgrade), after saving what the replay must bring.
		start func(ctx context.Context, mb *fakeMailbox) streamStart
	}{
		{"resumed after a cursor", func(ctx context.Context, mb *fakeMailbox) streamStart {
			mb.save(2, "b")
			mb.save(3, "c")
			return startAt(ctx, mb, 7, "a")
		}},
		{"started at the head", func(ctx context.Context, mb *fakeMailbox) streamStart {
			from := startAt(ctx, mb, 7, "") // head 1
			// Saved after the client was told its stream is open, and
			// published before the stream registered: only the replay has them.
			mb.save(2, "b")
			mb.save(3, "c")
			return from
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHub(prometheus.NewRegistry(), 64)
			mb := &fakeMailbox{byPos: map[int64]string{1: "a"}}
			r := &seamReplayer{fakeMailbox: mb, reading: make(chan struct{}), answer: make(chan struct{})}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			from := tc.start(ctx, mb)
			s := newFakeSink()
			served := make(chan error, 1)
			go func() { served <- h.serve(ctx, 7, "fake", from, s, r, time.Hour) }()

			waitFor(t, "the replay to read the mailbox", r.reading)
			// The replay has read b and c; now, while it runs:
			h.Deliver(posEnv("c", 7, 3)) // the live copy of a replayed message
			mb.save(4, "d")
			h.Deliver(posEnv("d", 7, 4)) // saved after the read
			mb.save(5, "e")              // saved, its publish still in flight
			mb.save(6, "f")
			h.Deliver(posEnv("f", 7, 6)) // overtakes e's publish
			close(r.answer)

			h.Deliver(posEnv("e", 7, 5)) // e's publish lands once the stream is live
			for _, nth := range []string{"1st", "2nd", "3rd", "4th", "5th"} {
				waitFor(t, "the "+nth+" write (of b, c, d, e, f)", s.wrote)
			}
			// Anything written twice was written before a frame delivered
			// after it: the last frame closes the books.
			mb.save(7, "g")
			h.Deliver(posEnv("g", 7, 7))
			waitFor(t, "the write of g", s.wrote)
			if got, want := s.ids(), []string{"b", "c", "d", "e", "f", "g"}; !slices.Equal(got, want) {
				t.Fatalf("client got %v, want %v", got, want)
			}
			cancel()
			if err := <-served; err != nil {
				t.Fatalf("serve: %v", err)
			}
		})
	}
}
