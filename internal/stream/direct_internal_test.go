//go:build linux

package stream

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/messager/messager/internal/events"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
	return server, client
}

// readTexts reads n WebSocket text frames the server wrote to conn and
// returns their payloads.
func readTexts(t *testing.T, conn interface {
	io.Reader
	SetReadDeadline(time.Time) error
}, n int) []string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	out := make([]string, 0, n)
	for len(out) < n {
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Fatalf("after %d frames: read header: %v", len(out), err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatalf("after %d frames: read payload: %v", len(out), err)
		}
		if h.OpCode != ws.OpText || !h.Fin || h.Masked {
			t.Fatalf("frame %d: header %+v, want one unmasked text frame", len(out), h)
		}
		out = append(out, string(p))
	}
	return out
}

// liveConn returns a live WebSocket-like stream of user 7 on a loopback
// connection, its sequencer at position 4, with no goroutine serving it:
// what reaches the client was written by push itself. It also returns the
// stream's write deadline and the client's end.
func liveConn(t *testing.T) (*Conn, *writeDeadline, net.Conn) {
	t.Helper()
	server, client := tcpPair(t)
	c := newConn(NewHub(prometheus.NewRegistry(), 16), 7, transportWS, true)
	c.seq = &sequencer{last: 4}
	deadline := newWriteDeadline(server.SetWriteDeadline)
	d := newDirectWriter(server, deadline)
	if d == nil {
		t.Fatal("a TCP connection offers no raw descriptor")
	}
	c.goLive(16, d)
	return c, deadline, client
}

// A live frame for a stream whose goroutine is idle is written by the
// goroutine delivering it: here no stream goroutine runs at all, and the
// client still gets the frame, with nothing left queued.
func TestPush_WritesALiveFrameItselfWhenTheStreamIsIdle(t *testing.T) {
	c, _, client := liveConn(t)

	c.push(Frame{Type: events.TypeMessage, ID: "m5", Data: []byte(`{"n":5}`), Seq: 5}, true)
	c.push(Frame{Type: events.TypeMessage, ID: "m4", Data: []byte(`{"n":4}`), Seq: 4}, true) // already passed: dropped
	c.push(Frame{Type: events.TypePresence, Data: []byte(`{"p":1}`)}, true)

	if got := readTexts(t, client, 2); got[0] != `{"n":5}` || got[1] != `{"p":1}` {
		t.Fatalf("client read %q, want the frame at position 5, then the presence frame", got)
	}
	if q := c.take(nil); len(q) != 0 {
		t.Fatalf("%d frames left queued for a stream goroutine", len(q))
	}
	if c.seq.last != 5 {
		t.Fatalf("sequencer at %d after writing position 5", c.seq.last)
	}
}

// A frame delivered while the bus is behind (direct false) is queued even
// for an idle stream, so that the stream's goroutine writes a burst's
// frames together.
func TestPush_QueuesWhenTheDelivererIsBehind(t *testing.T) {
	c, _, _ := liveConn(t)

	c.push(Frame{Type: events.TypeMessage, ID: "m5", Data: []byte(`{"n":5}`), Seq: 5}, false)
	if q := c.take(nil); len(q) != 1 {
		t.Fatalf("queue %v, want the frame queued", q)
	}
}

// Once the hub ends a stream (logout cuts its write deadline, then cancels
// it), a frame delivered after is not written directly: the bus delivers
// the next event before the stream's goroutine has stopped, and a logged
// out client must not get it.
func TestPush_WritesNothingDirectlyOnceTheStreamIsEnded(t *testing.T) {
	c, deadline, _ := liveConn(t)
	deadline.cut(time.Now().Add(closeGrace)) // slot.end

	c.push(Frame{Type: events.TypeMessage, ID: "m5", Data: []byte(`{"n":5}`), Seq: 5}, true)
	if q := c.take(nil); len(q) != 1 {
		t.Fatalf("queue %v, want the frame left to the ending stream", q)
	}
}

// A frame that must wait for a missing position is not written directly:
// it is queued, and the stream writes it once the gap is filled.
func TestPush_LeavesAFrameAfterAGapToTheStream(t *testing.T) {
	c, _, _ := liveConn(t)

	c.push(Frame{Type: events.TypeMessage, ID: "m6", Data: []byte(`{"n":6}`), Seq: 6}, true)
	if q := c.take(nil); len(q) != 1 || q[0].Seq != 6 {
		t.Fatalf("queue %v, want the frame at position 6 waiting for 5", q)
	}
}

// pipeConn is a net.Conn writing into a pipe, whose capacity can be set
// to one page: a frame bigger than that is taken only in part.
type pipeConn struct{ *os.File }

func (pipeConn) LocalAddr() net.Addr  { return &net.UnixAddr{Name: "pipe"} }
func (pipeConn) RemoteAddr() net.Addr { return &net.UnixAddr{Name: "pipe"} }

// smallPipe returns a pipe holding at most one page.
func smallPipe(t *testing.T) (r *os.File, w pipeConn) {
	t.Helper()
	r, wf, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(); _ = wf.Close() })
	raw, err := wf.SyscallConn() // not Fd(): that would make it blocking
	if err != nil {
		t.Fatal(err)
	}
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		const fSetPipeSz = 1031 // F_SETPIPE_SZ
		_, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, 4096)
	}); err != nil || errno != 0 {
		t.Fatalf("shrink pipe: %v %v", err, errno)
	}
	return r, pipeConn{wf}
}

// A frame the descriptor takes only in part is sent: its end is kept,
// and nothing else is written directly until that end has gone out.
func TestDirectWriter_KeepsTheEndOfAFrameTakenInPart(t *testing.T) {
	_, w := smallPipe(t)
	d := newDirectWriter(w, nil)
	if d == nil {
		t.Fatal("a pipe offers no raw descriptor")
	}
	big := []byte(strings.Repeat("y", 6000))
	if err := d.writeText(big); err != nil {
		t.Fatalf("first frame: %v", err)
	}
	if want := 2 + 2 + len(big) - 4096; len(d.pending) != want { // header: 2 bytes + 16-bit length
		t.Fatalf("%d bytes pending, want %d", len(d.pending), want)
	}
	if err := d.writeText([]byte("next")); err != errWouldBlock {
		t.Fatalf("a frame after a pending end: %v, want errWouldBlock", err)
	}
}

// A client that reads slowly makes direct writes go out in part (frames
// bigger than the pipe): the rest of a frame, and every frame after it,
// reach the client whole and in position order, across a gap too.
func TestServe_FramesStayWholeAndInOrderWhenTheClientIsSlow(t *testing.T) {
	client, server := smallPipe(t)
	const n = 120
	h := NewHub(prometheus.NewRegistry(), 4*n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mb := &fakeMailbox{byPos: map[int64]string{}} // head 0
	deadline := newWriteDeadline(server.SetWriteDeadline)
	s := &wsSink{conn: server, pongs: make(chan []byte, 1), deadline: deadline, dw: newDirectWriter(server, deadline)}
	if s.dw == nil {
		t.Fatal("no direct writer on a pipe")
	}
	done := serveWith(ctx, h, "", s, mb)
	waitUntil(t, "stream live", func() bool {
		h.mu.RLock()
		defer h.mu.RUnlock()
		for c := range h.users[7] {
			c.mu.Lock()
			live := c.direct != nil
			c.mu.Unlock()
			return live
		}
		return false
	})

	payload := func(i int) string { return fmt.Sprintf(`{"n":%d,"pad":%q}`, i, strings.Repeat("x", 5000+i)) }
	deliver := func(i int) {
		env := posEnv(fmt.Sprint(i), 7, int64(i))
		env.Frame = []byte(payload(i))
		h.Deliver(env)
	}
	deliver(1) // written directly, in part: the pipe holds one page
	deliver(3) // ahead of 2: waits
	deliver(2)
	for i := 4; i <= n; i++ {
		deliver(i)
	}
	got := readTexts(t, client, n)
	for i, p := range got {
		if p != payload(i+1) {
			t.Fatalf("frame %d is %.20q…, want position %d's", i, p, i+1)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
