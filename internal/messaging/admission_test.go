package messaging

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/messager/messager/internal/delivery"
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
		if prev, err := admit(ctx, a, 7, "", events.Message{}); err != nil || prev != nil {
			t.Fatalf("send %d within the burst: %v %v", i, prev, err)
		}
	}
	_, err := admit(ctx, podB, 7, "", events.Message{})
	var rl *RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("send past the burst: %v, want *RateLimitedError", err)
	}
	if rl.RetryAfter <= 0 || rl.RetryAfter > 500*time.Millisecond {
		t.Fatalf("RetryAfter %v, want up to one interval (500ms)", rl.RetryAfter)
	}
	if _, err := admit(ctx, podA, 8, "", events.Message{}); err != nil {
		t.Fatalf("another sender: %v", err)
	}
	time.Sleep(rl.RetryAfter + 50*time.Millisecond)
	if _, err := admit(ctx, podA, 7, "", events.Message{}); err != nil {
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
	if prev, err := admit(ctx, a, 1, "c1", first); err != nil || prev != nil {
		t.Fatalf("first: %v %v", prev, err)
	}
	for i := 0; i < 3; i++ {
		prev, err := admit(ctx, a, 1, "c1", events.Message{ID: "other"})
		if err != nil || prev == nil || prev.ID != first.ID || prev.Body != "one" {
			t.Fatalf("repeat %d: %+v %v, want the first message", i, prev, err)
		}
	}
	var rl *RateLimitedError
	if _, err := admit(ctx, a, 1, "c2", events.Message{ID: "second"}); !errors.As(err, &rl) {
		t.Fatalf("c2 over the limit: %v", err)
	}
	if n, err := rdb.Exists(ctx, dedupKey(1, "c2")).Result(); err != nil || n != 0 {
		t.Fatalf("a refused send left a reservation (%d, %v)", n, err)
	}
	if err := a.Gate().ReleaseGroup(ctx, []delivery.Delivery{{SenderID: 1, ClientID: "c1"}}); err != nil {
		t.Fatal(err)
	}

	// No limit: only the reservation, as before.
	open := NewRedisAdmission(rdb, SendLimit{})
	for i := 0; i < 50; i++ {
		if _, err := admit(ctx, open, 2, "", events.Message{}); err != nil {
			t.Fatalf("unlimited send %d: %v", i, err)
		}
	}
	if prev, err := admit(ctx, open, 2, "x", first); err != nil || prev != nil {
		t.Fatalf("unlimited reservation: %v %v", prev, err)
	}
	if prev, err := admit(ctx, open, 2, "x", events.Message{}); err != nil || prev == nil || prev.ID != first.ID {
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
			if _, err := admit(ctx, tc.a, 3, tc.name, events.Message{ID: "m"}); err != nil {
				t.Fatal(err)
			}
			ttl, err := rdb.PTTL(ctx, dedupKey(3, tc.name)).Result()
			if err != nil || ttl > tc.want || ttl < tc.want-5*time.Second {
				t.Errorf("reservation TTL %v (%v), want %v", ttl, err, tc.want)
			}
		})
	}
}

// admit admits one send through a's gate: the earlier message of a
// repeated client_id, or the refusal.
func admit(ctx context.Context, a *RedisAdmission, senderID int, clientID string, m events.Message) (*events.Message, error) {
	refusals, err := a.Gate().AdmitGroup(ctx, []delivery.Delivery{{SenderID: senderID, ClientID: clientID, Message: m}})
	if err != nil {
		return nil, err
	}
	var repeat *RepeatedSend
	if errors.As(refusals[0], &repeat) {
		return &repeat.Prev, nil
	}
	return nil, refusals[0]
}

func sendOf(sender int, clientID, id string) delivery.Delivery {
	return delivery.Delivery{SenderID: sender, ClientID: clientID, Message: events.Message{ID: id, Body: "body of " + id}}
}

// A group's sends are admitted as they would be one after the other: a
// client_id sent twice in one group is admitted once and the second send
// is its repeat; past the limit a send is refused and reserves nothing; a
// send with neither limit nor client_id needs no admission.
func TestRedisAdmission_GateAdmitsAGroupInOrder(t *testing.T) {
	rdb, _ := testenv.RedisClient(t)
	ctx := context.Background()
	gate := NewRedisAdmission(rdb, SendLimit{PerSecond: 1, Burst: 2}).Gate()
	ds := []delivery.Delivery{sendOf(1, "c1", "m1"), sendOf(1, "c1", "m1-again"), sendOf(1, "c2", "m2"), sendOf(1, "c3", "m3"), sendOf(2, "c1", "m4")}
	refusals, err := gate.AdmitGroup(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	var repeat *RepeatedSend
	if refusals[0] != nil || !errors.As(refusals[1], &repeat) || repeat.Prev.ID != "m1" || repeat.Prev.Body != "body of m1" {
		t.Fatalf("c1 twice: %v, %v; want admitted, then a repeat of m1", refusals[0], refusals[1])
	}
	var limited *RateLimitedError
	if refusals[2] != nil || !errors.As(refusals[3], &limited) || refusals[4] != nil {
		t.Fatalf("refusals %v: want c2 admitted (burst 2), c3 over sender 1's limit, sender 2 admitted", refusals)
	}
	if n, err := rdb.Exists(ctx, dedupKey(1, "c3")).Result(); err != nil || n != 0 {
		t.Fatalf("the refused send left a reservation (%d, %v)", n, err)
	}

	open := NewRedisAdmission(rdb, SendLimit{}).Gate()
	if refusals, err := open.AdmitGroup(ctx, []delivery.Delivery{sendOf(3, "", "m5"), sendOf(3, "", "m6")}); err != nil || refusals[0] != nil || refusals[1] != nil {
		t.Fatalf("sends with no limit and no client_id: %v %v", refusals, err)
	}
}

// A script Redis has forgotten (restart, SCRIPT FLUSH) is loaded again and
// the sends it refused to run are run: each admitted once.
func TestRedisAdmission_GateRecoversFromAFlushedScript(t *testing.T) {
	rdb, _ := testenv.RedisClient(t)
	ctx := context.Background()
	gate := NewRedisAdmission(rdb, SendLimit{}).Gate()
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	refusals, err := gate.AdmitGroup(ctx, []delivery.Delivery{sendOf(1, "f1", "m1"), sendOf(1, "f2", "m2")})
	if err != nil {
		t.Fatal(err)
	}
	if refusals[0] != nil || refusals[1] != nil {
		t.Fatalf("after SCRIPT FLUSH: %v, want both admitted", refusals)
	}
	if refusals, err := gate.AdmitGroup(ctx, []delivery.Delivery{sendOf(1, "f1", "m1-retry")}); err != nil || refusals[0] == nil {
		t.Fatalf("a retry of f1: %v %v, want a repeat", refusals, err)
	}
}

// ReleaseGroup forgets the reservations, so the senders' retries pass.
func TestRedisAdmission_GateReleaseForgetsTheReservations(t *testing.T) {
	rdb, _ := testenv.RedisClient(t)
	ctx := context.Background()
	gate := NewRedisAdmission(rdb, SendLimit{}).Gate()
	ds := []delivery.Delivery{sendOf(1, "r1", "m1"), sendOf(2, "r2", "m2"), sendOf(3, "", "m3")}
	if _, err := gate.AdmitGroup(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if err := gate.ReleaseGroup(ctx, ds); err != nil {
		t.Fatal(err)
	}
	refusals, err := gate.AdmitGroup(ctx, ds)
	if err != nil || refusals[0] != nil || refusals[1] != nil {
		t.Fatalf("retries after a release: %v %v, want admitted", refusals, err)
	}
}
