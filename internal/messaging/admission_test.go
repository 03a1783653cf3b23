package messaging

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/testenv"
)

// The bucket admits the burst, then refuses with the time until the next
// send is earned; it is per sender and shared by every admission on the
// same Redis (every api pod).
func TestRedisAdmission_BurstThenRefusesWithTheWait(t *testing.T) {
	rdb, _ := testenv.RedisClient(t)
	ctx := context.Background()
	podA := NewRedisAdmission(storage.AutoPipeline(rdb), SendLimit{PerSecond: 2, Burst: 3})
	podB := NewRedisAdmission(rdb, SendLimit{PerSecond: 2, Burst: 3})
	for i, a := range []*RedisAdmission{podA, podB, podA} {
		if prev, err := a.Admit(ctx, 7, "", events.Message{}); err != nil || prev != nil {
			t.Fatalf("send %d within the burst: %v %v", i, prev, err)
		}
	}
	_, err := podB.Admit(ctx, 7, "", events.Message{})
	var rl *RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("send past the burst: %v, want *RateLimitedError", err)
	}
	if rl.RetryAfter <= 0 || rl.RetryAfter > 500*time.Millisecond {
		t.Fatalf("RetryAfter %v, want up to one interval (500ms)", rl.RetryAfter)
	}
	if _, err := podA.Admit(ctx, 8, "", events.Message{}); err != nil {
		t.Fatalf("another sender: %v", err)
	}
	time.Sleep(rl.RetryAfter + 50*time.Millisecond)
	if _, err := podA.Admit(ctx, 7, "", events.Message{}); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

// A repeated client_id is answered from its reservation and spends
// nothing; a refused send reserves nothing.
func TestRedisAdmission_ClientIDsAndTheLimit(t *testing.T) {
	rdb, _ := testenv.RedisClient(t)
	ctx := context.Background()
	a := NewRedisAdmission(rdb, SendLimit{PerSecond: 1, Burst: 1})
	first := events.Message{ID: "01a21a36-508b-74ad-98fe-2d0b06912795", Body: "one"}
	if prev, err := a.Admit(ctx, 1, "c1", first); err != nil || prev != nil {
		t.Fatalf("first: %v %v", prev, err)
	}
	for i := 0; i < 3; i++ {
		prev, err := a.Admit(ctx, 1, "c1", events.Message{ID: "other"})
		if err != nil || prev == nil || prev.ID != first.ID || prev.Body != "one" {
			t.Fatalf("repeat %d: %+v %v, want the first message", i, prev, err)
		}
	}
	var rl *RateLimitedError
	if _, err := a.Admit(ctx, 1, "c2", events.Message{ID: "second"}); !errors.As(err, &rl) {
		t.Fatalf("c2 over the limit: %v", err)
	}
	if n, err := rdb.Exists(ctx, dedupKey(1, "c2")).Result(); err != nil || n != 0 {
		t.Fatalf("a refused send left a reservation (%d, %v)", n, err)
	}
	if err := a.Release(ctx, 1, "c1"); err != nil {
		t.Fatal(err)
	}

	// No limit: only the reservation, as before.
	open := NewRedisAdmission(rdb, SendLimit{})
	for i := 0; i < 50; i++ {
		if _, err := open.Admit(ctx, 2, "", events.Message{}); err != nil {
			t.Fatalf("unlimited send %d: %v", i, err)
		}
	}
	if prev, err := open.Admit(ctx, 2, "x", first); err != nil || prev != nil {
		t.Fatalf("unlimited reservation: %v %v", prev, err)
	}
	if prev, err := open.Admit(ctx, 2, "x", events.Message{}); err != nil || prev == nil || prev.ID != first.ID {
		t.Fatalf("unlimited repeat: %v %v", prev, err)
	}
}

// A client_id is remembered for the configured window (minutes by
// default), not a day: Redis memory grows with sends × window.
func TestRedisAdmission_ReservesForTheClientIDWindow(t *testing.T) {
	rdb, _ := testenv.RedisClient(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		a    *RedisAdmission
		want time.Duration
	}{
		{"default", NewRedisAdmission(rdb, SendLimit{}), 5 * time.Minute},
		{"configured", NewRedisAdmission(rdb, SendLimit{}, WithClientIDWindow(90*time.Second)), 90 * time.Second},
		{"zero keeps the default", NewRedisAdmission(rdb, SendLimit{}, WithClientIDWindow(0)), 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.a.Admit(ctx, 3, tc.name, events.Message{ID: "m"}); err != nil {
				t.Fatal(err)
			}
			ttl, err := rdb.PTTL(ctx, dedupKey(3, tc.name)).Result()
			if err != nil || ttl > tc.want || ttl < tc.want-5*time.Second {
				t.Errorf("reservation TTL %v (%v), want %v", ttl, err, tc.want)
			}
		})
	}
}
