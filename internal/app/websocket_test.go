package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestStream_WebSocketAnswersPingsAndClosesCleanly(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u := newUser(t, a, "pinger")
	st := u.stream("")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// coder/websocket's Ping needs a reader running: the stream has one.
	if err := st.conn.Ping(ctx); err != nil {
		t.Fatalf("ping not answered: %v", err)
	}
	st.close()
	if websocket.CloseStatus(st.err) != websocket.StatusNormalClosure && st.err != nil && !strings.Contains(st.err.Error(), "closed") {
		t.Fatalf("close ended with %v", st.err)
	}
}

func TestStream_ForeignOriginCannotOpenAStream(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u := newUser(t, a, "origin")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws://" + a.Addr() + "/api/v1/stream"
	_, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{
		"Cookie": {"messager_session=" + u.token}, "Origin": {"https://evil.example"},
	}})
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v, response %v; want 403", err, res)
	}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{
		"Cookie": {"messager_session=" + u.token}, "Origin": {"http://" + a.Addr()},
	}})
	if err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	c.CloseNow()
}

// The server closes a stream whose client stopped reading with 1008, and
// the client's reconnect with after= recovers everything.
func TestStream_SlowConsumerIsCutAndRecovers(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	s, r := newUser(t, a, "fast"), newUser(t, a, "slow")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A raw connection that never reads: its frames pile up server side.
	stuck, _, err := websocket.Dial(ctx, "ws://"+a.Addr()+"/api/v1/stream", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + r.token}}})
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.CloseNow()
	healthy := s.stream("")
	first := s.send(r.user.Usercode, "anchor")
	if _, ok := healthy.nextMessage(deliveryTimeout); !ok {
		t.Fatal("sender's own stream got nothing")
	}
	big := strings.Repeat("x", 1000)
	var last string
	for i := 0; i < 1500; i++ {
		last = s.send(r.user.Usercode, big).ID
	}
	// The healthy stream is not slowed: it sees the last message.
	deadline := time.After(60 * time.Second)
	for got := ""; got != last; {
		select {
		case f := <-healthy.frames:
			got = f.Message.ID
		case <-deadline:
			t.Fatal("the sender's healthy stream fell behind with a stuck peer")
		}
	}
	back := r.stream(first.ID)
	_, counts := back.collect(1500, 60*time.Second)
	if len(counts) != 1500 {
		t.Fatalf("reconnect with after= recovered %d of 1500", len(counts))
	}
}
