package app

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/testenv"
)

// `messager all` with no Redis configured runs the embedded server. A
// local process that connects to its port without the password must be
// refused, while the app itself (sessions, presence, asynq, pub/sub and
// the queue metrics) works on it.
func TestAll_EmbeddedRedisRefusesStrangersAndServesTheApp(t *testing.T) {
	a := startApp(t, ModeAll, backends{dbURL: testenv.DatabaseURL(t)})
	if a.embedded == nil {
		t.Fatal("messager all with no redis url did not start the embedded server")
	}
	stranger := redis.NewClient(&redis.Options{Addr: a.embedded.Addr(), MaxRetries: -1})
	defer stranger.Close()
	ctx := context.Background()
	if err := stranger.Set(ctx, "messager:session:forged", "1", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("an unauthenticated local client wrote to the embedded redis (err %v), want NOAUTH", err)
	}
	if n, err := stranger.Keys(ctx, "*").Result(); err == nil {
		t.Fatalf("an unauthenticated local client listed keys: %v", n)
	}

	s, r := newUser(t, a, "embs"), newUser(t, a, "embr")
	live := r.stream("")
	m := s.send(r.user.Usercode, "over the authenticated embedded redis")
	if got, ok := live.nextMessage(deliveryTimeout); !ok || got.ID != m.ID {
		t.Fatalf("message not delivered live: %+v %v", got, ok)
	}
	res, body := s.do("GET", "/metrics/queues", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "asynq_") {
		t.Fatalf("queue metrics on the embedded redis: %d %.300s", res.StatusCode, body)
	}
}
