package stream

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// The WebSocket side is built on gobwas/ws's frame primitives rather than
// a connection type that flushes every message, because the server's
// frames are many and small: a batch of queued frames is written into one
// pooled buffer and sent with one system call, each still its own frame.
// An idle connection holds no buffer at all.

// writeBuffers are shared by all connections; one is held only while a
// batch is being written.
var writeBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}

// wsSink writes frames to one hijacked connection. Only the stream's own
// goroutine writes; the reader asks it to answer pings through pongs.
type wsSink struct {
	conn   net.Conn
	bw     *bufio.Writer
	header [ws.MaxHeaderSize]byte
	pongs  chan []byte
}

func (w *wsSink) begin(ctx context.Context) {
	if w.bw != nil {
		return
	}
	w.bw = writeBuffers.Get().(*bufio.Writer)
	w.bw.Reset(w.conn)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(writeTimeout)
	}
	_ = w.conn.SetWriteDeadline(deadline)
}

func (w *wsSink) frame(ctx context.Context, f ws.Frame) error {
	w.begin(ctx)
	if err := ws.WriteHeaderBuffer(w.bw, f.Header, w.header[:]); err != nil {
		return err
	}
	_, err := w.bw.Write(f.Payload)
	return err
}

func (w *wsSink) write(ctx context.Context, f Frame) error {
	return w.frame(ctx, ws.NewTextFrame(f.Data))
}

func (w *wsSink) flush() error {
	if w.bw == nil {
		return nil
	}
	err := w.bw.Flush()
	w.bw.Reset(nil)
	writeBuffers.Put(w.bw)
	w.bw = nil
	return err
}

func (w *wsSink) ping(ctx context.Context) error {
	if err := w.frame(ctx, ws.NewPingFrame(nil)); err != nil {
		return err
	}
	return w.flush()
}

func (w *wsSink) control() <-chan []byte { return w.pongs }

func (w *wsSink) pong(ctx context.Context, payload []byte) error {
	if err := w.frame(ctx, ws.NewPongFrame(payload)); err != nil {
		return err
	}
	return w.flush()
}

func (w *wsSink) closeWith(reason int32) {
	code, text := ws.StatusNormalClosure, ""
	switch reason {
	case closeSlow:
		// 1008 policy violation: the client fell behind; reconnect with after=.
		code, text = ws.StatusPolicyViolation, "too slow: reconnect with after="
	case closeGoingAway:
		code, text = ws.StatusGoingAway, "server closing this stream: reconnect with after="
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if w.frame(ctx, ws.NewCloseFrame(ws.NewCloseFrameBody(code, text))) == nil {
		_ = w.flush()
	}
	_ = w.conn.Close()
}

// readLoop handles what a client sends: control frames only. It answers
// pings (through the writer), treats any frame as a sign of life, and
// returns when the client closes (true), misbehaves, or is silent past idle.
func readLoop(conn net.Conn, r io.Reader, pongs chan<- []byte, idle time.Duration) (clientClosed bool) {
	var hdr [ws.MaxHeaderSize]byte
	for {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		h, err := ws.ReadHeaderBuffer(r, hdr[:])
		if err != nil {
			return false
		}
		// Clients only send control frames (≤125 bytes) here; anything
		// larger is not a conversation this endpoint has.
		if h.Length > 4096 || !h.Masked {
			return false
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return false
		}
		ws.Cipher(payload, h.Mask, 0)
		switch h.OpCode {
		case ws.OpClose:
			return true
		case ws.OpPing:
			select {
			case pongs <- payload:
			default: // a pong is already due; one answers both
			}
		}
	}
}

func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request, userID int, after string) {
	if !h.origins.Allowed(r) {
		http.Error(w, "cross-origin WebSocket refused: the Origin is not allowed", http.StatusForbidden)
		return
	}
	// Counted before the upgrade, while http.Server.Shutdown still waits
	// for this request, so Hub.Wait cannot miss the stream.
	h.hub.wg.Add(1)
	conn, rw, _, err := ws.HTTPUpgrader{Timeout: writeTimeout}.Upgrade(r, w)
	if err != nil {
		h.hub.wg.Done()
		h.logger.Debug("websocket upgrade failed", "err", err)
		return
	}
	// Bytes the client sent right after its handshake may sit in the
	// hijacked buffer; keep them and let the buffer go.
	var reader io.Reader = conn
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ := rw.Reader.Peek(n)
		reader = io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
	}
	// The stream outlives this handler: serving it from a fresh goroutine
	// lets the request's goroutine, whose stack grew through every
	// middleware, and the request itself be freed.
	go func() {
		defer h.hub.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sink := &wsSink{conn: conn, pongs: make(chan []byte, 1)}
		clientClosed := make(chan bool, 1)
		go func() {
			clientClosed <- readLoop(conn, reader, sink.pongs, 2*h.pingEvery+10*time.Second)
			cancel()
		}()
		err := h.hub.serve(ctx, userID, "ws", after, sink, h.replay, h.pingEvery)
		if err != nil && ctx.Err() == nil {
			h.logger.Debug("websocket ended", "user_id", userID, "err", err)
		}
		select {
		case closed := <-clientClosed:
			if closed {
				// Answer the client's close frame, as the protocol asks.
				sink.closeWith(closeNone)
			}
		default:
		}
		_ = conn.Close()
	}()
}
