package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"

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
