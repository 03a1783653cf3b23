package stream

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/events"
)

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func wsUpgradeRequest(origin string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://chat.example/api/v1/stream", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	return r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{UserID: 7, Username: "ada"}, "token-of-ada"))
}

// A refused upgrade once marked its user online: presence ran before the
// Origin check. Every refusal now comes before the stream counts.
func TestHandler_RefusedStreamDoesNotMarkTheUserOnline(t *testing.T) {
	var opened atomic.Int32
	h := NewHandler(NewHub(prometheus.NewRegistry(), 16), nil, quietLogger, nil, time.Hour, func(context.Context, auth.Principal) error {
		opened.Add(1)
		return nil
	})
	rec := httptest.NewRecorder()
	h.WebSocket(rec, wsUpgradeRequest("https://evil.example"))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("foreign origin: %d, want 403", rec.Code)
	}
	if n := opened.Load(); n != 0 {
		t.Fatalf("a refused stream ran the presence hook %d times", n)
	}
}

// sseServer serves GET /api/v1/events for user 7 and reports when each
// request's handler returns.
func sseServer(t *testing.T, h *Handler) (addr string, returned chan struct{}) {
	returned = make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { returned <- struct{}{} }()
		h.Events(w, r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{UserID: 7}, "token-of-ada")))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), returned
}

// stuckSSEClient opens an SSE stream with a tiny receive buffer and never reads it.
func stuckSSEClient(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /api/v1/events HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	return conn
}

func bigFrame(i int) Frame {
	return Frame{Type: "message", ID: fmt.Sprint(i), Data: []byte(strings.Repeat("x", 1<<20))}
}

// A non-reading SSE client was flagged slow but never closed: its writer
// sat in a write with no deadline.
func TestSSE_NonReadingClientIsCutLikeAWebSocket(t *testing.T) {
	hub := NewHub(prometheus.NewRegistry(), 4)
	addr, returned := sseServer(t, NewHandler(hub, nil, quietLogger, nil, time.Hour, nil))
	stuckSSEClient(t, addr)
	waitUntil(t, "the stream to open", func() bool { return hub.Len() == 1 })
	for i := 0; counterValue(hub.slow) == 0; i++ {
		if i > 200 {
			t.Fatal("200 MiB queued and the client was never flagged slow")
		}
		hub.Deliver(msgEnvFrame(bigFrame(i), 7))
		time.Sleep(time.Millisecond)
	}
	select {
	case <-returned:
	case <-time.After(writeTimeout + 3*time.Second):
		t.Fatalf("a slow SSE client was still held %s after it was flagged", writeTimeout+3*time.Second)
	}
}

// Three non-reading SSE clients once held SIGTERM for 46 s. CloseAll ends
// a stream stuck in a write at once.
func TestSSE_CloseAllEndsAStreamStuckInAWrite(t *testing.T) {
	hub := NewHub(prometheus.NewRegistry(), 1024)
	addr, returned := sseServer(t, NewHandler(hub, nil, quietLogger, nil, time.Hour, nil))
	stuckSSEClient(t, addr)
	waitUntil(t, "the stream to open", func() bool { return hub.Len() == 1 })
	for i := 0; i < 16; i++ {
		hub.Deliver(msgEnvFrame(bigFrame(i), 7))
	}
	time.Sleep(500 * time.Millisecond) // the writer fills the socket and blocks
	start := time.Now()
	hub.CloseAll()
	select {
	case <-returned:
	case <-time.After(3 * time.Second):
		t.Fatal("CloseAll left an SSE stream stuck in its write for 3s")
	}
	t.Logf("stuck SSE stream ended %s after CloseAll", time.Since(start).Round(time.Millisecond))
}

func msgEnvFrame(f Frame, users ...int) events.Envelope {
	return events.Envelope{Type: f.Type, ID: f.ID, Users: users, Frame: f.Data}
}

// A stream is registered before its client is told it is open, so an
// event that is pushed but never replayed (a typing notice, a read
// receipt), published once the client sees the stream open, reaches it.
// It used to register only after the upgrade was answered: the presence
// hook, which runs in between, holds the handler here while the event is
// delivered, which that order lost.
func TestHandler_EventPublishedOnceTheStreamIsOpenArrives(t *testing.T) {
	typing, err := events.NewTyping(events.UserRef{Usercode: "BOBBOB", Username: "bob"}, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{transportWS, transportSSE} {
		t.Run(transport, func(t *testing.T) {
			hub := NewHub(prometheus.NewRegistry(), 16)
			opened, release := make(chan struct{}), make(chan struct{})
			h := NewHandler(hub, nil, quietLogger, nil, time.Hour, func(context.Context, auth.Principal) error {
				close(opened)
				<-release
				return nil
			})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{UserID: 7}, "token-of-ada"))
				if transport == transportWS {
					h.WebSocket(w, r)
				} else {
					h.Events(w, r)
				}
			}))
			defer srv.Close()
			defer hub.CloseAll()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var read func() (string, error)
			if transport == transportWS {
				conn, _, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http", "ws", 1), nil)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.CloseNow()
				read = func() (string, error) { _, data, err := conn.Read(ctx); return string(data), err }
			} else {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				lines := bufio.NewReader(res.Body)
				read = func() (string, error) {
					for {
						line, err := lines.ReadString('\n')
						if err != nil || strings.HasPrefix(line, "data: ") {
							return strings.TrimPrefix(line, "data: "), err
						}
					}
				}
			}
			<-opened // the client has its open stream; the handler is in the hook
			hub.Deliver(typing)
			close(release)
			got, err := read()
			if err != nil || !strings.Contains(got, `"type":"typing"`) {
				t.Fatalf("first frame %q, %v; want the typing event published once the stream was open", got, err)
			}
		})
	}
}
