package app

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/testenv"
	"github.com/messager/messager/internal/testsupport"
)

// With no worker running the API still accepts at once; when a worker
// starts, everything queued is delivered.
func TestMessaging_AcceptsWithoutWorkerAndDeliversWhenOneStarts(t *testing.T) {
	b := newBackends(t)
	api := startApp(t, ModeAPI, b)
	s, r := newUser(t, api, "nowork"), newUser(t, api, "noworkr")
	st := r.stream("")
	var ids []string
	for i := 0; i < 25; i++ {
		ids = append(ids, s.send(r.user.Usercode, fmt.Sprintf("queued %d", i)).ID)
	}
	st.quiet(300 * time.Millisecond)
	startApp(t, ModeWorker, b)
	_, counts := st.collect(len(ids), deliveryTimeout)
	for _, id := range ids {
		if counts[id] != 1 {
			t.Fatalf("message %s arrived %d times once a worker started", id, counts[id])
		}
	}
}

// While Redis is down the API answers 503 (never 500) and recovers by
// itself when Redis comes back.
func TestAPI_RedisDownIs503AndRecovers(t *testing.T) {
	b := newBackends(t)
	var proxy *testsupport.Proxy
	proxy, b.redisURL = testsupport.StartURLProxy(t, b.redisURL)
	a := startApp(t, ModeAll, b)
	s, r := newUser(t, a, "rdown"), newUser(t, a, "rdownr")

	proxy.Block()
	for _, call := range []struct{ method, path string }{
		{"POST", "/api/v1/messages"}, {"GET", "/api/v1/presence"}, {"GET", "/readyz"},
	} {
		res, body := s.do(call.method, call.path, map[string]string{"body": "x", "to": r.user.Usercode})
		if res.StatusCode != 503 {
			t.Fatalf("%s %s with Redis down: %d %s", call.method, call.path, res.StatusCode, body)
		}
		p := decodeProblem(t, res, body)
		if call.path == "/readyz" && !strings.Contains(p.Detail, "redis") {
			t.Fatalf("readyz does not name redis: %s", body)
		}
	}
	proxy.Unblock()
	waitFor(t, func() bool {
		res, _ := s.do("GET", "/api/v1/presence", nil)
		return res.StatusCode == 200
	}, "the API to recover after Redis returned")
	m := s.send(r.user.Usercode, "after the outage")
	waitFor(t, func() bool { h := r.history(); return len(h) == 1 && h[0].ID == m.ID }, "delivery after the outage")
}

// While the database is down history answers 503 and recovers by itself.
func TestAPI_DatabaseDownIs503AndRecovers(t *testing.T) {
	if os.Getenv(testenv.EnvDatabaseURL) == "" {
		t.Skip("needs PostgreSQL (set MESSAGER_TEST_DATABASE_URL): an embedded SQLite file cannot go down")
	}
	b := newBackends(t)
	var proxy *testsupport.Proxy
	proxy, b.dbURL = testsupport.StartURLProxy(t, b.dbURL)
	a := startApp(t, ModeAll, b)
	c := newUser(t, a, "dbdown")

	proxy.Block()
	res, body := c.do("GET", "/api/v1/messages", nil)
	if res.StatusCode != 503 {
		t.Fatalf("history with the database down: %d %s", res.StatusCode, body)
	}
	decodeProblem(t, res, body)
	if res, body := c.do("GET", "/readyz", nil); res.StatusCode != 503 || !strings.Contains(string(body), "database") {
		t.Fatalf("readyz with the database down: %d %s", res.StatusCode, body)
	}
	proxy.Unblock()
	waitFor(t, func() bool {
		res, _ := c.do("GET", "/api/v1/messages", nil)
		return res.StatusCode == 200
	}, "history to recover after the database returned")
}

// 1000 messages sent concurrently by 50 users all arrive, and history
// holds each exactly once.
func TestMessaging_ThousandMessagesFromFiftyUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	forEachTopology(t, testThousandMessages)
}

func testThousandMessages(t *testing.T, a, podB, podC *App) {
	const users, perUser = 50, 20
	clients := make([]*client, users)
	streams := make([]*wsStream, users)
	for i := range clients {
		clients[i] = newUser(t, a, "load")
		// Half the users stream from another pod than the one they post to.
		pod := podB
		if i%2 == 0 {
			pod = podC
		}
		streams[i] = clients[i].on(pod).stream("")
	}
	// expected[i] are the ids user i must receive.
	expected := make([]map[string]bool, users)
	for i := range expected {
		expected[i] = map[string]bool{}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sendErrs := make(chan error, users)
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 0; k < perUser; k++ {
				j := (i + 1 + rand.IntN(users-1)) % users
				m, err := clients[i].trySend(clients[j].user.Usercode, fmt.Sprintf("%d→%d #%d", i, j, k))
				if err != nil {
					sendErrs <- fmt.Errorf("user %d: %w", i, err)
					return
				}
				mu.Lock()
				expected[j][m.ID] = true
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	close(sendErrs)
	for err := range sendErrs {
		t.Fatal(err)
	}
	total := 0
	for j, s := range streams {
		want := len(expected[j])
		total += want
		// The recipient's stream also carries its own sent messages.
		deadline := time.After(60 * time.Second)
		got := map[string]int{}
		for received := 0; received < want; {
			select {
			case f := <-s.frames:
				if f.Type == events.TypeMessage && expected[j][f.Message.ID] {
					got[f.Message.ID]++
					if got[f.Message.ID] == 1 {
						received++
					}
				}
			case <-deadline:
				t.Fatalf("user %d received %d of %d messages", j, received, want)
			}
		}
		hist := map[string]int{}
		for _, m := range clients[j].history() {
			hist[m.ID]++
		}
		for id := range expected[j] {
			if hist[id] != 1 {
				t.Fatalf("user %d has message %s %d times in history", j, id, hist[id])
			}
		}
	}
	if total != users*perUser {
		t.Fatalf("accounted for %d messages, want %d", total, users*perUser)
	}
}
