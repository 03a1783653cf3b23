package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestWriteProblem_SetsRetryAfterRoundedUp(t *testing.T) {
	for _, tc := range []struct {
		retry time.Duration
		want  string
	}{
		{0, ""},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{time.Millisecond, "1"},
		{90 * time.Second, "90"},
	} {
		t.Run(tc.retry.String(), func(t *testing.T) {
			p := NewProblem(http.StatusTooManyRequests, "slow down")
			p.RetryAfter = tc.retry
			w := httptest.NewRecorder()
			WriteProblem(w, httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", nil), p)
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("status = %d", w.Code)
			}
			if got := w.Header().Get("Retry-After"); got != tc.want {
				t.Fatalf("Retry-After = %q, want %q", got, tc.want)
			}
			if ct := w.Header().Get("Content-Type"); ct != ContentTypeProblem {
				t.Fatalf("Content-Type = %q", ct)
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body["status"] != float64(429) || body["instance"] != "/api/v1/auth/login" || body["title"] != "Too Many Requests" {
				t.Fatalf("body = %v", body)
			}
			if _, leaked := body["RetryAfter"]; leaked {
				t.Fatalf("RetryAfter leaked into the body: %v", body)
			}
		})
	}
}

func TestUnavailable_Is503WithRetryAfterAndHidesCause(t *testing.T) {
	w := httptest.NewRecorder()
	WriteProblem(w, httptest.NewRequest(http.MethodGet, "/x", nil), Unavailable("redis", errors.New("dial tcp 10.1.2.3:6379: connection refused")))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "2" {
		t.Fatalf("status %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if strings.Contains(w.Body.String(), "10.1.2.3") {
		t.Fatalf("cause leaked to the client: %s", w.Body)
	}
}

func TestRecover_PanicBecomes500Problem(t *testing.T) {
	h := Recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret internal state")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != ContentTypeProblem {
		t.Fatalf("Content-Type = %q", ct)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != 500 || p.Instance != "/boom" {
		t.Fatalf("problem = %+v", p)
	}
	if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "goroutine") {
		t.Fatalf("panic value or stack sent to the client: %s", w.Body)
	}
}

func TestRecover_RepanicsErrAbortHandler(t *testing.T) {
	h := Recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler re-panicked", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

func TestWithRequestID_KeepsSaneIDAndReplacesBadOne(t *testing.T) {
	generated := regexp.MustCompile(`^[0-9a-f]{24}$`)
	for _, tc := range []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"none sent", "", false},
		{"sane id kept", "req-01.ABC_9", true},
		{"64 chars kept", strings.Repeat("a", 64), true},
		{"65 chars replaced", strings.Repeat("a", 65), false},
		{"space replaced", "abc def", false},
		{"header injection replaced", "abc\r\nSet-Cookie: x=1", false},
		{"non-ascii replaced", "abcé", false},
		{"slash replaced", "a/b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inCtx string
			h := WithRequestID(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				inCtx = RequestID(r.Context())
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.incoming != "" {
				r.Header.Set(HeaderRequestID, tc.incoming)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Header().Get(HeaderRequestID)
			if got != inCtx {
				t.Fatalf("header %q differs from context %q", got, inCtx)
			}
			if tc.keep {
				if got != tc.incoming {
					t.Fatalf("id = %q, want the incoming %q kept", got, tc.incoming)
				}
				return
			}
			if !generated.MatchString(got) {
				t.Fatalf("id = %q, want a fresh 24-hex id", got)
			}
		})
	}
}

func TestWithRequestID_FreshIDsDiffer(t *testing.T) {
	h := WithRequestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	seen := map[string]bool{}
	for range 100 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		id := w.Header().Get(HeaderRequestID)
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestClassifier_MapsDependencyErrorsTo503AndUnknownTo500(t *testing.T) {
	down := errors.New("redis down")
	var c Classifier
	c.Dependency("redis", func(err error) bool { return errors.Is(err, down) })
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"dependency", down, 503},
		{"wrapped dependency", errors.Join(errors.New("x"), down), 503},
		{"problem passes through", NewProblem(409, "taken"), 409},
		{"unknown is internal", errors.New("boom"), 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Problem(tc.err).Status; got != tc.want {
				t.Fatalf("status = %d, want %d", got, tc.want)
			}
		})
	}
}
