package testsupport

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// roundTrip dials addr and echoes one line; it reports whether the line came back.
func roundTrip(t *testing.T, addr string) (net.Conn, bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, echoes(c)
}

func echoes(c net.Conn) bool {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "ping\n"
}

// Cut and Block both drop every open connection; only Block refuses new
// ones, until Unblock.
func TestProxy_CutAndBlock(t *testing.T) {
	for _, tc := range []struct {
		name    string
		drop    func(*Proxy) int
		refuses bool
	}{
		{"Cut drops open connections and keeps accepting", (*Proxy).Cut, false},
		{"Block drops open connections and refuses until Unblock", (*Proxy).Block, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := StartProxy(t, echoServer(t))
			c, ok := roundTrip(t, p.Addr)
			if !ok {
				t.Fatal("no echo through the proxy")
			}
			if n := tc.drop(p); n != 1 {
				t.Fatalf("dropped %d connections, want 1", n)
			}
			if echoes(c) {
				t.Fatal("a dropped connection still carries data")
			}
			if tc.refuses {
				if c, err := net.DialTimeout("tcp", p.Addr, 5*time.Second); err == nil {
					c.Close()
					t.Fatal("a new connection while blocked is not refused")
				}
				p.Unblock()
			}
			if _, ok := roundTrip(t, p.Addr); !ok {
				t.Fatal("a new connection afterwards does not echo")
			}
		})
	}
}

func TestStartURLProxy_PointsTheURLAtTheProxy(t *testing.T) {
	p, u := StartURLProxy(t, "redis://user:pw@"+echoServer(t)+"/3")
	if want := "redis://user:pw@" + p.Addr + "/3"; u != want {
		t.Fatalf("URL = %s, want %s", u, want)
	}
}
