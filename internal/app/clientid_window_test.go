package app

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/delivery"
	"github.com/messager/messager/internal/events"
)

// Redis remembers a client_id only for spec.messaging.clientIDWindow. A
// retry that comes later is not recognised there and gets a new id, but
// the database's unique (sender, client_id) index makes its delivery a
// no-op: nothing is stored or delivered twice, and the original stays
// the only copy in everybody's history.
func TestMessaging_RetryAfterTheClientIDWindowIsNotDeliveredTwice(t *testing.T) {
	b := newBackends(t)
	a := startApp(t, ModeAll, b, func(c *config.Config) { c.Spec.Messaging.ClientIDWindow = config.Duration(time.Second) })
	u, v := newUser(t, a, "late"), newUser(t, a, "laterc")
	st := v.stream("")
	defer st.close()
	req := map[string]any{"body": "only once", "to": v.user.Usercode, "client_id": "late-1"}
	send := func() events.Message {
		t.Helper()
		res, body := u.do("POST", "/api/v1/messages", req)
		if res.StatusCode != 202 {
			t.Fatalf("send: %d %s, want 202", res.StatusCode, body)
		}
		var sr struct{ Message events.Message }
		mustJSON(t, body, &sr)
		return sr.Message
	}
	first := send()
	if got, ok := st.nextMessage(deliveryTimeout); !ok || got.ID != first.ID {
		t.Fatalf("first delivery: %+v %v", got, ok)
	}

	// The window passes: the reservation expires on its own.
	ctx := context.Background()
	waitFor(t, func() bool {
		keys, _, err := a.rdb.Scan(ctx, 0, "messager:*:clientid:late-1", 1000).Result()
		return err == nil && len(keys) == 0
	}, "the client_id reservation to expire")

	late := send()
	if late.ID == first.ID {
		t.Fatal("the late retry was recognised by Redis: the window did not pass")
	}
	// Wait until the worker has run the late retry's task, then check
	// nothing came of it.
	inspector := asynq.NewInspectorFromRedisClient(a.rdb)
	waitFor(t, func() bool {
		info, err := inspector.GetTaskInfo(delivery.QueueDirect, late.ID)
		return err == nil && info.State == asynq.TaskStateCompleted
	}, "the late retry's task to complete")
	st.quiet(300 * time.Millisecond)
	for _, who := range []*client{u, v} {
		if ids := messageIDs(who.history()); len(ids) != 1 || ids[0] != first.ID {
			t.Errorf("%s's history %v, want only the first message %s", who.user.Username, ids, first.ID)
		}
	}
}
