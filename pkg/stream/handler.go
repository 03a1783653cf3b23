package stream

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/messager/messager/pkg/auth"
	"github.com/messager/messager/pkg/events"
	"github.com/messager/messager/pkg/httpapi"
)

// Handler serves the stream endpoints for authenticated requests.
type Handler struct {
	hub       *Hub
	replay    Replayer
	logger    *slog.Logger
	pingEvery time.Duration
	origins   httpapi.Origins
	onOpen    func(context.Context, auth.Principal) error
}

// NewHandler returns the stream handlers. allowedOrigins are the extra
// browser origins allowed to open a WebSocket (the serving host always is);
// onOpen runs as each stream opens (presence marks the user online).
func NewHandler(hub *Hub, replay Replayer, logger *slog.Logger, allowedOrigins []string, pingEvery time.Duration, onOpen func(context.Context, auth.Principal) error) *Handler {
	if pingEvery <= 0 {
		pingEvery = 25 * time.Second
	}
	return &Handler{hub: hub, replay: replay, logger: logger, pingEvery: pingEvery, origins: httpapi.NewOrigins(allowedOrigins), onOpen: onOpen}
}

// WebSocket serves GET /api/v1/stream[?after=ID].
func (h *Handler) WebSocket(w http.ResponseWriter, r *http.Request) {
	p, after, ok := h.prepare(w, r, r.URL.Query().Get("after"))
	if ok {
		h.serveWebSocket(w, r, p.UserID, after)
	}
}

// Events serves GET /api/v1/events[?after=ID] as Server-Sent Events; the
// Last-Event-ID header, sent by EventSource on reconnect, wins over after.
func (h *Handler) Events(w http.ResponseWriter, r *http.Request) {
	after := r.URL.Query().Get("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		after = id
	}
	p, after, ok := h.prepare(w, r, after)
	if ok {
		h.serveSSE(w, r, p.UserID, after)
	}
}

func (h *Handler) prepare(w http.ResponseWriter, r *http.Request, after string) (auth.Principal, string, bool) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusUnauthorized, "sign in first"))
		return p, "", false
	}
	if after != "" {
		if !events.ValidID(after) {
			httpapi.WriteProblem(w, r, httpapi.Invalid(httpapi.FieldError{Field: "after", Message: "must be a message id"}))
			return p, "", false
		}
	}
	if h.onOpen != nil {
		if err := h.onOpen(r.Context(), p); err != nil {
			// Presence is best effort: the stream is worth more than the dot.
			h.logger.WarnContext(r.Context(), "presence on stream open", "user_id", p.UserID, "err", err)
		}
	}
	return p, after, true
}
