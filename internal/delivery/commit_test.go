package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
)

// commitRecorder is a Store that stores nothing and records how many
// messages each commit held, and a Publisher that publishes nothing.
type commitRecorder struct {
	mu    sync.Mutex
	sizes []int
}

func (r *commitRecorder) SaveBatch(_ context.Context, ms []storage.NewMessage) ([]storage.Saved, error) {
	r.mu.Lock()
	r.sizes = append(r.sizes, len(ms))
	r.mu.Unlock()
	saved := make([]storage.Saved, len(ms))
	for i, m := range ms {
		saved[i] = storage.Saved{Fresh: true, Audience: []storage.Position{{UserID: m.SenderID, Seq: 1}}}
	}
	return saved, nil
}

func (r *commitRecorder) PublishBatch(context.Context, []events.Envelope) error { return nil }

func (r *commitRecorder) commits() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sizes)
}

func jobsOf(n, recipients int) []*job {
	jobs := make([]*job, n)
	for i := range jobs {
		jobs[i] = &job{
			msg:  storage.NewMessage{ID: fmt.Sprintf("m%d", i), SenderID: 1, Recipients: make([]int, recipients)},
			env:  func([]storage.Position) (events.Envelope, error) { return events.Envelope{}, nil },
			done: make(chan result, 1),
		}
	}
	return jobs
}

func runCommitter(t *testing.T, c *committer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// The messages of one task (the API's group) share one commit: a writer
// must not commit the first of them before the handler could hand over
// the rest, which made every message of a group its own transaction.
func TestCommitter_ATasksMessagesShareOneCommit(t *testing.T) {
	rec := &commitRecorder{}
	c := newCommitter(rec, rec, slog.New(slog.DiscardHandler), 1, maxCommit, maxCommitRecipients)
	runCommitter(t, c)
	for range 50 {
		for _, r := range c.submit(context.Background(), jobsOf(3, 1)) {
			if r.err != nil || !r.fresh {
				t.Fatalf("result %+v, want fresh", r)
			}
		}
	}
	for i, n := range rec.commits() {
		if n != 3 {
			t.Fatalf("commit %d held %d messages, want the task's 3 (commits: %v)", i, n, rec.commits())
		}
	}
}

// A task larger than a commit's bounds is split: no commit holds more than
// maxSize messages or, past its first message, more than maxUsers
// recipient rows; every message is committed once.
func TestCommitter_SplitsATaskAtTheCommitBounds(t *testing.T) {
	rec := &commitRecorder{}
	c := newCommitter(rec, rec, slog.New(slog.DiscardHandler), 1, 4, 10)
	runCommitter(t, c)
	results := c.submit(context.Background(), jobsOf(9, 3))
	for _, r := range results {
		if r.err != nil || !r.fresh {
			t.Fatalf("result %+v, want fresh", r)
		}
	}
	total := 0
	for _, n := range rec.commits() {
		if n > 3 { // 4 messages of 3 recipients would be 12 rows > 10
			t.Errorf("a commit held %d messages of 3 recipients, want at most 3 (commits: %v)", n, rec.commits())
		}
		total += n
	}
	if total != 9 {
		t.Fatalf("%d messages committed, want 9 (commits: %v)", total, rec.commits())
	}
}

// overlapStore records how many SaveBatch calls ran at once. Each call
// waits until a second one is inside too, or 300 ms, so two commits that
// may run side by side are seen to.
type overlapStore struct {
	commitRecorder
	mu      sync.Mutex
	inside  int
	most    int
	both    chan struct{} // closed once two calls were inside at once
	entered chan struct{} // receives as each call comes in
}

func (s *overlapStore) SaveBatch(ctx context.Context, ms []storage.NewMessage) ([]storage.Saved, error) {
	s.mu.Lock()
	s.inside++
	if s.most = max(s.most, s.inside); s.inside == 2 {
		close(s.both)
	}
	s.mu.Unlock()
	s.entered <- struct{}{}
	select {
	case <-s.both:
	case <-time.After(300 * time.Millisecond):
	}
	s.mu.Lock()
	s.inside--
	s.mu.Unlock()
	return s.commitRecorder.SaveBatch(ctx, ms)
}

// Two wide commits (broadcasts to a room's worth of people) lock mostly
// the same users: the second would only wait and then recheck every row,
// so a process runs them one at a time; narrow commits still run side by
// side on the two writers.
func TestCommitter_WideCommitsRunOneAtATime(t *testing.T) {
	for _, c := range []struct {
		name       string
		recipients int
		want       int
	}{{"wide", wideCommit, 1}, {"narrow", 1, 2}} {
		t.Run(c.name, func(t *testing.T) {
			store := &overlapStore{both: make(chan struct{}), entered: make(chan struct{}, 2)}
			cm := newCommitter(store, store, slog.New(slog.DiscardHandler), 2, maxCommit, maxCommitRecipients)
			runCommitter(t, cm)
			// The second commit is handed over once the first is being
			// saved, so it goes to the other writer.
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Add(1)
				go func() { defer wg.Done(); cm.submit(context.Background(), jobsOf(1, c.recipients)) }()
				if i == 0 {
					<-store.entered
				}
			}
			wg.Wait()
			if store.most != c.want {
				t.Fatalf("%d %s commits ran at once, want %d", store.most, c.name, c.want)
			}
		})
	}
}
