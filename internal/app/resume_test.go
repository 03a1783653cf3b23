package app

import (
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/delivery"
	"github.com/messager/messager/internal/events"
)

// A message saved after a newer one — its task held back, as a killed
// worker's task is until asynq's lease runs out — reaches a client that
// was offline meanwhile and resumes after the newest id it saw: on the
// WebSocket (?after=) and on GET /api/v1/messages?after=. Exactly once.
func TestResume_MessageSavedAfterANewerOneIsNotSkipped(t *testing.T) {
	b := newBackends(t)
	api := startApp(t, ModeAPI, b)
	bob, amy := newUser(t, api, "late"), newUser(t, api, "later")

	opt, err := redis.ParseURL(b.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	inspector := asynq.NewInspectorFromRedisClient(rdb)

	// The older message's task is held back (archived) while the newer one is delivered.
	old := bob.send(amy.user.Usercode, "sent first, saved last")
	if err := inspector.ArchiveTask(delivery.QueueDirect, old.ID); err != nil {
		t.Fatalf("hold back the first message's task: %v", err)
	}
	live := amy.stream("")
	newer := bob.send(amy.user.Usercode, "sent second, saved first")
	startApp(t, ModeWorker, b)
	got, ok := live.nextMessage(deliveryTimeout)
	if !ok || got.ID != newer.ID {
		t.Fatalf("live: got %+v (%v), want %s", got, ok, newer.ID)
	}
	live.close() // amy goes offline having seen the newest id

	if err := inspector.RunTask(delivery.QueueDirect, old.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(deliveryTimeout)
	for !hasMessage(amy.history(), old.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("the held-back message was never saved")
		}
		time.Sleep(50 * time.Millisecond)
	}

	res, data := amy.do("GET", "/api/v1/messages?after="+newer.ID, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("catch-up: %d %s", res.StatusCode, data)
	}
	var page struct {
		Messages []events.Message `json:"messages"`
	}
	mustJSON(t, data, &page)
	if len(page.Messages) != 1 || page.Messages[0].ID != old.ID {
		t.Fatalf("GET ?after=%s returned %v, want only %s", newer.ID, ids(page.Messages), old.ID)
	}

	resumed := amy.stream(newer.ID)
	defer resumed.close()
	order, counts := resumed.collect(1, deliveryTimeout)
	resumed.quiet(300 * time.Millisecond)
	if len(order) != 1 || order[0] != old.ID || counts[old.ID] != 1 {
		t.Fatalf("resumed stream after %s got %v, want %s once", newer.ID, order, old.ID)
	}
}

func hasMessage(ms []events.Message, id string) bool {
	for _, m := range ms {
		if m.ID == id {
			return true
		}
	}
	return false
}

func ids(ms []events.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
