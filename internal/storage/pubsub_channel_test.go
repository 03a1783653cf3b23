package storage

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// Pub/sub channels are server-wide, not per database: a deployment's
// channels must name its database, or deployments and test runs in other
// databases of one server hear each other (the enqueue wake-ups once used
// one fixed channel and woke every deployment's idle workers).
func TestPubSubChannel_NamesTopicAndDatabase(t *testing.T) {
	a := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DB: 3})
	b := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DB: 4})
	defer func() { _ = a.Close(); _ = b.Close() }()
	if got := PubSubChannel(a, "tasks"); got != "messager:tasks:db3" {
		t.Errorf("PubSubChannel(db 3, tasks) = %q", got)
	}
	if PubSubChannel(a, "tasks") == PubSubChannel(b, "tasks") {
		t.Error("two databases share a tasks channel")
	}
	if PubSubChannel(a, "tasks") == PubSubChannel(a, "events") {
		t.Error("two topics share a channel")
	}
}
