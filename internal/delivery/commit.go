package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
)

// Store persists many messages in one transaction; *storage.Messages.
type Store interface {
	SaveBatch(ctx context.Context, ms []storage.NewMessage) ([]storage.Saved, error)
}

// Publisher publishes many events in one round trip; *stream.Bus.
type Publisher interface {
	PublishBatch(ctx context.Context, envs []events.Envelope) error
}

// committer gathers the deliveries of concurrently running task handlers
// and persists and publishes them together: one transaction and one
// pipelined publish per commit instead of per message (group commit). A
// commit is whatever is waiting when a writer is free, so under light load
// a message goes alone and pays no extra latency; under heavy load the
// commit cost is shared. Each handler still returns only after its own
// message is stored and published, so asynq's retries work as before.
type committer struct {
	store    Store
	pub      Publisher
	logger   *slog.Logger
	in       chan []*job // pieces of one task's messages
	quit     chan struct{}
	maxSize  int
	maxUsers int
	writers  int
	// wide is held by a writer while it processes a wide commit (see
	// wideCommit), so this process runs one at a time.
	wide sync.Mutex
}

// wideCommit is the recipient rows from which a commit is wide: one that
// holds a broadcast to a room's worth of people. Each commit locks the
// rows of all its senders and recipients, so two wide commits share most
// of them: the second only waits, then rechecks every row the first
// changed, and holds back PostgreSQL's cleanup of the row versions the
// first left (measured, broadcasts to 1,000 at 15/s: 48.6 µs of PostgreSQL
// CPU per delivery with two at a time and the queue falling behind,
// 34.9-36.1 µs one at a time and keeping up). Narrow commits (direct
// messages) rarely share users and still run side by side.
const wideCommit = 512

type job struct {
	// span is the message's message.deliver; the commit's database and
	// publish spans join the trace of its first sampled message.
	span trace.Span
	msg  storage.NewMessage
	// env encodes the message's event for its audience, with positions.
	env  func(audience []storage.Position) (events.Envelope, error)
	done chan result
}

type result struct {
	fresh bool
	err   error
}

// errStopped is returned to handlers whose delivery arrived after shutdown;
// asynq retries the task later.
var errStopped = errors.New("worker is stopping")

func newCommitter(store Store, pub Publisher, logger *slog.Logger, writers, maxSize, maxUsers int) *committer {
	return &committer{store: store, pub: pub, logger: logger, in: make(chan []*job), quit: make(chan struct{}), maxSize: maxSize, maxUsers: maxUsers, writers: writers}
}

// submit hands messages to the writers and waits until each is stored
// and, when fresh, published. The results are in the order of jobs. A
// task's messages travel together, in pieces no larger than a commit, so
// the messages the API grouped into one task share one commit: a writer
// that took the first of them alone would otherwise commit it before the
// handler could hand over the next.
func (b *committer) submit(ctx context.Context, jobs []*job) []result {
	var err error
	sent := 0
send:
	for sent < len(jobs) {
		n, _ := b.fits(jobs[sent:], 0, 0)
		select {
		case b.in <- jobs[sent : sent+n]:
			sent += n
		case <-ctx.Done():
			err = ctx.Err()
			break send
		case <-b.quit:
			err = errStopped
			break send
		}
	}
	results := make([]result, len(jobs))
	for i := range jobs {
		if i < sent {
			results[i] = <-jobs[i].done
		} else {
			results[i] = result{err: err}
		}
	}
	return results
}

// fits says how many of jobs, from the first, a commit already holding
// size messages and users recipient rows can take (at least one when it
// is empty, so an oversized message still goes, alone), and the commit's
// recipient rows once it took them.
func (b *committer) fits(jobs []*job, size, users int) (n, withThem int) {
	for n < len(jobs) && size+n < b.maxSize {
		r := len(jobs[n].msg.Recipients)
		if size+n > 0 && users+r > b.maxUsers {
			break
		}
		users += r
		n++
	}
	return n, users
}

// run starts the writers and returns when ctx ends.
func (b *committer) run(ctx context.Context) {
	done := make(chan struct{})
	for i := 0; i < b.writers; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			b.write(ctx)
		}()
	}
	<-ctx.Done()
	close(b.quit)
	for i := 0; i < b.writers; i++ {
		<-done
	}
}

func (b *committer) write(ctx context.Context) {
	commit := make([]*job, 0, b.maxSize)
	var carry []*job // a piece that did not fit the previous commit
	for {
		commit = commit[:0]
		if carry == nil {
			select {
			case <-ctx.Done():
				return
			case p := <-b.in:
				carry = p
			}
		}
		users := 0
	more:
		for {
			var n int
			n, users = b.fits(carry, len(commit), users)
			commit = append(commit, carry[:n]...)
			if carry = carry[n:]; len(carry) > 0 {
				break // the rest goes in the next commit
			}
			carry = nil
			select {
			case p := <-b.in:
				carry = p
			default:
				break more
			}
		}
		// The handlers' own contexts bound each message; the commit runs
		// to completion so no handler is left without an answer.
		if users >= wideCommit {
			b.wide.Lock()
			b.process(context.WithoutCancel(ctx), commit)
			b.wide.Unlock()
		} else {
			b.process(context.WithoutCancel(ctx), commit)
		}
	}
}

func (b *committer) process(ctx context.Context, commit []*job) {
	for _, j := range commit {
		if j.span != nil && j.span.IsRecording() {
			ctx = trace.ContextWithSpan(ctx, j.span)
			break
		}
	}
	msgs := make([]storage.NewMessage, len(commit))
	for i, j := range commit {
		msgs[i] = j.msg
	}
	saved, err := b.store.SaveBatch(ctx, msgs)
	if err != nil && len(commit) > 1 && !errors.Is(err, storage.ErrUnavailable) {
		// One bad message must not fail its neighbours: save each alone.
		for _, j := range commit {
			b.process(ctx, []*job{j})
		}
		return
	}
	if err != nil {
		for _, j := range commit {
			j.done <- result{err: err}
		}
		return
	}
	envs := make([]events.Envelope, 0, len(commit))
	owners := make([]*job, 0, len(commit))
	for i, j := range commit {
		if !saved[i].Fresh {
			j.done <- result{fresh: false}
			continue
		}
		env, err := j.env(saved[i].Audience)
		if err != nil {
			j.done <- result{err: err}
			continue
		}
		envs = append(envs, env)
		owners = append(owners, j)
	}
	if len(envs) > 0 {
		err = b.pub.PublishBatch(ctx, envs)
	}
	for _, j := range owners {
		j.done <- result{fresh: true, err: err}
	}
}
