package stream

import (
	"bufio"
	"context"
	"net/http"
	"time"
)

// sseSink writes frames as Server-Sent Events into a buffered writer that
// is flushed once per batch.
type sseSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	bw *bufio.Writer
}

func (s *sseSink) write(_ context.Context, f Frame) error {
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
	if err := s.bw.Flush(); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseSink) ping(context.Context) error {
	s.bw.WriteString(": ping\n\n")
	return s.flush()
}

func (s *sseSink) closeWith(int32) { _ = s.flush() }

// SSE has no client pings to answer.
func (s *sseSink) control() <-chan []byte { return nil }

func (s *sseSink) pong(context.Context, []byte) error { return nil }

func (h *Handler) serveSSE(w http.ResponseWriter, r *http.Request, userID int, after string) {
	rc := http.NewResponseController(w)
	// Streams outlive any server write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseSink{w: w, rc: rc, bw: bufio.NewWriterSize(w, 16<<10)}
	// Tell EventSource to come back quickly after a drop.
	s.bw.WriteString("retry: 2000\n\n")
	if err := s.flush(); err != nil {
		return
	}
	if err := h.hub.serve(r.Context(), userID, "sse", after, s, h.replay, h.pingEvery); err != nil && r.Context().Err() == nil {
		h.logger.DebugContext(r.Context(), "sse ended", "user_id", userID, "err", err)
	}
}
