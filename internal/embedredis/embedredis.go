// Package embedredis runs an in-process Redis-compatible server (miniredis)
// so `messager all` needs nothing installed. It is for a laptop and tests,
// not production: everything lives in memory and is lost on exit.
//
// The server listens on a TCP port that every local process can reach, so
// it requires a password made at random on each start; only URL carries
// it. Without one, any program on the machine could forge stream events,
// mint sessions or read everyone's queued messages.
package embedredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// The server's clock. miniredis does not expire keys by itself: its TTLs
// count down only when FastForward advances them, so a goroutine advances
// them by the time that has passed. Each FastForward walks (and sorts)
// every key under the server's lock, so its cost grows with the number of
// keys; advancing every 250 ms would spend a whole core on a store of
// 100k keys with nothing else happening. So the step adapts: after an
// advance that took d, the next comes clockCostRatio × d later (between
// minTick and maxTick). A small store (up to a few thousand keys) keeps
// TTLs to within a quarter of a second; a large one trades expiry
// precision (keys outlive their TTL by up to maxTick) for at most about
// 1/clockCostRatio of a core (until an advance takes longer than
// maxTick/clockCostRatio, some 300k keys).
const (
	minTick        = 250 * time.Millisecond
	maxTick        = 30 * time.Second
	clockCostRatio = 200
)

// clockStep is how long to wait before the next advance, after one that
// took cost.
func clockStep(cost time.Duration) time.Duration {
	return min(max(minTick, cost*clockCostRatio), maxTick)
}

// Server is a running embedded Redis.
type Server struct {
	mr       *miniredis.Miniredis
	password string
	stop     chan struct{}
	wg       sync.WaitGroup
}

// Start listens on addr (e.g. "127.0.0.1:0") with a fresh random password
// and starts the TTL clock (see minTick).
func Start(addr string) (*Server, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("embedded redis password: %w", err)
	}
	password := hex.EncodeToString(secret)
	mr := miniredis.NewMiniRedis()
	mr.RequireAuth(password)
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	s := &Server{mr: mr, password: password, stop: make(chan struct{})}
	s.wg.Add(1)
	go s.clock()
	return s, nil
}

func (s *Server) clock() {
	defer s.wg.Done()
	t := time.NewTimer(minTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		s.mr.FastForward(now.Sub(last))
		last = now
		t.Reset(clockStep(time.Since(now)))
	}
}

// Addr is the host:port clients connect to. A client needs the password
// too: connect with URL.
func (s *Server) Addr() string { return s.mr.Addr() }

// URL is the redis:// URL of the server, password included: every client
// made from it (go-redis, asynq and asynqmon through the shared client)
// authenticates. It is a secret; do not log it.
func (s *Server) URL() string {
	u := url.URL{Scheme: "redis", User: url.UserPassword("", s.password), Host: s.mr.Addr(), Path: "/0"}
	return u.String()
}

// Close stops the server; ctx is accepted for symmetry with other closers.
func (s *Server) Close(_ context.Context) {
	close(s.stop)
	s.wg.Wait()
	s.mr.Close()
}
