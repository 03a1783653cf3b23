package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// apiTimeout bounds one API call; streams are bounded by the run context.
const apiTimeout = 30 * time.Second

// client speaks messager's public HTTP API. One http.Client (one pool of
// keep-alive connections) is shared by every simulated user.
type client struct {
	base string // target without trailing slash
	hc   *http.Client
	errs *errorCounts
}

func newClient(target string, maxConns int) *client {
	tr := &http.Transport{
		Proxy:               nil, // a benchmark talks to its target, never through a proxy
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &client{
		base: strings.TrimRight(target, "/"),
		hc:   &http.Client{Transport: tr},
		errs: &errorCounts{},
	}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// statusError is a non-2xx answer.
type statusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// errKey is the key under which err is counted in the report's errors.
func errKey(err error) string {
	var se *statusError
	if errors.As(err, &se) {
		return strconv.Itoa(se.Status)
	}
	return "net"
}

// do sends one JSON request and decodes a JSON answer into out (when not
// nil). A status outside 2xx is a *statusError.
func (c *client) do(ctx context.Context, method, path, token string, in, out any) (int, error) {
	return c.doKeyed(ctx, method, path, token, "", in, out)
}

// doKeyed is do with an Idempotency-Key header when key is not empty: for
// a request the API makes idempotent by a key in its body (a send's
// client_id), so that net/http resends it, as browsers do, when a reused
// keep-alive connection turns out to have been closed by the server
// before it answered (a pod shutting down closes its idle connections,
// and a request may already be on its way over one).
func (c *client) doKeyed(ctx context.Context, method, path, token, key string, in, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_, _ = io.Copy(io.Discard, resp.Body) // drain so the connection is reused
		return resp.StatusCode, &statusError{Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// apiUser is the user JSON of the auth endpoints (only what the tool uses;
// the id's type is the server's business).
type apiUser struct {
	Username string `json:"username"`
	Usercode string `json:"usercode"`
}

type registerReq struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

type loginReq struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResp struct {
	Token string  `json:"token"`
	User  apiUser `json:"user"`
}

func (c *client) register(ctx context.Context, username, email, password string) (apiUser, error) {
	var out struct {
		User apiUser `json:"user"`
	}
	_, err := c.do(ctx, http.MethodPost, "/api/v1/auth/register", "", registerReq{username, email, password}, &out)
	return out.User, err
}

func (c *client) login(ctx context.Context, username, password string) (loginResp, error) {
	var out loginResp
	_, err := c.do(ctx, http.MethodPost, "/api/v1/auth/login", "", loginReq{username, password}, &out)
	if err == nil && out.Token == "" {
		err = errors.New("login: answer has no token")
	}
	return out, err
}

// presenceOnline returns the usercodes the server reports online.
func (c *client) presenceOnline(ctx context.Context, token string) (map[string]bool, error) {
	var out struct {
		Online []struct {
			Usercode string `json:"usercode"`
		} `json:"online"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/api/v1/presence", token, nil, &out); err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(out.Online))
	for _, u := range out.Online {
		m[u.Usercode] = true
	}
	return m, nil
}

type sendReq struct {
	Body     string `json:"body"`
	To       string `json:"to,omitempty"`
	ClientID string `json:"client_id"`
}

// send posts one message and returns the id from the answer (202, or 200
// for an idempotent repeat).
func (c *client) send(ctx context.Context, token string, r sendReq) (string, error) {
	var out struct {
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	if _, err := c.doKeyed(ctx, http.MethodPost, "/api/v1/messages", token, r.ClientID, r, &out); err != nil {
		return "", err
	}
	if out.Message.ID == "" {
		return "", errors.New("POST /api/v1/messages: answer has no message id")
	}
	return out.Message.ID, nil
}

// historyPage is one GET /api/v1/messages answer (ids only).
type historyPage struct {
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
	NextBefore *string `json:"next_before"`
}

func (c *client) history(ctx context.Context, token string, limit int, before string) (historyPage, error) {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(limit))
	if before != "" {
		q.Set("before", before)
	}
	var out historyPage
	_, err := c.do(ctx, http.MethodGet, "/api/v1/messages?"+q.Encode(), token, nil, &out)
	return out, err
}

// metrics fetches the server's Prometheus text exposition from url.
func (c *client) metrics(ctx context.Context, url string) (string, error) {
	return fetchMetrics(ctx, c.hc, url)
}

// metricValue returns the sum of every sample of the metric name in a
// Prometheus text exposition (all label sets), and whether any was found.
func metricValue(text, name string) (float64, bool) {
	var sum float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		case strings.HasPrefix(rest, " "), strings.HasPrefix(rest, "\t"):
		default:
			continue // a longer name with this prefix
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || math.IsNaN(v) {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}

// strongPassword is long, random and mixes every character class, so it
// passes any reasonable password policy.
func strongPassword() string { return "Bx9!" + randomHex(12) + "-Qz" }
