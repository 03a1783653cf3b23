package storage

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// countingHook counts the commands a client sends, and can hold the first
// one until released.
type countingHook struct {
	sent      atomic.Int64
	holdFirst chan struct{} // closed to release the held command
	held      chan struct{} // closed once the first command is held
	once      sync.Once
}

// connectionSetUp reports whether cmd is one go-redis sends on a new
// connection (HELLO, CLIENT SETINFO), not one of the test's.
func connectionSetUp(cmd redis.Cmder) bool {
	return cmd.Name() == "hello" || cmd.Name() == "client"
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !connectionSetUp(cmd) && h.sent.Add(1) == 1 && h.holdFirst != nil {
			h.once.Do(func() { close(h.held) })
			<-h.holdFirst
		}
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if !connectionSetUp(cmd) {
				h.sent.Add(1)
			}
		}
		return next(ctx, cmds)
	}
}

// pipelinePair returns an adaptivePipeline whose direct path and whose
// auto-pipeliner are separate clients of one server, each counted by its
// own hook, so a test sees which path a command took.
func pipelinePair(t *testing.T, direct, piped *countingHook) *adaptivePipeline {
	t.Helper()
	mr := miniredis.RunT(t)
	d := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	p := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = d.Close(); _ = p.Close() })
	d.AddHook(direct)
	p.AddHook(piped)
	ap, err := p.AutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	return &adaptivePipeline{Cmdable: ap, direct: d}
}

func TestAutoPipeline_StandaloneClientGetsTheAdaptivePipeline(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	if _, ok := AutoPipeline(rdb).(*adaptivePipeline); !ok {
		t.Fatalf("AutoPipeline(%T) = %T, want the adaptive pipeline", rdb, AutoPipeline(rdb))
	}
}

// A command that is the only one in flight is sent the plain way: at
// moderate rates the auto-pipeliner's hand-offs to its flusher goroutine
// and back cost more than the round trip they were meant to share.
func TestAutoPipeline_LoneCommandsGoDirect(t *testing.T) {
	direct, piped := &countingHook{}, &countingHook{}
	c := pipelinePair(t, direct, piped)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.GetEx(ctx, "k", time.Minute).Result(); err != nil || v != "v" {
		t.Fatalf("GetEx = %q, %v", v, err)
	}
	if err := c.Publish(ctx, "ch", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := redis.NewScript(`return redis.call('DEL', KEYS[1])`).Run(ctx, c, []string{"k"}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, "k").Err(); err != nil {
		t.Fatal(err)
	}
	// Set, GetEx, Publish, EvalSha (NOSCRIPT), Eval, Del.
	if d, p := direct.sent.Load(), piped.sent.Load(); d != 6 || p != 0 {
		t.Errorf("one command at a time: %d sent directly, %d through the auto-pipeliner; want 6 and 0", d, p)
	}
}

// A command issued while another is in flight is auto-pipelined, so
// concurrent requests still share round trips.
func TestAutoPipeline_ConcurrentCommandsArePipelined(t *testing.T) {
	direct := &countingHook{holdFirst: make(chan struct{}), held: make(chan struct{})}
	piped := &countingHook{}
	c := pipelinePair(t, direct, piped)
	ctx := context.Background()

	first := make(chan error, 1)
	go func() { first <- c.Set(ctx, "a", "1", time.Minute).Err() }()
	select {
	case <-direct.held: // the first command is in flight, held in its hook
	case err := <-first:
		t.Fatalf("the first command (%v) was not sent directly", err)
	}
	if err := c.Set(ctx, "b", "2", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if p := piped.sent.Load(); p != 1 {
		t.Errorf("a command sent while another was in flight: %d through the auto-pipeliner, want 1", p)
	}
	close(direct.holdFirst)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// Both have returned: the next command goes direct again.
	if n, err := c.Del(ctx, "a", "b").Result(); err != nil || n != 2 {
		t.Fatalf("Del = %d, %v; want both keys deleted", n, err)
	}
	if d, p := direct.sent.Load(), piped.sent.Load(); d != 2 || p != 1 {
		t.Errorf("after the concurrent pair: %d sent directly, %d through the auto-pipeliner; want 2 and 1", d, p)
	}
}
