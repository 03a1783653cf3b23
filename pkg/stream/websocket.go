package stream

import (
	"context"
	"net/http"
	"net/url"

	"github.com/coder/websocket"
)

// wsSink writes each frame as one WebSocket text message.
type wsSink struct{ c *websocket.Conn }

func (w wsSink) write(ctx context.Context, f Frame) error {
	return w.c.Write(ctx, websocket.MessageText, f.Data)
}

func (w wsSink) flush() error { return nil }

func (w wsSink) ping(ctx context.Context) error { return w.c.Ping(ctx) }

func (w wsSink) closeWith(reason int32) {
	switch reason {
	case closeSlow:
		// 1008 policy violation: the client fell behind; reconnect with after=.
		_ = w.c.Close(websocket.StatusPolicyViolation, "too slow: reconnect with after=")
	case closeGoingAway:
		_ = w.c.Close(websocket.StatusGoingAway, "server closing this stream: reconnect with after=")
	default:
		_ = w.c.Close(websocket.StatusNormalClosure, "")
	}
}

// originPatterns turns allowed origins into coder/websocket's host patterns;
// the serving host itself is always allowed.
func originPatterns(origins []string) []string {
	var out []string
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
		}
	}
	return out
}

func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request, userID int, after string) {
	// Counted before the upgrade, while http.Server.Shutdown still waits
	// for this request, so Hub.Wait cannot miss the stream.
	h.hub.wg.Add(1)
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:  h.originPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		h.hub.wg.Done()
		return // Accept has answered the client.
	}
	c.SetReadLimit(4096)
	// The connection is hijacked, so it can outlive this handler. Serving
	// it from a fresh goroutine lets the request's goroutine — whose stack
	// grew through every middleware — and the request itself be freed:
	// an idle stream then costs a small stack instead of a deep one.
	// Clients send nothing but control frames; CloseRead handles them and
	// cancels ctx when the client goes away.
	go func() {
		defer h.hub.wg.Done()
		ctx := c.CloseRead(context.Background())
		err := h.hub.serve(ctx, userID, "ws", after, wsSink{c: c}, h.replay, h.pingEvery)
		if err != nil && ctx.Err() == nil {
			h.logger.Debug("websocket ended", "user_id", userID, "err", err)
			_ = c.Close(websocket.StatusInternalError, "stream error: reconnect with after=")
			return
		}
		_ = c.CloseNow()
	}()
}
