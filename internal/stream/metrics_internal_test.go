package stream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/testenv"
)

// failingSink fails every write, as a connection whose client went away.
type failingSink struct{ fakeSink }

func (s *failingSink) write(context.Context, Frame) error { return errors.New("broken pipe") }

func gatherValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// A write that fails while the stream is live is counted by transport;
// both transports' series exist before the first failure.
func TestHandlerMetrics_CountFailedWritesByTransport(t *testing.T) {
	reg := prometheus.NewRegistry()
	hub := NewHub(prometheus.NewRegistry(), 16)
	h := NewHandler(hub, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, time.Hour, nil, WithHandlerMetrics(reg))
	for _, tr := range []string{"ws", "sse"} {
		if v, ok := gatherValue(t, reg, "messager_stream_write_errors_total", map[string]string{"transport": tr}); !ok || v != 0 {
			t.Fatalf("%s write errors before any stream: %v (exists %v), want a series at 0", tr, v, ok)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &failingSink{fakeSink: *newFakeSink()}
	done := make(chan error, 1)
	go func() {
		done <- hub.serve(ctx, 1, "ws", streamStart{head: -1}, h.countWrites(ctx, "ws", s), nil, time.Hour)
	}()
	waitUntil(t, "registration", func() bool { return hub.Len() == 1 })
	hub.Deliver(msgEnv("m1", 1))
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("serve ended without the write error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not end on a failed write")
	}
	if v, _ := gatherValue(t, reg, "messager_stream_write_errors_total", map[string]string{"transport": "ws"}); v != 1 {
		t.Fatalf("ws write errors = %v, want 1", v)
	}
	if v, _ := gatherValue(t, reg, "messager_stream_write_errors_total", map[string]string{"transport": "sse"}); v != 0 {
		t.Fatalf("sse write errors = %v, want 0", v)
	}
}

// cutter is a TCP proxy to Redis whose connections the test can cut, as a
// network failure or a Redis restart would.
type cutter struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln}
	t.Cleanup(func() { _ = ln.Close(); c.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
	return c
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = conn.Close()
	}
	c.conns = nil
}

// runBusBehindCutter runs a Bus with opts, and a hub, on the test Redis
// through a cutter (so the test can break its connections) until the test
// ends, and returns it, its client and the cutter.
func runBusBehindCutter(t *testing.T, opts ...BusOption) (*Bus, *redis.Client, *cutter) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutter(t, opt.Addr)
	opt.Addr = proxy.ln.Addr().String()
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	bus := NewBus(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	hub := NewHub(prometheus.NewRegistry(), 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = bus.Run(ctx, hub) }()
	t.Cleanup(func() { cancel(); <-done })
	return bus, rdb, proxy
}

// When the subscription breaks and comes back, the resubscribe is counted
// (and the hub told to resync); the first subscribe is not a resubscribe.
func TestBusMetrics_CountResubscribes(t *testing.T) {
	reg := prometheus.NewRegistry()
	bus, rdb, proxy := runBusBehindCutter(t, WithBusMetrics(reg))

	subscribers := func() int64 {
		n, err := rdb.PubSubNumSub(context.Background(), bus.channel).Result()
		if err != nil {
			return -1
		}
		return n[bus.channel]
	}
	waitUntil(t, "the first subscription", func() bool { return subscribers() == 1 })
	if v, ok := gatherValue(t, reg, "messager_pubsub_resubscribes_total", nil); !ok || v != 0 {
		t.Fatalf("resubscribes after the first subscribe = %v (exists %v), want a series at 0", v, ok)
	}
	proxy.cut()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, _ := gatherValue(t, reg, "messager_pubsub_resubscribes_total", nil); v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the re-established subscription was not counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
