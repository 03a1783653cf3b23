package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/testenv"
	"github.com/messager/messager/internal/testsupport"
)

// These tests run the real binary as separate processes — two `messager
// api` and `messager worker` — on real Redis and PostgreSQL, as in a
// cluster. .ci/run sets the env vars they need.

func requireServices(t *testing.T) {
	t.Helper()
	if os.Getenv(testenv.EnvRedisURL) == "" || os.Getenv(testenv.EnvDatabaseURL) == "" {
		t.Skip("cross-process tests need real Redis and PostgreSQL: set MESSAGER_TEST_REDIS_URL and MESSAGER_TEST_DATABASE_URL")
	}
}

// cluster is the Redis and database one test's processes share, and the
// binary they run.
type cluster struct {
	t        *testing.T
	bin      string
	redisURL string
	dbURL    string
}

// start runs `messager args...` as name against the cluster's services
// and waits until it is ready.
func (c *cluster) start(name string, args ...string) *testsupport.Process {
	c.t.Helper()
	return testsupport.StartMessager(c.t, c.bin, testsupport.Options{
		Name: name,
		Args: args,
		Env:  []string{"MESSAGER_REDIS_URL=" + c.redisURL, "MESSAGER_DATABASE_URL=" + c.dbURL, "MESSAGER_CONFIG=" + clusterConfig(c.t)},
	})
}

type user struct {
	token, code, name string
}

func call(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	st, data, err := tryCall(method, url, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return st, data
}

// tryCall is call for goroutines other than the test's: it returns the
// failure, since t.Fatal must be called from the test's own goroutine.
func tryCall(method, url, token string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, url, r)
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data, nil
}

func signUp(t *testing.T, p *testsupport.Process, name string) user {
	t.Helper()
	base := p.URL
	if st, b := call(t, "POST", base+"/api/v1/auth/register", "", map[string]string{"username": name, "email": name + "@example.com", "password": "password123"}); st != 201 {
		t.Fatalf("register %s: %d %s", name, st, b)
	}
	st, b := call(t, "POST", base+"/api/v1/auth/login", "", map[string]string{"username": name, "password": "password123"})
	if st != 200 {
		t.Fatalf("login %s: %d %s", name, st, b)
	}
	var lr struct {
		Token string
		User  struct{ Usercode string }
	}
	_ = json.Unmarshal(b, &lr)
	return user{token: lr.Token, code: lr.User.Usercode, name: name}
}

func send(t *testing.T, p *testsupport.Process, from user, to, body string) string {
	t.Helper()
	id, err := trySend(p, from, to, body)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// trySend is send for goroutines other than the test's (see tryCall).
func trySend(p *testsupport.Process, from user, to, body string) (string, error) {
	st, b, err := tryCall("POST", p.URL+"/api/v1/messages", from.token, map[string]string{"body": body, "to": to})
	if err != nil {
		return "", err
	}
	if st != 202 {
		return "", fmt.Errorf("send: %d %s", st, b)
	}
	var sr struct{ Message struct{ ID string } }
	_ = json.Unmarshal(b, &sr)
	return sr.Message.ID, nil
}

// listen opens a WebSocket for u on p and returns a channel of message ids.
func listen(t *testing.T, p *testsupport.Process, u user) <-chan string {
	t.Helper()
	ids, _ := listenAfter(t, p, u, "")
	return ids
}

// listenAfter opens a WebSocket for u on p resuming after the message id
// after (none when empty); hangUp closes it.
func listenAfter(t *testing.T, p *testsupport.Process, u user, after string) (ids <-chan string, hangUp func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws://" + p.Addr + "/api/v1/stream"
	if after != "" {
		url += "?after=" + after
	}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + u.token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	out := make(chan string, 10000)
	go func() {
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var f struct {
				Type    string
				Message struct{ ID string }
			}
			if json.Unmarshal(data, &f) == nil && f.Type == "message" {
				out <- f.Message.ID
			}
		}
	}()
	return out, func() { _ = c.CloseNow() }
}

func historyCounts(t *testing.T, p *testsupport.Process, u user) map[string]int {
	t.Helper()
	counts := map[string]int{}
	before := ""
	for {
		url := p.URL + "/api/v1/messages?limit=200"
		if before != "" {
			url += "&before=" + before
		}
		st, b := call(t, "GET", url, u.token, nil)
		if st != 200 {
			t.Fatalf("history: %d %s", st, b)
		}
		var page struct {
			Messages   []struct{ ID string }
			NextBefore *string `json:"next_before"`
		}
		_ = json.Unmarshal(b, &page)
		for _, m := range page.Messages {
			counts[m.ID]++
		}
		if page.NextBefore == nil {
			return counts
		}
		before = *page.NextBefore
	}
}

func newCluster(t *testing.T) *cluster {
	requireServices(t)
	c := &cluster{t: t, bin: testsupport.MessagerBinary(t), redisURL: testenv.Redis(t), dbURL: testenv.DatabaseURL(t)}
	cmd := exec.Command(c.bin, "migrate")
	cmd.Env = append(os.Environ(), "MESSAGER_DATABASE_URL="+c.dbURL)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	return c
}

// A user on pod A receives a message posted through pod B and persisted by
// a worker in a third process; with no worker the API still accepts and
// everything is delivered once a worker starts.
func TestCluster_DeliveryAcrossPodsAndWorkers(t *testing.T) {
	c := newCluster(t)
	apiA := c.start("api-a", "api")
	apiB := c.start("api-b", "api")
	worker := c.start("worker-1", "worker")
	alice, bob := signUp(t, apiA, "alice"), signUp(t, apiB, "bob")
	inbox := listen(t, apiA, alice)

	id := send(t, apiB, bob, alice.code, "across pods")
	select {
	case got := <-inbox:
		if got != id {
			t.Fatalf("got %s, want %s", got, id)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("alice on pod A did not receive bob's message posted on pod B")
	}

	worker.Stop(t)
	var queued []string
	start := time.Now()
	for i := 0; i < 30; i++ {
		queued = append(queued, send(t, apiB, bob, alice.code, fmt.Sprintf("queued %d", i)))
	}
	t.Logf("30 sends accepted with no worker running in %v", time.Since(start))
	c.start("worker-2", "worker")
	got := map[string]int{}
	deadline := time.After(30 * time.Second)
	for len(got) < len(queued) {
		select {
		case id := <-inbox:
			got[id]++
		case <-deadline:
			t.Fatalf("received %d of %d queued messages after a worker started", len(got), len(queued))
		}
	}
	hist := historyCounts(t, apiA, alice)
	for _, id := range append(queued, id) {
		if hist[id] != 1 {
			t.Fatalf("message %s is %d times in history", id, hist[id])
		}
	}
}

// A worker killed outright loses nothing: its tasks are taken up by another
// worker once asynq's lease runs out, all within two minutes, none twice.
func TestCluster_SIGKILLedWorkerLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's 30 s lease; skipped in -short mode")
	}
	c := newCluster(t)
	api := c.start("api", "api")
	victim := c.start("worker-victim", "worker")
	alice, bob := signUp(t, api, "alice2"), signUp(t, api, "bob2")
	inbox := listen(t, api, alice)

	const n = 400
	want, caught := burstAndKill(c, api, bob, alice, victim, n, 8, "kill")
	t.Logf("worker SIGKILLed holding %d active tasks", caught)
	c.start("worker-rescue", "worker")

	got := map[string]int{}
	deadline := time.After(2 * time.Minute)
	for len(got) < len(want) {
		select {
		case id := <-inbox:
			got[id]++
		case <-deadline:
			t.Fatalf("after 2 minutes alice received %d of %d messages", len(got), len(want))
		}
	}
	hist := historyCounts(t, api, alice)
	for id := range want {
		if hist[id] != 1 {
			t.Fatalf("message %s is %d times in history", id, hist[id])
		}
	}
}

// A client offline while a killed worker's tasks are re-leased — so their
// messages are saved after newer ids — resumes after the last message it
// saw and gets every one of them: nothing skipped, nothing twice.
func TestCluster_ResumeAfterWorkerKillSkipsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's 30 s lease; skipped in -short mode")
	}
	c := newCluster(t)
	api := c.start("api", "api")
	victim := c.start("worker-victim", "worker")
	alice, bob := signUp(t, api, "alice3"), signUp(t, api, "bob3")
	inbox, hangUp := listenAfter(t, api, alice, "")

	const n = 300
	want, caught := burstAndKill(c, api, bob, alice, victim, n, 6, "resume")
	// A second worker delivers what was still pending at once; the killed
	// worker's tasks wait for their lease to run out.
	c.start("worker-rescue", "worker")
	got := map[string]int{}
	last := ""
	for quiet := time.After(3 * time.Second); ; {
		select {
		case id := <-inbox:
			got[id]++
			last = id
			quiet = time.After(1500 * time.Millisecond)
			continue
		case <-quiet:
		}
		break
	}
	hangUp()
	t.Logf("worker SIGKILLed holding %d active tasks; alice saw %d of %d before going offline", caught, len(got), n)
	if last == "" {
		t.Fatal("alice received nothing before going offline")
	}
	// Offline, until every message is saved (the lease is 30 s).
	for deadline := time.Now().Add(2 * time.Minute); len(historyCounts(t, api, alice)) < n; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes %d of %d messages are in history", len(historyCounts(t, api, alice)), n)
		}
	}
	resumed, _ := listenAfter(t, api, alice, last)
	late := 0
	for deadline := time.After(30 * time.Second); len(got) < len(want); {
		select {
		case id := <-resumed:
			got[id]++
			late++
		case <-deadline:
			t.Fatalf("resumed after %s: %d of %d messages in all; %d came on resume", last, len(got), len(want), late)
		}
	}
	// Let any duplicate arrive before judging.
	for quiet := time.After(time.Second); ; {
		select {
		case id := <-resumed:
			got[id]++
			continue
		case <-quiet:
		}
		break
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("message %s arrived %d times", id, got[id])
		}
	}
	t.Logf("%d messages came on resume, saved after newer ids", late)
}

// burstAndKill has from send n DMs to to through api from senders
// goroutines, SIGKILLs victim (a worker) as soon as it holds active tasks
// (or after 20 s), waits for every send to be accepted and returns the
// accepted ids and how many tasks the worker held when it died.
func burstAndKill(c *cluster, api *testsupport.Process, from, to user, victim *testsupport.Process, n, senders int, label string) (want map[string]bool, caught int) {
	t := c.t
	t.Helper()
	opt, err := redis.ParseURL(c.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	inspector := asynq.NewInspectorFromRedisClient(rdb)

	ids := make(chan string, n)
	sendErrs := make(chan error, senders)
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for i := s; i < n; i += senders {
				id, err := trySend(api, from, to.code, fmt.Sprintf("%s %d", label, i))
				if err != nil {
					sendErrs <- err
					return
				}
				ids <- id
			}
		}(s)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && caught == 0; {
		if active, err := inspector.ListActiveTasks("direct"); err == nil {
			caught = len(active)
		}
	}
	victim.Kill(t)
	wg.Wait()
	close(ids)
	close(sendErrs)
	for err := range sendErrs {
		t.Fatal(err)
	}
	want = map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	return want, caught
}
