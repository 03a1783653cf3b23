// Command crosspod proves, on a cluster from test/cluster/up, that chat
// works across api pods behind the api Service: one user streams on a
// WebSocket (held by one pod), the other sends DMs over fresh connections
// (kube-proxy spreads them over both pods) until sends have been accepted by
// the pod that does NOT hold the stream, then a broadcast; every message must
// arrive on the stream exactly once. Which pod accepted each send is read
// from the pods' own request counters on their metrics ports (pod IPs: the
// Service itself is what is under test, the metrics port is only a witness).
//
//	go run ./test/cluster/crosspod --base http://10.96.0.10:80 \
//	    --pod api-a=http://10.244.0.5:9091 --pod api-b=http://10.244.0.6:9091
//
// It exits 0 only when both pods accepted sends, the stream pod is known,
// and every accepted message arrived exactly once.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// pod is one api pod and its metrics endpoint.
type pod struct{ name, metrics string }

type podFlags []pod

func (p *podFlags) String() string { return fmt.Sprint(*p) }
func (p *podFlags) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("want name=http://ip:port, got %q", v)
	}
	*p = append(*p, pod{name, strings.TrimRight(url, "/")})
	return nil
}

func main() {
	var pods podFlags
	base := flag.String("base", "", "api Service base URL (http://clusterIP:port)")
	flag.Var(&pods, "pod", "api pod as name=metrics-URL (repeat for each pod)")
	minOther := flag.Int("min-cross", 3, "sends the non-stream pod must accept")
	maxSends := flag.Int("max-sends", 80, "give up after this many DMs")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("crosspod: ")
	if *base == "" || len(pods) < 2 {
		log.Fatal("need --base and at least two --pod")
	}
	if err := run(strings.TrimRight(*base, "/"), pods, *minOther, *maxSends); err != nil {
		log.Printf("FAIL: %v", err)
		os.Exit(1)
	}
}

func run(base string, pods []pod, minOther, maxSends int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sfx := randomHex(4)
	alice, err := signUp(ctx, base, "xa"+sfx)
	if err != nil {
		return err
	}
	bob, err := signUp(ctx, base, "xb"+sfx)
	if err != nil {
		return err
	}

	before, err := gaugeByPod(ctx, pods, "messager_stream_connections")
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+alice.token)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/stream",
		&websocket.DialOptions{HTTPHeader: h, HTTPClient: freshClient()})
	if err != nil {
		return fmt.Errorf("alice's WebSocket: %w", err)
	}
	defer func() { _ = ws.CloseNow() }()
	got := newReceived()
	readDone := make(chan error, 1)
	go func() { readDone <- got.read(ctx, ws) }() // ends when ws is closed (deferred) or ctx ends

	streamPod, err := whereStreamOpened(ctx, pods, before)
	if err != nil {
		return err
	}
	log.Printf("alice's WebSocket is held by %s", streamPod)

	// Fresh TCP connections: kube-proxy picks an endpoint per connection.
	var ids []string
	perPod := map[string]int{}
	for i := 0; i < maxSends && (perPod[streamPod] == 0 || otherSends(perPod, streamPod) < minOther); i++ {
		c0, err := sendsByPod(ctx, pods)
		if err != nil {
			return err
		}
		id, err := send(ctx, base, bob.token, alice.code, fmt.Sprintf("cross-pod DM %d", i), "x-"+sfx+"-"+strconv.Itoa(i))
		if err != nil {
			return err
		}
		ids = append(ids, id)
		c1, err := sendsByPod(ctx, pods)
		if err != nil {
			return err
		}
		for _, p := range pods {
			if c1[p.name] > c0[p.name] {
				perPod[p.name]++
			}
		}
	}
	if perPod[streamPod] == 0 || otherSends(perPod, streamPod) < minOther {
		return fmt.Errorf("after %d DMs the sends landed %v: the Service did not spread connections over both pods", len(ids), perPod)
	}
	bid, err := send(ctx, base, bob.token, "", "cross-pod broadcast", "x-"+sfx+"-all")
	if err != nil {
		return err
	}
	ids = append(ids, bid)

	// Every message once; then a quiet second in which no duplicate may arrive.
	deadline := time.Now().Add(20 * time.Second)
	for !got.hasAll(ids) && time.Now().Before(deadline) {
		select {
		case err := <-readDone:
			return fmt.Errorf("alice's stream ended early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	time.Sleep(time.Second)
	missing, dup := got.check(ids)
	if missing > 0 || dup > 0 {
		return fmt.Errorf("%d messages sent (accepted per pod %v): %d missing, %d duplicated on the stream", len(ids), perPod, missing, dup)
	}
	log.Printf("ok: stream on %s; %d DMs (accepted per pod %v) and 1 broadcast arrived exactly once", streamPod, len(ids)-1, perPod)
	return nil
}

func otherSends(perPod map[string]int, streamPod string) int {
	n := 0
	for p, c := range perPod {
		if p != streamPod {
			n += c
		}
	}
	return n
}

// freshClient opens a new connection for every request.
func freshClient() *http.Client {
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
}

type user struct{ token, code string }

func signUp(ctx context.Context, base, name string) (user, error) {
	pw := "Cx9!" + randomHex(8)
	if _, err := call(ctx, base, "POST", "/api/v1/auth/register", "", map[string]string{
		"username": name, "email": name + "@example.com", "password": pw}); err != nil {
		return user{}, err
	}
	b, err := call(ctx, base, "POST", "/api/v1/auth/login", "", map[string]string{"username": name, "password": pw})
	if err != nil {
		return user{}, err
	}
	var out struct {
		Token string `json:"token"`
		User  struct {
			Usercode string `json:"usercode"`
		} `json:"user"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		return user{}, fmt.Errorf("login %s: %q", name, b)
	}
	return user{out.Token, out.User.Usercode}, nil
}

func send(ctx context.Context, base, token, to, body, clientID string) (string, error) {
	b, err := call(ctx, base, "POST", "/api/v1/messages", token, map[string]string{"to": to, "body": body, "client_id": clientID})
	if err != nil {
		return "", err
	}
	var out struct {
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Message.ID == "" {
		return "", fmt.Errorf("send: answer without a message id: %q", b)
	}
	return out.Message.ID, nil
}

func call(ctx context.Context, base, method, path, token string, in any) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := freshClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, b)
	}
	return b, nil
}

// whereStreamOpened waits until exactly one pod's open-stream gauge rose.
func whereStreamOpened(ctx context.Context, pods []pod, before map[string]float64) (string, error) {
	for i := 0; i < 50; i++ {
		now, err := gaugeByPod(ctx, pods, "messager_stream_connections")
		if err != nil {
			return "", err
		}
		var rose []string
		for _, p := range pods {
			if now[p.name] > before[p.name] {
				rose = append(rose, p.name)
			}
		}
		if len(rose) == 1 {
			return rose[0], nil
		}
		if len(rose) > 1 {
			return "", fmt.Errorf("streams opened on %v at once: is something else connected?", rose)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.New("no pod reports alice's stream (messager_stream_connections)")
}

func gaugeByPod(ctx context.Context, pods []pod, name string) (map[string]float64, error) {
	return sumByPod(ctx, pods, func(line string) bool { return strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") })
}

// sendsByPod reads each pod's accepted or answered POST /api/v1/messages count.
func sendsByPod(ctx context.Context, pods []pod) (map[string]float64, error) {
	return sumByPod(ctx, pods, func(line string) bool {
		return strings.HasPrefix(line, "messager_http_requests_total{") &&
			strings.Contains(line, `method="POST"`) && strings.Contains(line, `route="/api/v1/messages"`)
	})
}

func sumByPod(ctx context.Context, pods []pod, match func(string) bool) (map[string]float64, error) {
	out := map[string]float64{}
	for _, p := range pods {
		req, err := http.NewRequestWithContext(ctx, "GET", p.metrics+"/metrics", nil)
		if err != nil {
			return nil, err
		}
		resp, err := freshClient().Do(req)
		if err != nil {
			return nil, fmt.Errorf("metrics of %s: %w", p.name, err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("metrics of %s: %w", p.name, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if !match(line) {
				continue
			}
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				return nil, fmt.Errorf("metrics of %s: %q: %w", p.name, line, err)
			}
			out[p.name] += v
		}
	}
	return out, nil
}

// received counts message ids seen on a stream.
type received struct {
	mu sync.Mutex
	n  map[string]int
}

func newReceived() *received { return &received{n: map[string]int{}} }

func (r *received) read(ctx context.Context, ws *websocket.Conn) error {
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		// A frame holds one event, or several separated by newlines.
		dec := json.NewDecoder(bytes.NewReader(b))
		for {
			var ev struct {
				Type    string `json:"type"`
				Message struct {
					ID string `json:"id"`
				} `json:"message"`
			}
			if dec.Decode(&ev) != nil {
				break
			}
			if ev.Type == "message" {
				r.mu.Lock()
				r.n[ev.Message.ID]++
				r.mu.Unlock()
			}
		}
	}
}

func (r *received) hasAll(ids []string) bool {
	missing, _ := r.check(ids)
	return missing == 0
}

func (r *received) check(ids []string) (missing, dup int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		switch n := r.n[id]; {
		case n == 0:
			missing++
		case n > 1:
			dup++
		}
	}
	return missing, dup
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
