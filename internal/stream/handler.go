package stream

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/httpapi"
	"github.com/messager/messager/internal/validation"
)

// Handler serves the stream endpoints for authenticated requests.
type Handler struct {
	hub       *Hub
	replay    Replayer
	logger    *slog.Logger
	pingEvery time.Duration
	origins   httpapi.Origins
	onOpen    func(context.Context, auth.Principal) error
	// onLastClose runs when a user's last stream on this pod has ended.
	onLastClose func(context.Context, auth.Principal) error
	// maxPerUser caps one user's streams on this pod; 0: no cap.
	maxPerUser int
	// writeErrors counts failed writes by transport (WithHandlerMetrics).
	writeErrors map[string]prometheus.Counter
}

// HandlerOption configures a Handler.
type HandlerOption func(*Handler)

// WithMaxStreamsPerUser refuses, with 429, a stream that would give one
// user more than n open streams on this pod (spec.http.maxStreamsPerUser).
func WithMaxStreamsPerUser(n int) HandlerOption {
	return func(h *Handler) { h.maxPerUser = n }
}

// WithOnLastClose runs fn when a stream ends and its user has no other
// stream left on this pod (presence starts the user's offline grace).
// fn must not block for long: it runs as the stream's goroutine ends.
func WithOnLastClose(fn func(context.Context, auth.Principal) error) HandlerOption {
	return func(h *Handler) { h.onLastClose = fn }
}

// NewHandler returns the stream handlers. allowedOrigins are the extra
// browser origins allowed to open a WebSocket (the serving host always is);
// onOpen runs as each stream opens, once every check has passed (presence
// marks the user online).
func NewHandler(hub *Hub, replay Replayer, logger *slog.Logger, allowedOrigins []string, pingEvery time.Duration, onOpen func(context.Context, auth.Principal) error, opts ...HandlerOption) *Handler {
	if pingEvery <= 0 {
		pingEvery = 25 * time.Second
	}
	h := &Handler{hub: hub, replay: replay, logger: logger, pingEvery: pingEvery, origins: httpapi.NewOrigins(allowedOrigins), onOpen: onOpen}
	for _, o := range opts {
		o(h)
	}
	return h
}

// WebSocket serves GET /api/v1/stream[?after=ID].
func (h *Handler) WebSocket(w http.ResponseWriter, r *http.Request) {
	// A browser sends the session cookie with a cross-site upgrade, and a
	// WebSocket is not subject to CORS: the Origin check is the guard.
	if !h.origins.Allowed(r) {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusForbidden, "cross-origin WebSocket refused: the Origin is not allowed"))
		return
	}
	p, after, s, ok := h.prepare(w, r, r.URL.Query().Get("after"))
	if ok {
		h.serveWebSocket(w, r, p, startAt(r.Context(), h.replay, p.UserID, after), s)
	}
}

// Events serves GET /api/v1/events[?after=ID] as Server-Sent Events; the
// Last-Event-ID header, sent by EventSource on reconnect, wins over after.
func (h *Handler) Events(w http.ResponseWriter, r *http.Request) {
	after := r.URL.Query().Get("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		after = id
	}
	p, after, s, ok := h.prepare(w, r, after)
	if ok {
		h.serveSSE(w, r, p, startAt(r.Context(), h.replay, p.UserID, after), s)
	}
}

// prepare makes every check that can refuse the stream and takes its
// slot. The stream counts (opened) only once it is open, so a refused
// stream never marks its user online. The caller must release the slot.
func (h *Handler) prepare(w http.ResponseWriter, r *http.Request, after string) (auth.Principal, string, *slot, bool) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusUnauthorized, "sign in first"))
		return p, "", nil, false
	}
	if after != "" {
		if !events.ValidID(after) {
			httpapi.WriteProblem(w, r, httpapi.Invalid(validation.FieldError{Field: "after", Message: "must be a message id"}))
			return p, "", nil, false
		}
	}
	s, ok := h.hub.streams.take(p.UserID, auth.SessionID(auth.TokenFrom(r.Context())), h.maxPerUser)
	if !ok {
		// The new stream is refused rather than the oldest closed: a
		// client stuck in a reconnect loop then cannot evict the user's
		// working tabs one after the other.
		pr := httpapi.NewProblem(http.StatusTooManyRequests, fmt.Sprintf("this account already has %d streams open on this server, the most allowed; close one first", h.maxPerUser))
		pr.RetryAfter = 10 * time.Second
		httpapi.WriteProblem(w, r, pr)
		return p, "", nil, false
	}
	return p, after, s, true
}

// openStream registers p's new stream on the hub before its client is told
// it is open (Hub.open), or answers 503 and returns nil when the server is
// shutting down.
func (h *Handler) openStream(w http.ResponseWriter, r *http.Request, p auth.Principal, transport string) *Conn {
	c := h.hub.open(p.UserID, transport)
	if c == nil {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusServiceUnavailable, "the server is shutting down; reconnect"))
	}
	return c
}

// opened counts a stream that is open: the upgrade succeeded, or the SSE
// headers are out.
func (h *Handler) opened(ctx context.Context, p auth.Principal) {
	if h.onOpen == nil {
		return
	}
	if err := h.onOpen(ctx, p); err != nil {
		// Presence is best effort: the stream is worth more than the dot.
		h.logger.WarnContext(ctx, "presence on stream open", "user_id", p.UserID, "err", err)
	}
}

// closed runs onLastClose when p's last stream on this pod has ended. Two
// streams ending at once may both run it; a stream opening meanwhile
// renews presence at the next lease renewal, well within the grace.
func (h *Handler) closed(p auth.Principal) {
	if h.onLastClose == nil || h.hub.connected(p.UserID) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.onLastClose(ctx, p); err != nil {
		h.logger.Warn("presence on stream close", "user_id", p.UserID, "err", err)
	}
}
