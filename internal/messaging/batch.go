package messaging

import (
	"context"
	"errors"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
)

// BatchWriter persists many messages in one transaction; *storage.Messages.
type BatchWriter interface {
	SaveBatch(ctx context.Context, ms []storage.NewMessage) ([]storage.Saved, error)
}

// BatchPublisher publishes many events in one round trip; *stream.Bus.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, envs []events.Envelope) error
}

// batcher gathers the deliveries of concurrently running task handlers
// and persists and publishes them together: one transaction and one
// pipelined publish per batch instead of per message (group commit). A
// batch is whatever is waiting when a writer is free, so under light load
// a message goes alone and pays no extra latency; under heavy load the
// commit cost is shared. Each handler still returns only after its own
// message is stored and published, so asynq's retries work as before.
type batcher struct {
	store    BatchWriter
	pub      BatchPublisher
	logger   *slog.Logger
	in       chan *job
	quit     chan struct{}
	maxSize  int
	maxUsers int
	writers  int
}

type job struct {
	// span is the message's message.deliver; the batch's database and
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

func newBatcher(store BatchWriter, pub BatchPublisher, logger *slog.Logger, writers, maxSize, maxUsers int) *batcher {
	return &batcher{store: store, pub: pub, logger: logger, in: make(chan *job), quit: make(chan struct{}), maxSize: maxSize, maxUsers: maxUsers, writers: writers}
}

// submit hands messages to the writers and waits until each is stored
// and, when fresh, published. The results are in the order of jobs.
func (b *batcher) submit(ctx context.Context, jobs []*job) []result {
	var err error
	sent := 0
send:
	for _, j := range jobs {
		select {
		case b.in <- j:
			sent++
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

// run starts the writers and returns when ctx ends.
func (b *batcher) run(ctx context.Context) {
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

func (b *batcher) write(ctx context.Context) {
	batch := make([]*job, 0, b.maxSize)
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-b.in:
			batch = append(batch[:0], j)
		}
		users := len(batch[0].msg.Recipients)
	more:
		for len(batch) < b.maxSize && users < b.maxUsers {
			select {
			case j := <-b.in:
				batch = append(batch, j)
				users += len(j.msg.Recipients)
			default:
				break more
			}
		}
		// The handlers' own contexts bound each message; the batch runs
		// to completion so no handler is left without an answer.
		b.process(context.WithoutCancel(ctx), batch)
	}
}

func (b *batcher) process(ctx context.Context, batch []*job) {
	for _, j := range batch {
		if j.span != nil && j.span.IsRecording() {
			ctx = trace.ContextWithSpan(ctx, j.span)
			break
		}
	}
	msgs := make([]storage.NewMessage, len(batch))
	for i, j := range batch {
		msgs[i] = j.msg
	}
	saved, err := b.store.SaveBatch(ctx, msgs)
	if err != nil && len(batch) > 1 && !errors.Is(err, storage.ErrUnavailable) {
		// One bad message must not fail its neighbours: save each alone.
		for _, j := range batch {
			b.process(ctx, []*job{j})
		}
		return
	}
	if err != nil {
		for _, j := range batch {
			j.done <- result{err: err}
		}
		return
	}
	envs := make([]events.Envelope, 0, len(batch))
	owners := make([]*job, 0, len(batch))
	for i, j := range batch {
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
