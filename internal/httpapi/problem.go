package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/messager/messager/internal/validation"
)

// ContentTypeProblem is the media type of every error body.
const ContentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem details object. It is also an error, so
// services may return one directly when the status is theirs to choose.
type Problem struct {
	Type     string                  `json:"type"`
	Title    string                  `json:"title"`
	Status   int                     `json:"status"`
	Detail   string                  `json:"detail,omitempty"`
	Instance string                  `json:"instance,omitempty"`
	Errors   []validation.FieldError `json:"errors,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header (429, 503).
	RetryAfter time.Duration `json:"-"`
	// cause is logged for 5xx answers, never sent to the client.
	cause error
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Title)
}

// Unwrap exposes the internal cause to errors.Is/As.
func (p *Problem) Unwrap() error { return p.cause }

// NewProblem returns a problem with the standard title for status.
func NewProblem(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// Invalid returns a 422 naming each invalid field.
func Invalid(errs ...validation.FieldError) *Problem {
	p := NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields")
	p.Type = "https://messager.io/problems/validation"
	p.Errors = errs
	return p
}

// Unavailable returns a 503 for a dependency that did not answer.
func Unavailable(what string, cause error) *Problem {
	p := NewProblem(http.StatusServiceUnavailable, what+" is unavailable, try again shortly")
	p.RetryAfter = 2 * time.Second
	p.cause = cause
	return p
}

// Internal returns a 500 that hides cause from the client.
func Internal(cause error) *Problem {
	p := NewProblem(http.StatusInternalServerError, "an internal error occurred")
	p.cause = cause
	return p
}

// dependencyErrors are matched by FromError to answer 503; the process
// registers the errors of its Redis and database clients once at start.
type dependencyError struct {
	name  string
	match func(error) bool
}

// Classifier maps errors that no service owns (dependencies down, request
// cancelled) to problems. One is built at start-up and shared.
type Classifier struct {
	deps []dependencyError
}

// Dependency registers match as recognising errors of the dependency name,
// which are answered with 503.
func (c *Classifier) Dependency(name string, match func(error) bool) {
	c.deps = append(c.deps, dependencyError{name: name, match: match})
}

// Problem converts any error to the problem to send. A nil Classifier
// knows no dependencies but still answers.
func (c *Classifier) Problem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var ve validation.Errors
	if errors.As(err, &ve) {
		return Invalid(ve...)
	}
	var deps []dependencyError
	if c != nil {
		deps = c.deps
	}
	for _, d := range deps {
		if d.match(err) {
			return Unavailable(d.name, err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Unavailable("a dependency", err)
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; the status is never seen but is logged.
		p := NewProblem(499, "request cancelled")
		p.Title = "Client Closed Request"
		p.cause = err
		return p
	}
	return Internal(err)
}

// WriteProblem sends p as problem+json and logs the cause of 5xx answers.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Status >= 500 && p.cause != nil {
		slog.ErrorContext(r.Context(), "request failed", "status", p.Status, "error", p.cause, "request_id", RequestID(r.Context()))
	}
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	h := w.Header()
	h.Set("Content-Type", ContentTypeProblem)
	h.Set("Cache-Control", "no-store")
	if p.Status == http.StatusUnauthorized {
		// RFC 9110: a 401 names the scheme that would work.
		h.Set("WWW-Authenticate", `Bearer realm="messager"`)
	}
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((p.RetryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// WriteJSON sends v as application/json with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
