package stream

import (
	"bufio"
	"context"
	"net/http"
	"time"

	"github.com/messager/messager/internal/auth"
)

// sseSink writes frames as Server-Sent Events into a buffered writer that
// is flushed once per batch. Each batch runs under a write deadline, as on
// WebSocket: a client that stops reading fails the write and the stream
// ends, instead of holding its goroutine, connection and a shutdown.
type sseSink struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	bw       *bufio.Writer
	deadline *writeDeadline
	// armed is set once the current batch has its deadline.
	armed bool
}

// arm gives the batch that starts its deadline: ctx's, else writeTimeout.
func (s *sseSink) arm(ctx context.Context) {
	if s.armed {
		return
	}
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(writeTimeout)
	}
	s.deadline.extend(d)
	s.armed = true
}

func (s *sseSink) write(ctx context.Context, f Frame) error {
	s.arm(ctx)
	s.bw.WriteString("event: ")
	s.bw.WriteString(f.Type)
	if f.ID != "" && f.Type == "message" {
		s.bw.WriteString("\nid: ")
		s.bw.WriteString(f.ID)
	}
	s.bw.WriteString("\ndata: ")
	s.bw.Write(f.Data)
	_, err := s.bw.WriteString("\n\n")
	return err
}

func (s *sseSink) flush() error {
	s.arm(context.Background())
	s.armed = false
	if err := s.bw.Flush(); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseSink) ping(ctx context.Context) error {
	s.arm(ctx)
	s.bw.WriteString(": ping\n\n")
	return s.flush()
}

// direct is nil: SSE frames go through the response writer only.
func (s *sseSink) direct() *directWriter { return nil }

func (s *sseSink) closeWith(reason int32) {
	s.deadline.extend(time.Now().Add(closeGrace))
	s.armed = true
	if reason == closeSessionEnded {
		// EventSource reconnects after the response ends, gets 401 and
		// stops; this line tells a client reading the stream why.
		s.bw.WriteString("event: end\ndata: {\"reason\":\"session ended\"}\n\n")
	}
	_ = s.flush()
}

// SSE has no client pings to answer.
func (s *sseSink) control() <-chan []byte { return nil }

func (s *sseSink) pong(context.Context, []byte) error { return nil }

func (h *Handler) serveSSE(w http.ResponseWriter, r *http.Request, p auth.Principal, from streamStart, sl *slot) {
	defer sl.release()
	rc := http.NewResponseController(w)
	// The stream has no body to read: no body deadline applies.
	_ = rc.SetReadDeadline(time.Time{})
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	// The stream leaves its write deadline on the connection: end the
	// connection with the stream rather than serve another request on it.
	// EventSource opens a new one to reconnect anyway.
	hd.Set("Connection", "close")
	// Registered before the headers go out.
	c := h.openStream(w, r, p, transportSSE)
	if c == nil {
		return
	}
	s := &sseSink{w: w, rc: rc, bw: bufio.NewWriterSize(w, 16<<10), deadline: newWriteDeadline(rc.SetWriteDeadline)}
	ctx := sl.bind(r.Context(), s.deadline)
	w.WriteHeader(http.StatusOK)
	// Tell EventSource to come back quickly after a drop.
	s.bw.WriteString("retry: 2000\n\n")
	if err := s.flush(); err != nil {
		h.hub.unregister(c)
		return
	}
	h.opened(r.Context(), p)
	defer h.closed(p)
	err := h.hub.serveConn(ctx, c, from, h.countWrites(ctx, transportSSE, s), h.replay, h.pingEvery)
	if err != nil && ctx.Err() == nil {
		h.logger.DebugContext(r.Context(), "sse ended", "user_id", p.UserID, "err", err)
	}
	if reason := sl.endedFor(); reason != closeNone && err == nil {
		s.closeWith(reason)
	}
}
