package embedredis

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

type quiet struct{}

func (quiet) Debug(...any) {}
func (quiet) Info(...any)  {}
func (quiet) Warn(...any)  {}
func (quiet) Error(...any) {}
func (quiet) Fatal(...any) {}

// asynq runs entirely on Lua scripts; `messager all` depends on every one
// it uses working on the embedded server: enqueue with a task id, dequeue,
// done, retry, archive, scheduled tasks and the inspector.
func TestAsynqScriptsRunOnTheEmbeddedServer(t *testing.T) {
	srv, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	var ok, failing atomic.Int32
	mux := asynq.NewServeMux()
	mux.HandleFunc("ok", func(context.Context, *asynq.Task) error { ok.Add(1); return nil })
	mux.HandleFunc("fail", func(context.Context, *asynq.Task) error { failing.Add(1); return errors.New("always fails") })
	server := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:       2,
		Queues:            map[string]int{"direct": 2, "broadcast": 1},
		TaskCheckInterval: 10 * time.Millisecond,
		RetryDelayFunc:    func(int, error, *asynq.Task) time.Duration { return 10 * time.Millisecond },
		Logger:            quiet{},
	})
	client := asynq.NewClientFromRedisClient(rdb)
	if _, err := client.Enqueue(asynq.NewTask("ok", nil), asynq.TaskID("t1"), asynq.Queue("direct")); err != nil {
		t.Fatal(err)
	}
	// Before the server starts: a running server could finish t1 (kept for
	// no retention) before the second enqueue, which would then succeed.
	if _, err := client.Enqueue(asynq.NewTask("ok", nil), asynq.TaskID("t1"), asynq.Queue("direct")); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatalf("a second task with the same id: %v, want ErrTaskIDConflict", err)
	}
	if err := server.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer server.Shutdown()
	if _, err := client.Enqueue(asynq.NewTask("ok", nil), asynq.Queue("broadcast"), asynq.ProcessIn(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enqueue(asynq.NewTask("fail", nil), asynq.Queue("direct"), asynq.MaxRetry(2)); err != nil {
		t.Fatal(err)
	}

	inspector := asynq.NewInspectorFromRedisClient(rdb)
	deadline := time.Now().Add(20 * time.Second)
	for {
		archived, _ := inspector.ListArchivedTasks("direct")
		if ok.Load() == 2 && len(archived) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ok ran %d times (want 2, one of them scheduled); archived %d (want 1)", ok.Load(), len(archived))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := failing.Load(); n != 3 {
		t.Fatalf("the failing task ran %d times, want 1 + 2 retries", n)
	}
	queues, err := inspector.Queues()
	if err != nil || len(queues) != 2 {
		t.Fatalf("inspector queues %v %v", queues, err)
	}
}

// Anyone on the machine can reach a loopback port: a client that does not
// present the server's password must be refused, and the URL the server
// hands out must carry it.
func TestServer_RefusesClientsWithoutThePassword(t *testing.T) {
	srv, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	ctx := context.Background()

	stranger := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1})
	defer stranger.Close()
	if err := stranger.Set(ctx, "messager:session:forged", "1", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("a client without the password wrote a key (err %v), want NOAUTH", err)
	}
	guess := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: "password", MaxRetries: -1})
	defer guess.Close()
	if err := guess.Ping(ctx).Err(); err == nil {
		t.Fatal("a wrong password was accepted")
	}

	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	if len(opt.Password) < 32 {
		t.Fatalf("the URL's password %q is missing or too short to resist guessing", opt.Password)
	}
	owner := redis.NewClient(opt)
	defer owner.Close()
	if err := owner.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("the URL's own client was refused: %v", err)
	}

	other, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	if po, _ := redis.ParseURL(other.URL()); po.Password == opt.Password {
		t.Fatal("two starts share a password; it must be random per start")
	}
}

// The clock backs off as advancing it gets dearer (a large store), so an
// idle server does not spend a core walking its keys, and comes back to
// a quarter of a second once it is cheap again.
func TestClockStep_BacksOffWithTheCostOfAdvancing(t *testing.T) {
	for _, tc := range []struct{ cost, want time.Duration }{
		{0, minTick},
		{time.Millisecond, minTick},
		{10 * time.Millisecond, 2 * time.Second},
		{100 * time.Millisecond, 20 * time.Second},
		{time.Second, maxTick},
	} {
		if got := clockStep(tc.cost); got != tc.want {
			t.Errorf("clockStep(%v) = %v, want %v", tc.cost, got, tc.want)
		}
	}
}

// TTLs count down on their own: sessions, presence and rate limits
// depend on keys expiring.
func TestServer_ExpiresKeys(t *testing.T) {
	srv, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "short", "1", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "long", "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for rdb.Exists(ctx, "short").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("a key with a 300 ms TTL still exists after 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rdb.Exists(ctx, "long").Val() != 1 {
		t.Error("a key with an hour's TTL expired")
	}
}
