package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/httpapi"
)

// sseStream is an open Server-Sent Events response read in the background.
type sseStream struct {
	res   *http.Response
	mu    sync.Mutex
	text  strings.Builder
	ended chan struct{}
}

func (c *client) sse() *sseStream {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("open sse: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		c.t.Fatalf("open sse: %d %s", res.StatusCode, body)
	}
	s := &sseStream{res: res, ended: make(chan struct{})}
	go func() {
		defer close(s.ended)
		r := bufio.NewReader(res.Body)
		for {
			line, err := r.ReadString('\n')
			s.mu.Lock()
			s.text.WriteString(line)
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	c.t.Cleanup(func() { res.Body.Close() })
	return s
}

func (s *sseStream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text.String()
}

func (s *sseStream) endsWithin(d time.Duration) bool {
	select {
	case <-s.ended:
		return true
	case <-time.After(d):
		return false
	}
}

func (s *wsStream) closedWithin(d time.Duration) bool {
	select {
	case <-s.closed:
		return true
	case <-time.After(d):
		return false
	}
}

// dial opens a WebSocket and returns the handshake's response on refusal.
func (c *client) dial(origin string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{"Authorization": {"Bearer " + c.token}}
	if origin != "" {
		h = http.Header{"Cookie": {"messager_session=" + c.token}, "Origin": {origin}}
	}
	conn, res, err := websocket.Dial(ctx, strings.Replace(c.base, "http://", "ws://", 1)+"/api/v1/stream", &websocket.DialOptions{HTTPHeader: h})
	if conn != nil {
		c.t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, res, err
}

func TestStream_ForeignOriginRefusalIsProblemJSON(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u := newUser(t, a, "xorigin")
	_, res, err := u.dial("https://evil.example")
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden || res.Header.Get("Content-Type") != httpapi.ContentTypeProblem {
		t.Fatalf("foreign origin: err %v, response %+v; want 403 problem+json", err, res)
	}
}

// A control frame carries at most 125 bytes (RFC 6455 §5.5): a bigger ping
// is a protocol error, closed with 1002, never echoed.
func TestStream_PingOver125BytesIsClosedWith1002(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u := newUser(t, a, "bigping")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Bearer " + u.token}})}
	conn, br, _, err := d.Dial(ctx, "ws://"+a.Addr()+"/api/v1/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	if err := ws.WriteFrame(conn, ws.MaskFrame(ws.NewPingFrame([]byte(strings.Repeat("p", 200))))); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := ws.ReadFrame(r)
		if err != nil {
			t.Fatalf("no close frame after a 200-byte ping: %v", err)
		}
		switch f.Header.OpCode {
		case ws.OpPong:
			t.Fatalf("a 200-byte ping was echoed (%d bytes)", len(f.Payload))
		case ws.OpClose:
			code, _ := ws.ParseCloseFrameData(f.Payload)
			if code != ws.StatusProtocolError {
				t.Fatalf("closed with %d, want 1002", code)
			}
			return
		}
	}
}

func TestStream_StreamsPerUserAreCappedWith429(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t), func(c *config.Config) { c.Spec.HTTP.MaxStreamsPerUser = 2 })
	u := newUser(t, a, "many")
	first := u.stream("")
	u.sse()
	_, res, err := u.dial("")
	if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Content-Type") != httpapi.ContentTypeProblem || res.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream: err %v, response %+v; want 429 problem+json with Retry-After", err, res)
	}
	req, _ := http.NewRequest("GET", u.base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+u.token)
	sres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(sres.Body)
	sres.Body.Close()
	if sres.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), "2 streams") {
		t.Fatalf("third stream over SSE: %d %s; want 429 naming the limit of 2", sres.StatusCode, body)
	}
	// Another user is not affected, and a closed stream frees its place.
	newUser(t, a, "other").stream("")
	first.close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := u.dial("")
		if err == nil {
			c.CloseNow()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("closing a stream did not free its place: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Logout ends every stream opened with that session, on every pod, and no
// other session's streams.
func TestStream_LogoutEndsTheSessionsStreamsOnEveryPod(t *testing.T) {
	b := newBackends(t)
	podA := startApp(t, ModeAll, b)
	podB := startApp(t, ModeAPI, b)
	u := newUser(t, podA, "leaver")
	other := *u
	other.login(u.user.Username) // a second session of the same user
	wsA, wsB, sseB := u.stream(""), u.on(podB).stream(""), u.on(podB).sse()
	kept := other.on(podB).stream("")

	start := time.Now()
	if res, body := u.do("POST", "/api/v1/auth/logout", nil); res.StatusCode/100 != 2 {
		t.Fatalf("logout: %d %s", res.StatusCode, body)
	}
	for name, s := range map[string]*wsStream{"websocket on the same pod": wsA, "websocket on another pod": wsB} {
		if !s.closedWithin(3 * time.Second) {
			t.Fatalf("%s still open 3s after logout", name)
		}
		var ce websocket.CloseError
		if !errors.As(s.err, &ce) || ce.Code != 4001 {
			t.Fatalf("%s ended with %v, want close 4001", name, s.err)
		}
	}
	if !sseB.endsWithin(3 * time.Second) {
		t.Fatal("SSE stream on another pod still open 3s after logout")
	}
	if !strings.Contains(sseB.String(), "session ended") {
		t.Errorf("SSE stream ended without saying why: %q", sseB.String())
	}
	t.Logf("streams ended %s after logout", time.Since(start).Round(time.Millisecond))
	if kept.closedWithin(500 * time.Millisecond) {
		t.Fatalf("logout of one session closed another session's stream: %v", kept.err)
	}
}

// A session that expires (or is deleted behind the API's back) ends its
// streams too: sessions slide only with API requests, and a stream that
// is merely open does not keep one alive.
func TestStream_ExpiredSessionEndsItsStreams(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t), func(c *config.Config) { c.Spec.Auth.SessionTTL = config.Duration(2 * time.Second) })
	u := newUser(t, a, "expiring")
	st, sse := u.stream(""), u.sse()
	if !st.closedWithin(10 * time.Second) {
		t.Fatal("websocket outlived its session by 8s")
	}
	var ce websocket.CloseError
	if !errors.As(st.err, &ce) || ce.Code != 4001 {
		t.Fatalf("websocket ended with %v, want close 4001", st.err)
	}
	if !sse.endsWithin(5 * time.Second) {
		t.Fatal("SSE stream outlived its session")
	}
}

// Three SSE clients that stopped reading once held SIGTERM for 46 s: their
// writers sat in writes with no deadline. Shutdown now ends them at once.
func TestStream_ShutdownIsNotHeldBySSEClientsThatStoppedReading(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u := newUser(t, a, "stuck")
	for i := 0; i < 3; i++ {
		conn, err := net.Dial("tcp", a.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(conn, "GET /api/v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", a.Addr(), u.token)
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.hub.Len() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 SSE streams opened", a.hub.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// 16 MiB for each client, far more than the sockets hold: every
	// writer ends up blocked in a write.
	big := events.Envelope{Type: events.TypeRead, Users: []int{u.user.ID}, Frame: []byte(`"` + strings.Repeat("x", 1<<20) + `"`)}
	for i := 0; i < 16; i++ {
		a.hub.Deliver(big)
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %s with three SSE clients that stopped reading", d.Round(100*time.Millisecond))
	}
}
