package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/messager/messager/pkg/events"
)

// Replayer reads the messages a reconnecting client missed.
type Replayer interface {
	// After returns up to limit of userID's messages (sent or received)
	// with an id after the given one, oldest first.
	After(ctx context.Context, userID int, after string, limit int) ([]events.Message, error)
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

// serve runs one stream until the client leaves or the server closes it:
// replay from after (if set), then live frames, with pings.
func (h *Hub) serve(ctx context.Context, userID int, transport, after string, s sink, replay Replayer, pingEvery time.Duration) error {
	c := newConn(h, userID, transport, after != "")
	if !h.register(c) {
		s.closeWith(closeGoingAway)
		return errShuttingDown
	}
	defer h.unregister(c)
	defer c.close(closeNone)

	var replayed map[string]struct{}
	if after != "" {
		var err error
		replayed, err = h.replay(ctx, c, s, replay, userID, after)
		if err != nil {
			s.closeWith(closeGoingAway)
			return err
		}
		limit := h.bufferSize
		if limit <= 0 {
			limit = defaultBuffer
		}
		if err := h.writeBatch(ctx, s, c.goLive(limit), replayed); err != nil {
			return err
		}
	}

	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	var spare []Frame
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.done:
			s.closeWith(c.reason.Load())
			return nil
		case <-c.notify:
			batch := c.take(spare)
			if err := h.writeBatch(ctx, s, batch, replayed); err != nil {
				return err
			}
			spare = nil
			if cap(batch) <= keepBatchCap {
				clear(batch)
				spare = batch[:0]
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := s.ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		case payload := <-s.control():
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := s.pong(pctx, payload)
			cancel()
			if err != nil {
				return err
			}
		}
	}
}

// writeBatch writes frames and flushes once, so a burst costs one flush.
// One write deadline covers the batch: a per-frame timer would cost more
// than the write.
func (h *Hub) writeBatch(ctx context.Context, s sink, frames []Frame, replayed map[string]struct{}) error {
	if len(frames) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	for _, f := range frames {
		if err := h.writeUnlessReplayed(ctx, s, f, replayed); err != nil {
			return err
		}
	}
	return s.flush()
}

func (h *Hub) writeUnlessReplayed(ctx context.Context, s sink, f Frame, replayed map[string]struct{}) error {
	if replayed != nil && f.Type == events.TypeMessage {
		if _, dup := replayed[f.ID]; dup {
			return nil
		}
	}
	if err := s.write(ctx, f); err != nil {
		return err
	}
	h.countSent(f.Type)
	return nil
}

func (h *Hub) countSent(typ string) {
	if c, ok := h.sentByType[typ]; ok {
		c.Inc()
		return
	}
	h.sent.WithLabelValues(typ).Inc()
}

// replay writes every message after the cursor, page by page, and returns
// the ids it wrote so the same messages arriving live are not sent twice.
func (h *Hub) replay(ctx context.Context, c *Conn, s sink, r Replayer, userID int, after string) (map[string]struct{}, error) {
	seen := map[string]struct{}{}
	cursor := after
	for {
		msgs, err := r.After(ctx, userID, cursor, replayPage)
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		frames := make([]Frame, 0, len(msgs))
		for _, m := range msgs {
			env, err := events.NewMessage(m, nil)
			if err != nil {
				return nil, err
			}
			frames = append(frames, Frame{Type: env.Type, ID: env.ID, Data: env.Frame})
			seen[m.ID] = struct{}{}
			cursor = m.ID
		}
		if err := h.writeBatch(ctx, s, frames, nil); err != nil {
			return nil, err
		}
		if len(msgs) < replayPage {
			return seen, nil
		}
		select {
		case <-c.done:
			return nil, errors.New("closed during replay")
		default:
		}
	}
}
