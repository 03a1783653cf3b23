package stream

import (
	"errors"
	"net"
	"syscall"

	"github.com/gobwas/ws"
)

// A live WebSocket frame is usually written by the goroutine that delivers
// it (the pod's event bus), not by the stream's own goroutine: when the
// stream has nothing queued and its writer is idle, Conn.push writes the
// frame to the socket itself, in one non-blocking system call. Handing
// every frame to the stream's goroutine cost a goroutine wake-up, a select
// and often an OS thread wake-up per frame: about a fifth of the api's CPU
// in a broadcast to 1,000 (docs/benchmarks.md, session 9).
// NATS's server flushes its clients from the publisher's goroutine for the
// same reason.
//
// A direct write never waits: if the socket takes only part of the frame,
// the rest is kept (pending) and the stream's goroutine, woken, sends it
// before anything else; if it takes nothing, the frame is queued as
// before. So a slow client still costs the deliverer nothing but one
// failed system call, and is closed by its own queue filling up.

// directWriter writes whole WebSocket frames to a connection without
// blocking. Every use is under the stream's Conn.wmu.
type directWriter struct {
	raw syscall.RawConn
	// deadline is the stream's: once the hub has cut it, the stream is
	// being ended (logout, shutdown) and nothing more goes out directly.
	deadline *writeDeadline
	// pending holds the unsent end of a frame a direct write sent in part;
	// the sink writes it before any other byte (wsSink.begin).
	pending []byte
	// buf is reused to encode one frame (at most maxDirectFrame and a header).
	buf    []byte
	header [ws.MaxHeaderSize]byte
}

// maxDirectFrame bounds the frames written directly: bigger ones (a long
// history replay never goes this way; a huge message might) are left to
// the stream's goroutine, which writes them with a deadline.
const maxDirectFrame = 16 << 10

// newDirectWriter returns a writer on conn, whose write deadline is
// deadline, or nil when conn offers no raw descriptor (TLS, an in-memory
// pipe) or the platform no non-blocking write on one (see rawWrite).
func newDirectWriter(conn net.Conn, deadline *writeDeadline) *directWriter {
	if !rawWriteSupported {
		return nil
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &directWriter{raw: raw, deadline: deadline}
}

// errWouldBlock says the socket took nothing, or the stream is ending:
// queue the frame instead.
var errWouldBlock = errors.New("socket buffer full")

// writeText sends data as one text frame. nil means the frame is sent or
// will be (its end pending); an error means nothing of it was sent.
func (d *directWriter) writeText(data []byte) error {
	if len(d.pending) > 0 || d.deadline.isCut() {
		return errWouldBlock
	}
	d.buf = d.buf[:0]
	aw := appendWriter{&d.buf}
	if err := ws.WriteHeaderBuffer(aw, ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(data))}, d.header[:]); err != nil {
		return err
	}
	d.buf = append(d.buf, data...)
	var n int
	var werr error
	if err := d.raw.Write(func(fd uintptr) bool {
		n, werr = rawWrite(fd, d.buf)
		return true // never wait for the socket
	}); err != nil {
		return err
	}
	switch {
	case n <= 0 && (werr == nil || wouldBlock(werr)):
		return errWouldBlock
	case n <= 0:
		return werr
	case n < len(d.buf):
		d.pending = append(d.pending[:0], d.buf[n:]...)
	}
	return nil
}

// takePending returns the unsent end of a frame and forgets it.
func (d *directWriter) takePending() []byte {
	p := d.pending
	d.pending = nil
	return p
}

// appendWriter is an io.Writer appending to a slice.
type appendWriter struct{ b *[]byte }

func (w appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}
