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

	"github.com/messager/messager/internal/auth"
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
	conn     net.Conn
	bw       *bufio.Writer
	header   [ws.MaxHeaderSize]byte
	pongs    chan []byte
	deadline *writeDeadline
	// dw lets the hub write frames directly (direct.go); nil when the
	// connection has no raw descriptor.
	dw *directWriter
}

func (w *wsSink) direct() *directWriter { return w.dw }

// begin starts a batch: a pooled buffer, the write deadline, and first of
// all the end of a frame a direct write could not finish.
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
	w.deadline.extend(deadline)
	if w.dw != nil {
		if p := w.dw.takePending(); len(p) > 0 {
			_, _ = w.bw.Write(p) // an error stays in bw and fails the flush
		}
	}
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
		if w.dw == nil || len(w.dw.pending) == 0 {
			return nil
		}
		w.begin(context.Background())
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

// statusSessionEnded is the close code of a stream whose session was
// logged out or expired (4000–4999 are the application's): sign in again.
const statusSessionEnded ws.StatusCode = 4001

func (w *wsSink) closeWith(reason int32) {
	code, text := ws.StatusNormalClosure, ""
	switch reason {
	case closeSlow:
		// 1008 policy violation: the client fell behind; reconnect with after=.
		code, text = ws.StatusPolicyViolation, "too slow: reconnect with after="
	case closeGoingAway:
		code, text = ws.StatusGoingAway, "server closing this stream: reconnect with after="
	case closeSessionEnded:
		code, text = statusSessionEnded, "session ended"
	}
	w.closeCode(code, text)
}

// closeCode sends a close frame with code and text, then closes the connection.
func (w *wsSink) closeCode(code ws.StatusCode, text string) {
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	if w.frame(ctx, ws.NewCloseFrame(ws.NewCloseFrameBody(code, text))) == nil {
		_ = w.flush()
	}
	_ = w.conn.Close()
}

// readEnd says how the client side of a stream ended and which close
// frame, if any, the server owes it (code 0: none, the connection is gone).
type readEnd struct {
	code ws.StatusCode
	text string
}

// readLoop handles what a client sends: control frames only. It answers
// pings (through the writer), treats any frame as a sign of life, and
// returns when the client closes (answered with 1000), breaks the protocol
// (1002), sends more than this endpoint reads (1009), or is silent past idle.
func readLoop(conn net.Conn, r io.Reader, pongs chan<- []byte, idle time.Duration) readEnd {
	var hdr [ws.MaxHeaderSize]byte
	for {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		h, err := ws.ReadHeaderBuffer(r, hdr[:])
		if err != nil {
			return readEnd{}
		}
		switch {
		case !h.Masked:
			return readEnd{ws.StatusProtocolError, "client frames must be masked"}
		case h.OpCode.IsControl() && (h.Length > 125 || !h.Fin):
			// RFC 6455 §5.5: a control frame is whole and carries at most 125 bytes.
			return readEnd{ws.StatusProtocolError, "control frame over 125 bytes or fragmented"}
		case h.Length > 4096:
			// Clients send only control frames here; anything large is not
			// a conversation this endpoint has.
			return readEnd{ws.StatusMessageTooBig, "this stream reads no messages"}
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return readEnd{}
		}
		ws.Cipher(payload, h.Mask, 0)
		switch h.OpCode {
		case ws.OpClose:
			return readEnd{code: ws.StatusNormalClosure}
		case ws.OpPing:
			select {
			case pongs <- payload:
			default: // a pong is already due; one answers both
			}
		}
	}
}

func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request, p auth.Principal, from streamStart, sl *slot) {
	// Counted before the upgrade, while http.Server.Shutdown still waits
	// for this request, so Hub.Wait cannot miss the stream.
	h.hub.wg.Add(1)
	// Registered before the upgrade is answered.
	c := h.openStream(w, r, p, transportWS)
	if c == nil {
		sl.release()
		h.hub.wg.Done()
		return
	}
	conn, rw, _, err := ws.HTTPUpgrader{Timeout: writeTimeout}.Upgrade(r, w)
	if err != nil {
		h.hub.unregister(c)
		sl.release()
		h.hub.wg.Done()
		h.logger.Debug("websocket upgrade failed", "err", err)
		return
	}
	h.opened(r.Context(), p)
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
		defer sl.release()
		deadline := newWriteDeadline(conn.SetWriteDeadline)
		sink := &wsSink{conn: conn, pongs: make(chan []byte, 1), deadline: deadline, dw: newDirectWriter(conn, deadline)}
		ctx, cancel := context.WithCancel(sl.bind(context.Background(), sink.deadline))
		defer cancel()
		ended := make(chan readEnd, 1)
		go func() {
			ended <- readLoop(conn, reader, sink.pongs, 2*h.pingEvery+10*time.Second)
			cancel()
		}()
		// After the connection is closed, presence hears of it.
		defer h.closed(p)
		err := h.hub.serveConn(ctx, c, from, h.countWrites(ctx, transportWS, sink), h.replay, h.pingEvery)
		if err != nil && ctx.Err() == nil {
			h.logger.Debug("websocket ended", "user_id", p.UserID, "err", err)
		}
		if reason := sl.endedFor(); reason != closeNone && err == nil {
			sink.closeWith(reason)
		} else {
			select {
			case end := <-ended:
				if end.code != 0 {
					// Answer the client's close, or say what it did wrong.
					sink.closeCode(end.code, end.text)
				}
			default:
			}
		}
		_ = conn.Close()
	}()
}
