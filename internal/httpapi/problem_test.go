package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/messager/messager/internal/validation"
)

// The 422 body is part of the API: clients read errors[].field and
// errors[].message, whichever package found the problem.
func TestWriteProblem_ValidationErrorsAreFieldAndMessage(t *testing.T) {
	var errs validation.Errors
	errs.Add("to", "must be a usercode")
	errs.Add("body", "must not be empty")
	var c *Classifier
	w := httptest.NewRecorder()
	WriteProblem(w, httptest.NewRequest(http.MethodPost, "/api/v1/messages", nil), c.Problem(errs.Err()))
	want := `{"type":"https://messager.io/problems/validation","title":"Unprocessable Entity","status":422,"detail":"the request has invalid fields","instance":"/api/v1/messages","errors":[{"field":"to","message":"must be a usercode"},{"field":"body","message":"must not be empty"}]}`
	if got := strings.TrimSpace(w.Body.String()); got != want || w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("got %d %s\nwant 422 %s", w.Code, got, want)
	}
}

type limitedError struct{ wait time.Duration }

func (e *limitedError) Error() string { return "limited" }

func TestClassifier_RegisteredDomainErrorsKeepTheirStatus(t *testing.T) {
	taken := errors.New("taken")
	first := errors.New("first")
	down := errors.New("down")
	var c Classifier
	c.Is(taken, http.StatusConflict, "that name is taken")
	c.Match(As(func(e *limitedError) *Problem {
		p := NewProblem(http.StatusTooManyRequests, "slow down")
		p.RetryAfter = e.wait
		return p
	}))
	c.Is(first, http.StatusNotFound, "registered first wins")
	c.Is(first, http.StatusGone, "registered second")
	c.Dependency("redis", func(err error) bool { return errors.Is(err, down) })
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		detail     string
		retryAfter time.Duration
	}{
		{"sentinel", taken, 409, "that name is taken", 0},
		{"wrapped sentinel", fmt.Errorf("register: %w", taken), 409, "that name is taken", 0},
		{"typed error carries its data", fmt.Errorf("send: %w", &limitedError{wait: 3 * time.Second}), 429, "slow down", 3 * time.Second},
		{"first registration wins", first, 404, "registered first wins", 0},
		{"dependency after the domain", down, 503, "redis is unavailable, try again shortly", 2 * time.Second},
		{"unregistered is internal", errors.New("boom"), 500, "an internal error occurred", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := c.Problem(tc.err)
			if p.Status != tc.status || p.Detail != tc.detail || p.RetryAfter != tc.retryAfter || p.Title != http.StatusText(tc.status) {
				t.Fatalf("got %d %q %q Retry-After %s, want %d %q Retry-After %s", p.Status, p.Title, p.Detail, p.RetryAfter, tc.status, tc.detail, tc.retryAfter)
			}
		})
	}
}

// WriteProblem fills in the instance: a registered answer must be a new
// problem each time, or one request's path would show in the next.
func TestClassifier_AnswersEachErrorWithAFreshProblem(t *testing.T) {
	taken := errors.New("taken")
	var c Classifier
	c.Is(taken, http.StatusConflict, "that name is taken")
	WriteProblem(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/first", nil), c.Problem(taken))
	w := httptest.NewRecorder()
	WriteProblem(w, httptest.NewRequest(http.MethodPost, "/second", nil), c.Problem(taken))
	if !strings.Contains(w.Body.String(), `"instance":"/second"`) {
		t.Fatalf("second answer: %s", w.Body)
	}
}
