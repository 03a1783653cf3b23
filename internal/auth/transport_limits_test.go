package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/messager/messager/internal/httpapi"
)

func TestAuthTransport_BusyHashingIs503WithRetryAfter(t *testing.T) {
	h := &gatedHasher{PasswordHasher: NewFastArgon2id(), started: make(chan struct{}, 10), release: make(chan struct{})}
	defer close(h.release)
	opts := testOptions()
	opts.HashSlots, opts.HashWait = 1, 50*time.Millisecond
	svc := NewService(newMemUsers(), newMemSessions(), newMemLimiter(), h, opts)
	errs := &httpapi.Classifier{}
	RegisterErrors(errs)
	handler := MakeHandler(svc, NewAuthenticator(svc, nil, errs), HandlerOptions{Errors: errs})
	go func() {
		r := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(`{"username":"held","email":"held@example.com","password":"correct horse"}`))
		r.Header.Set("Content-Type", "application/json")
		handler.ServeHTTP(httptest.NewRecorder(), r)
	}()
	<-h.started
	r := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(`{"username":"next","email":"next@example.com","password":"correct horse"}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	served := make(chan struct{})
	go func() { defer close(served); handler.ServeHTTP(w, r) }()
	select {
	case <-served:
	case <-h.started:
		t.Fatal("a second hash started while the only slot was held")
	case <-time.After(10 * time.Second):
		t.Fatal("no answer while the only hashing slot was held")
	}
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || w.Header().Get("Content-Type") != httpapi.ContentTypeProblem {
		t.Fatalf("register while the only hashing slot is held: %d, Retry-After %q, %s: %s", w.Code, w.Header().Get("Retry-After"), w.Header().Get("Content-Type"), w.Body)
	}
}

func TestAuthTransport_RateLimitIs429WithRetryAfter(t *testing.T) {
	opts := testOptions()
	opts.Register.PerIP = 1
	svc := NewService(newMemUsers(), newMemSessions(), newMemLimiter(), NewFastArgon2id(), opts)
	errs := &httpapi.Classifier{}
	RegisterErrors(errs)
	handler := MakeHandler(svc, NewAuthenticator(svc, nil, errs), HandlerOptions{Errors: errs})
	if w := post(t, handler, "/register", []byte(`{"username":"first","email":"f@example.com","password":"correct horse"}`)); w.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	w := post(t, handler, "/register", []byte(`{"username":"second","email":"s@example.com","password":"correct horse"}`))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "registrations") {
		t.Fatalf("second from one address: %d Retry-After %q: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}

func TestAuthTransport_ForeignOriginCannotRegisterOrLogIn(t *testing.T) {
	h, _ := newTestHandler()
	for _, path := range []string{"/register", "/login"} {
		r := httptest.NewRequest(http.MethodPost, "http://chat.local"+path, strings.NewReader(`{"username":"luis","email":"l@example.com","password":"correct horse"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", "https://evil.example")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || w.Header().Get("Content-Type") != httpapi.ContentTypeProblem || len(w.Result().Cookies()) != 0 {
			t.Fatalf("%s from a foreign origin: %d %s cookies %v", path, w.Code, w.Header().Get("Content-Type"), w.Result().Cookies())
		}
	}
}
