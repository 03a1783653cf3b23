package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/telemetry"
)

// Replayer reads a user's mailbox: where a stream starts and what it
// missed, by mailbox position (events.Positioned); *messaging.Mailbox.
type Replayer interface {
	// Head returns the newest position of userID's mailbox.
	Head(ctx context.Context, userID int) (int64, error)
	// Resume turns a client's cursor, the id of the last message it got,
	// into the position to resume after.
	Resume(ctx context.Context, userID int, afterID string) (int64, error)
	// Since returns up to limit of userID's messages at positions after
	// `after` and, when upto > 0, before upto, in position order.
	Since(ctx context.Context, userID int, after, upto int64, limit int) ([]events.Positioned, error)
}

// sink writes frames to one client's transport.
type sink interface {
	write(ctx context.Context, f Frame) error
	// flush ends a batch of writes (SSE flushes its buffer; WebSocket writes frames as they come).
	flush() error
	ping(ctx context.Context) error
	// control delivers payloads of client pings to answer; nil when the
	// transport answers them itself.
	control() <-chan []byte
	pong(ctx context.Context, payload []byte) error
	// closeWith ends the stream telling the client why, where the transport can.
	closeWith(reason int32)
	// direct returns the writer that lets frames skip the stream's
	// goroutine (direct.go), or nil where the transport has none.
	direct() *directWriter
}

// errShuttingDown refuses streams once the hub is closing.
var errShuttingDown = errors.New("server is shutting down")

const (
	replayPage    = 500
	writeTimeout  = 10 * time.Second
	defaultBuffer = 1024
	// keepBatchCap is the largest write batch whose memory a connection
	// keeps for reuse; bigger ones (after a burst) are let go.
	keepBatchCap = 64
)

// gapWait is how long a stream holds frames that arrived ahead of a
// missing position before reading the gap from the database. Two workers
// publishing at once invert the order now and then; the missing frame then
// arrives within milliseconds, and waiting saves a query.
const gapWait = 100 * time.Millisecond

// serve registers a stream of userID and runs it (serveConn).
func (h *Hub) serve(ctx context.Context, userID int, transport string, from streamStart, s sink, replay Replayer, pingEvery time.Duration) error {
	c := h.open(userID, transport)
	if c == nil {
		s.closeWith(closeGoingAway)
		return errShuttingDown
	}
	return h.serveConn(ctx, c, from, s, replay, pingEvery)
}

// open registers the connection of a new stream of userID, or returns nil
// after CloseAll. Live frames wait in its queue, unannounced, until the
// stream knows where it starts, so whatever is pushed from now on reaches
// the stream: the handlers open it before the client is told the stream
// is open, and frames that are never replayed (read receipts, typing,
// presence) published after that moment are not lost.
func (h *Hub) open(userID int, transport string) *Conn {
	c := newConn(h, userID, transport, true)
	if !h.register(c) {
		return nil
	}
	return c
}

// serveConn runs the stream of c (from open) until the client leaves or
// the server closes it: what it missed since from, then live frames in
// mailbox order, with pings. It unregisters c when it returns.
func (h *Hub) serveConn(ctx context.Context, c *Conn, from streamStart, s sink, replay Replayer, pingEvery time.Duration) error {
	defer h.unregister(c)
	defer c.close(closeNone)
	// Runs first: whatever ends the stream, no direct write follows.
	defer c.endDirect()

	q := &sequencer{}
	c.seq = q
	if err := h.start(ctx, c, s, replay, q, from); err != nil {
		if ctx.Err() != nil {
			// The client left or broke the protocol while the stream
			// started: whoever ended ctx says why (e.g. close 1002).
			return nil
		}
		s.closeWith(closeGoingAway)
		return err
	}
	limit := h.bufferSize
	if limit <= 0 {
		limit = defaultBuffer
	}
	c.wmu.Lock()
	err := h.writeBatch(ctx, s, q, c.goLive(limit, s.direct()))
	c.wmu.Unlock()
	if err != nil {
		return err
	}

	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	gap := time.NewTimer(gapWait)
	gap.Stop()
	defer gap.Stop()
	armed := false
	var spare []Frame
	for {
		// Every case that goes on writes under wmu (see Conn.wmu), which is
		// held on to for the gap check below: one lock per wake-up.
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-c.done:
			c.endDirect()
			s.closeWith(c.reason.Load())
			return nil
		case <-c.notify:
			if ctx.Err() != nil {
				// Ended (logout) as frames came: none goes out after.
				return nil
			}
			c.wmu.Lock()
			batch := c.take(spare)
			if len(batch) == 0 {
				// A direct write left the end of a frame to send.
				err = s.flush()
			} else {
				err = h.writeBatch(ctx, s, q, batch)
			}
			spare = nil
			if cap(batch) <= keepBatchCap {
				clear(batch)
				spare = batch[:0]
			}
		case <-gap.C:
			armed = false
			c.wmu.Lock()
			err = h.fillGaps(ctx, c, s, replay, q)
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			c.wmu.Lock()
			err = s.ping(pctx)
			cancel()
		case payload := <-s.control():
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			c.wmu.Lock()
			err = s.pong(pctx, payload)
			cancel()
		}
		_, _, held := q.gap()
		c.wmu.Unlock()
		if err != nil {
			return err
		}
		if held && !armed {
			gap.Reset(gapWait)
			armed = true
		}
	}
}

// streamStart is where a stream begins: after the message the client
// names (after), or, without one, after the mailbox's head as it was
// before the client was told the stream is open (head; -1 when unknown).
type streamStart struct {
	after string
	head  int64
}

// startAt returns where a stream of userID asked to start after `after`
// begins. Read before the upgrade is answered: whatever is saved after the
// client sees its stream open has a later position, so it is either queued
// live (published after the stream registered) or read back by start.
func startAt(ctx context.Context, r Replayer, userID int, after string) streamStart {
	if after != "" {
		return streamStart{after: after}
	}
	if r == nil { // a hub without a store (tests, benchmarks)
		return streamStart{head: -1}
	}
	head, err := r.Head(ctx, userID)
	if err != nil {
		// Without the database the stream still runs live; it orders
		// frames from the first one it gets.
		head = -1
	}
	return streamStart{head: head}
}

// start sets where the stream begins and writes what it must catch up.
func (h *Hub) start(ctx context.Context, c *Conn, s sink, r Replayer, q *sequencer, from streamStart) error {
	if from.after == "" {
		q.last = from.head
		if from.head < 0 {
			return nil
		}
		return h.fill(ctx, c, s, r, q, 0)
	}
	pos, err := r.Resume(ctx, c.userID, from.after)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	q.last = pos
	return h.fill(ctx, c, s, r, q, 0)
}

// fillGaps reads from the database the positions missing before frames
// that wait, and writes them and the frames. Every frame held is
// published, so saved, so every smaller position of its user is saved or
// will stay empty: what the database returns is all there is.
func (h *Hub) fillGaps(ctx context.Context, c *Conn, s sink, r Replayer, q *sequencer) error {
	for {
		_, upto, ok := q.gap()
		if !ok {
			return nil
		}
		if err := h.fill(ctx, c, s, r, q, upto); err != nil {
			return err
		}
	}
}

// fill writes the user's messages after q.last and before upto (all when
// upto is 0), page by page, then the held frames they let through.
func (h *Hub) fill(ctx context.Context, c *Conn, s sink, r Replayer, q *sequencer, upto int64) error {
	for {
		ps, err := r.Since(ctx, c.userID, q.last, upto, replayPage)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		frames := make([]Frame, 0, len(ps))
		for _, p := range ps {
			env, err := events.NewMessage(p.Message, nil)
			if err != nil {
				return err
			}
			frames = append(frames, Frame{Type: env.Type, ID: env.ID, Data: env.Frame, Seq: p.Seq})
		}
		if err := h.writeFrames(ctx, s, frames); err != nil {
			return err
		}
		if len(ps) > 0 {
			q.last = max(q.last, ps[len(ps)-1].Seq)
		}
		if len(ps) < replayPage {
			break
		}
		select {
		case <-c.done:
			return errors.New("closed during replay")
		default:
		}
	}
	if upto > 0 {
		return h.writeFrames(ctx, s, q.settle(upto, nil))
	}
	return h.writeFrames(ctx, s, q.settle(q.last+1, nil))
}

// writeBatch writes the frames the sequencer lets through, in order, and
// flushes once, so a burst costs one flush.
func (h *Hub) writeBatch(ctx context.Context, s sink, q *sequencer, frames []Frame) error {
	if len(frames) == 0 {
		return nil
	}
	out := make([]Frame, 0, len(frames))
	for _, f := range frames {
		out = q.admit(f, out)
	}
	return h.writeFrames(ctx, s, out)
}

// writeFrames writes frames and flushes once. One write deadline covers
// the batch (the sink sets it, see writeDeadline): a per-frame timer would
// cost more than the write. ctx carries no deadline of its own here: the
// connection's write deadline is what bounds a write, and a context timer
// per batch was a tenth of a broadcast's CPU in the api.
//
// A frame of a sampled trace gets a stream.write span from its write to
// the flush that puts it on the wire (or the error that did not).
func (h *Hub) writeFrames(ctx context.Context, s sink, frames []Frame) (err error) {
	if len(frames) == 0 {
		return nil
	}
	var spans []trace.Span
	defer func() {
		for _, span := range spans {
			telemetry.Fail(span, err)
			span.End()
		}
	}()
	for _, f := range frames {
		if f.Trace != nil {
			spans = append(spans, startWrite(f))
		}
		if err := s.write(ctx, f); err != nil {
			return err
		}
		h.countSent(f.Type)
	}
	return s.flush()
}

// startWrite opens the stream.write span of f, under its stream.push.
func startWrite(f Frame) trace.Span {
	_, span := otel.Tracer(tracerName).Start(trace.ContextWithSpanContext(context.Background(), *f.Trace), "stream.write",
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messager.message_id", f.ID), attribute.Int64("messager.seq", f.Seq)))
	return span
}

func (h *Hub) countSent(typ string) {
	if c, ok := h.sentByType[typ]; ok {
		c.Inc()
		return
	}
	h.sent.WithLabelValues(typ).Inc()
}
