package testsupport

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// proxyDialTimeout bounds a connection to the target; the targets are local.
const proxyDialTimeout = 10 * time.Second

// Proxy is a TCP proxy between a client and a server (a browser and
// messager, messager and Redis or PostgreSQL) that a test can cut, as a
// network failure, a load balancer or a server going away would.
//
// While blocked it does not listen at all, so a client's connect is
// refused, as it would be by a host whose server is down. (Accepting and
// closing at once is a different fault: the client sees EOF instead.)
type Proxy struct {
	// Addr is the proxy's host:port; URL is http://Addr.
	Addr, URL string

	t      testing.TB
	target string
	wg     sync.WaitGroup // every accept loop and every pipe

	mu     sync.Mutex
	ln     net.Listener // nil while blocked or closed
	conns  map[net.Conn]struct{}
	closed bool
}

// Unblock re-listens on the same address; the port was just freed, so
// this is a loop only to wait out a slow close.
const (
	relistenAttempts = 50
	relistenInterval = 100 * time.Millisecond
)

// StartProxy starts a proxy to target (host:port). The test's cleanup
// closes it and waits for all of its goroutines.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), t: t, target: target, conns: map[net.Conn]struct{}{}}
	p.URL = "http://" + p.Addr
	p.serve(ln)
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.Block()
		p.wg.Wait()
	})
	return p
}

// StartURLProxy starts a proxy to the host of rawURL (a redis:// or
// postgres:// URL) and returns it with rawURL pointed at the proxy.
func StartURLProxy(t testing.TB, rawURL string) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p := StartProxy(t, u.Host)
	u.Host = p.Addr
	return p, u.String()
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			closed := p.closed
			if !closed {
				p.wg.Add(1)
			}
			p.mu.Unlock()
			if closed {
				c.Close()
				continue
			}
			go p.pipe(c)
		}
	}()
}

func (p *Proxy) pipe(c net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	// Either direction ending ends both: closing the pair unblocks the other copy.
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, c)
		c.Close()
		up.Close()
		close(done)
	}()
	_, _ = io.Copy(c, up)
	c.Close()
	up.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Cut closes every open connection and returns how many it closed; new
// connections are still accepted unless the proxy is blocked.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns) / 2
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	return n
}

// Block cuts every connection and stops listening, so new connections are
// refused until Unblock; it returns how many connections it cut.
func (p *Proxy) Block() int {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	return p.Cut()
}

// Unblock listens on the same address again. It fails the test when the
// address cannot be had back.
func (p *Proxy) Unblock() {
	p.t.Helper()
	p.mu.Lock()
	listening := p.ln != nil || p.closed
	p.mu.Unlock()
	if listening {
		return
	}
	var err error
	for range relistenAttempts {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.Addr); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(relistenInterval)
	}
	p.t.Fatalf("proxy: listen again on %s: %v", p.Addr, err)
}
