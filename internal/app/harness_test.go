package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/testenv"
)

// backends are the Redis and database one test's processes share.
type backends struct {
	redisURL string
	dbURL    string
}

func newBackends(t *testing.T) backends {
	t.Helper()
	return backends{redisURL: testenv.Redis(t), dbURL: testenv.DatabaseURL(t)}
}

// startApp starts a process in mode on b and stops it at the end of the test.
func startApp(t *testing.T, mode Mode, b backends, mutate ...func(*config.Config)) *App {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return startAppLogging(t, mode, b, logger, mutate...)
}

// startAppLogging is startApp logging to logger.
func startAppLogging(t *testing.T, mode Mode, b backends, logger *slog.Logger, mutate ...func(*config.Config)) *App {
	t.Helper()
	return startAppOpts(t, mode, b, func(o *Options) { o.Logger = logger }, mutate...)
}

// startAppOpts is startApp with Options adjusted (a logger, pprof, ...).
func startAppOpts(t *testing.T, mode Mode, b backends, opts func(*Options), mutate ...func(*config.Config)) *App {
	t.Helper()
	cfg := config.Default()
	cfg.Spec.Redis.URL = b.redisURL
	cfg.Spec.Database.URL = b.dbURL
	cfg.Spec.DataDir = t.TempDir()
	cfg.Spec.HTTP.Addr = "127.0.0.1:0"
	cfg.Spec.Worker.ShutdownTimeout = config.Duration(2 * time.Second)
	// Every test client registers from 127.0.0.1; tests of the limit set it.
	cfg.Spec.Auth.RegisterRateLimit.PerIP = 1_000_000
	// Tests send as fast as they can from few users; the send limit is
	// pinned by the tests that turn it on (send_rules_test.go).
	cfg.Spec.Messaging.SendRateLimit.PerSecond = 0
	for _, m := range mutate {
		m(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Config: cfg, Mode: mode, Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Listener: ln, PasswordHasher: newFastHasher()}
	opts(&o)
	a, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("start %s: %v", mode, err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.Shutdown(ctx)
		})
	}
	t.Cleanup(stop)
	return a
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client is one signed-in user talking to one process.
type client struct {
	t        *testing.T
	base     string
	token    string
	user     auth.UserJSON
	password string
}

var userSeq atomic.Int64

// newUser registers and logs in a user with a unique name built from prefix.
func newUser(t *testing.T, a *App, prefix string) *client {
	t.Helper()
	name := fmt.Sprintf("%s%d", prefix, userSeq.Add(1))
	c := &client{t: t, base: "http://" + a.Addr(), password: "correct horse battery"}
	res, body := c.do("POST", "/api/v1/auth/register", map[string]string{"username": name, "email": name + "@example.com", "password": c.password})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("register %s: %d %s", name, res.StatusCode, body)
	}
	c.login(name)
	return c
}

func (c *client) login(name string) {
	c.t.Helper()
	res, body := c.do("POST", "/api/v1/auth/login", map[string]string{"username": name, "password": c.password})
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("login %s: %d %s", name, res.StatusCode, body)
	}
	var lr struct {
		Token string        `json:"token"`
		User  auth.UserJSON `json:"user"`
	}
	mustJSON(c.t, body, &lr)
	c.token, c.user = lr.Token, lr.User
}

// on returns a client for the same user talking to another process.
func (c *client) on(a *App) *client {
	cc := *c
	cc.base = "http://" + a.Addr()
	return &cc
}

func (c *client) do(method, path string, body any) (*http.Response, []byte) {
	c.t.Helper()
	res, data, err := c.request(method, path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res, data
}

// request is do for any goroutine: it returns what fails instead of
// failing the test, since t.Fatal must be called from the test's own
// goroutine.
func (c *client) request(method, path string, body any) (*http.Response, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, nil, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		return nil, nil, err
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res, data, nil
}

// send posts a message and returns it, failing unless the answer is 202.
func (c *client) send(to, body string) events.Message {
	c.t.Helper()
	m, err := c.trySend(to, body)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// trySend is send for goroutines other than the test's: it returns the
// failure for the test goroutine to report.
func (c *client) trySend(to, body string) (events.Message, error) {
	req := map[string]any{"body": body}
	if to != "" {
		req["to"] = to
	}
	res, data, err := c.request("POST", "/api/v1/messages", req)
	if err != nil {
		return events.Message{}, err
	}
	if res.StatusCode != http.StatusAccepted {
		return events.Message{}, fmt.Errorf("send: %d %s", res.StatusCode, data)
	}
	var sr struct {
		Message events.Message `json:"message"`
	}
	if err := json.Unmarshal(data, &sr); err != nil {
		return events.Message{}, fmt.Errorf("decode %q: %w", data, err)
	}
	return sr.Message, nil
}

// history pages through the user's whole history, newest first.
func (c *client) history() []events.Message {
	c.t.Helper()
	var all []events.Message
	before := ""
	for {
		path := "/api/v1/messages?limit=200"
		if before != "" {
			path += "&before=" + before
		}
		res, data := c.do("GET", path, nil)
		if res.StatusCode != http.StatusOK {
			c.t.Fatalf("history: %d %s", res.StatusCode, data)
		}
		var page struct {
			Messages   []events.Message `json:"messages"`
			NextBefore *string          `json:"next_before"`
		}
		mustJSON(c.t, data, &page)
		all = append(all, page.Messages...)
		if page.NextBefore == nil {
			return all
		}
		before = *page.NextBefore
	}
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
}

// frame is any server frame, decoded loosely.
type frame struct {
	Type      string          `json:"type"`
	Message   events.Message  `json:"message"`
	User      events.UserRef  `json:"user"`
	Online    bool            `json:"online"`
	MessageID string          `json:"message_id"`
	Reader    events.UserRef  `json:"reader"`
	Raw       json.RawMessage `json:"-"`
}

// wsStream is an open WebSocket with its frames collected in the background.
type wsStream struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan frame
	closed chan struct{}
	err    error
}

func (c *client) stream(after string) *wsStream {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := strings.Replace(c.base, "http://", "ws://", 1) + "/api/v1/stream"
	if after != "" {
		u += "?after=" + after
	}
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + c.token}}})
	if err != nil {
		c.t.Fatalf("dial stream: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	s := &wsStream{t: c.t, conn: conn, frames: make(chan frame, 100000), closed: make(chan struct{})}
	go func() {
		defer close(s.closed)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				s.err = err
				return
			}
			var f frame
			if err := json.Unmarshal(data, &f); err != nil {
				s.err = err
				return
			}
			f.Raw = data
			s.frames <- f
		}
	}()
	c.t.Cleanup(func() { _ = conn.CloseNow() })
	return s
}

// waitStreams waits until n users have a stream registered on a's hub. A
// stream registers before its upgrade is answered (stream.Hub.open), so a
// dialled stream already is; tests of the push path (its spans, a read
// receipt) check it first all the same, to fail here if that changes.
func waitStreams(t *testing.T, a *App, n int) {
	t.Helper()
	waitFor(t, func() bool { return len(a.hub.ConnectedUsers()) >= n }, fmt.Sprintf("%d streams to register", n))
}

func (s *wsStream) close() {
	_ = s.conn.Close(websocket.StatusNormalClosure, "")
	<-s.closed
}

// nextMessage waits for the next message frame, skipping other types.
func (s *wsStream) nextMessage(timeout time.Duration) (events.Message, bool) {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f := <-s.frames:
			if f.Type == events.TypeMessage {
				return f.Message, true
			}
		case <-deadline:
			return events.Message{}, false
		}
	}
}

// next waits for the next frame of type typ.
func (s *wsStream) next(typ string, timeout time.Duration) (frame, bool) {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f := <-s.frames:
			if f.Type == typ {
				return f, true
			}
		case <-deadline:
			return frame{}, false
		}
	}
}

// collect gathers message ids until want distinct ones arrived or the
// timeout passed, and returns how often each arrived, in arrival order.
func (s *wsStream) collect(want int, timeout time.Duration) (order []string, counts map[string]int) {
	counts = map[string]int{}
	deadline := time.After(timeout)
	for len(counts) < want {
		select {
		case f := <-s.frames:
			if f.Type == events.TypeMessage {
				if counts[f.Message.ID] == 0 {
					order = append(order, f.Message.ID)
				}
				counts[f.Message.ID]++
			}
		case <-deadline:
			return order, counts
		}
	}
	return order, counts
}

// quiet asserts no message frame arrives within d.
func (s *wsStream) quiet(d time.Duration) {
	s.t.Helper()
	if m, ok := s.nextMessage(d); ok {
		s.t.Fatalf("unexpected message %s %q", m.ID, m.Body)
	}
}

const deliveryTimeout = 20 * time.Second

type configT = config.Config

func durationT(d time.Duration) config.Duration { return config.Duration(d) }
