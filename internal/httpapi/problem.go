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

// dependencyError recognises the errors of one dependency (Redis, the
// database), which Classifier.Problem answers with 503.
type dependencyError struct {
	name  string
	match func(error) bool
}

// Classifier is the process's one error → problem mapping. Each service
// package registers its domain errors with it (Is, Match) and the process
// its dependencies (Dependency), once, before serving: internal/app
// errorClassifier assembles it. Every go-kit transport (KitOptions) and
// the auth middleware answer errors through Problem, so a domain error is
// answered the same wherever it surfaces. Registering is not safe
// concurrently with Problem.
type Classifier struct {
	rules []func(error) *Problem
	deps  []dependencyError
}

// Is registers the answer to the errors that are target (errors.Is): a
// problem with status and detail, and the standard title for status.
func (c *Classifier) Is(target error, status int, detail string) {
	c.Match(func(err error) *Problem {
		if !errors.Is(err, target) {
			return nil
		}
		return NewProblem(status, detail)
	})
}

// Match registers f, which returns a fresh problem for the errors it
// recognises and nil for any other. Rules are tried in the order they
// were registered, before anything else Problem knows.
func (c *Classifier) Match(f func(error) *Problem) {
	c.rules = append(c.rules, f)
}

// As returns a rule for Match that recognises the errors of type E
// (errors.As) and answers with the problem f makes of the one found: for
// error types that carry data, such as a Retry-After.
func As[E error](f func(E) *Problem) func(error) *Problem {
	return func(err error) *Problem {
		var target E
		if !errors.As(err, &target) {
			return nil
		}
		return f(target)
	}
}

// Dependency registers match as recognising errors of the dependency name,
// which are answered with 503.
func (c *Classifier) Dependency(name string, match func(error) bool) {
	c.deps = append(c.deps, dependencyError{name: name, match: match})
}

// Problem converts any error to the problem to send: a registered domain
// error as registered; a *Problem as is; validation.Errors as 422; a
// registered dependency's error, or a deadline, as 503; a cancelled
// request as 499 (logged, never seen); anything else as 500, its cause
// logged and hidden. A nil Classifier knows no registrations but still
// answers.
func (c *Classifier) Problem(err error) *Problem {
	var rules []func(error) *Problem
	var deps []dependencyError
	if c != nil {
		rules, deps = c.rules, c.deps
	}
	for _, rule := range rules {
		if p := rule(err); p != nil {
			return p
		}
	}
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var ve validation.Errors
	if errors.As(err, &ve) {
		return Invalid(ve...)
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
		ctx := context.Background()
		if r != nil {
			ctx = r.Context()
		}
		slog.ErrorContext(ctx, "request failed", "status", p.Status, "error", p.cause, "request_id", RequestID(ctx))
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

// NotFound answers 404 for a path nothing serves, in the one wording every
// router and the UI use; it is an http.HandlerFunc.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteProblem(w, r, NewProblem(http.StatusNotFound, "no such resource: "+r.URL.Path))
}

// MethodNotAllowed answers 405 for a method the path does not serve; the
// caller sets Allow first.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	WriteProblem(w, r, NewProblem(http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path))
}

// WriteJSON sends v as application/json with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
