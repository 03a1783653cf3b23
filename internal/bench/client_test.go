package bench

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// closingServer answers the first request on each connection and closes
// the connection on reading the second, unanswered, as a pod that shuts
// down closes its idle keep-alive connections while a client's next
// request is already on its way over one. It records every request's
// Idempotency-Key.
type closingServer struct {
	ln   net.Listener
	mu   sync.Mutex
	keys []string
}

func newClosingServer(t *testing.T) *closingServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &closingServer{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *closingServer) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for n := 0; ; n++ {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		s.mu.Lock()
		s.keys = append(s.keys, req.Header.Get("Idempotency-Key"))
		s.mu.Unlock()
		if n == 1 {
			return // closed with the request unanswered
		}
		body := `{"message":{"id":"m1"}}`
		_, _ = io.WriteString(conn, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: "+
			strconv.Itoa(len(body))+"\r\n\r\n"+body)
	}
}

// A send closed unanswered on a reused connection is sent again on a new
// one (its client_id makes that safe), where a request without the key
// fails: the upgrade tests count a failed request as a failure.
func TestClient_SendIsResentWhenAReusedConnectionClosesUnanswered(t *testing.T) {
	s := newClosingServer(t)
	c := newClient("http://"+s.ln.Addr().String(), 1)
	defer c.close()
	ctx := context.Background()
	for i, id := range []string{"a-1", "a-2"} {
		if _, err := c.send(ctx, "tok", sendReq{Body: "hi", ClientID: id}); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	s.mu.Lock()
	keys := strings.Join(s.keys, " ")
	s.mu.Unlock()
	if keys != "a-1 a-2 a-2" {
		t.Errorf("requests' Idempotency-Keys %q, want %q (the second send resent once)", keys, "a-1 a-2 a-2")
	}
	// Without the key net/http does not resend a POST: what the header buys.
	c2 := newClient("http://"+s.ln.Addr().String(), 1)
	defer c2.close()
	if _, err := c2.do(ctx, http.MethodPost, "/api/v1/messages", "tok", sendReq{Body: "hi"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.do(ctx, http.MethodPost, "/api/v1/messages", "tok", sendReq{Body: "hi"}, nil); err == nil {
		t.Error("a POST without Idempotency-Key was resent; the test no longer shows what the key changes")
	}
}
