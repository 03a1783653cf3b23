// Package embedredis runs an in-process Redis-compatible server (miniredis)
// so `messager all` needs nothing installed. It is for a laptop and tests,
// not production: everything lives in memory and is lost on exit.
package embedredis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// tick is how often the server's clock is advanced. miniredis does not
// expire keys by itself; advancing it in steps keeps TTLs (sessions,
// presence, asynq leases and locks) working without ClockTTL's cost.
const tick = 250 * time.Millisecond

// Server is a running embedded Redis.
type Server struct {
	mr   *miniredis.Miniredis
	stop chan struct{}
	wg   sync.WaitGroup
}

// Start listens on addr (e.g. "127.0.0.1:0") and starts the TTL clock.
func Start(addr string) (*Server, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	s := &Server{mr: mr, stop: make(chan struct{})}
	s.wg.Add(1)
	go s.clock()
	return s, nil
}

func (s *Server) clock() {
	defer s.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mr.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Addr is the host:port clients connect to.
func (s *Server) Addr() string { return s.mr.Addr() }

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.mr.Addr() + "/0" }

// Close stops the server; ctx is accepted for symmetry with other closers.
func (s *Server) Close(_ context.Context) {
	close(s.stop)
	s.wg.Wait()
	s.mr.Close()
}
