package stream

import (
	"context"
	"log/slog"
	"time"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/events"
)

// SessionChecker tells which sessions no longer exist; see
// auth.RedisSessions.Ended. It must not extend the sessions it checks: an
// open stream is not activity that keeps a session alive.
type SessionChecker interface {
	Ended(ctx context.Context, sessionIDs []string) ([]string, error)
}

// EndSession closes every stream on this pod opened with the session
// sessionID (auth.SessionID of its token): WebSocket with close 4001
// "session ended", SSE with a final "end" event. Streams of the user's
// other sessions stay open.
func (h *Hub) EndSession(sessionID string) {
	for _, s := range h.streams.of(sessionID) {
		s.end(closeSessionEnded)
	}
}

// PublishSessionEnded tells every pod to close the streams of sessionID.
func (b *Bus) PublishSessionEnded(ctx context.Context, sessionID string) error {
	return b.Publish(ctx, events.NewSessionEnded(sessionID))
}

// SessionCheckInterval is how often WatchSessions looks for streams whose
// session expired: every ping interval, and at least twice per session
// lifetime, so a stream outlives its session by at most that long.
func SessionCheckInterval(pingEvery, sessionTTL time.Duration) time.Duration {
	every := pingEvery
	if half := sessionTTL / 2; half > 0 && half < every {
		every = half
	}
	return max(every, 100*time.Millisecond)
}

// WatchSessions closes, every interval until ctx ends, the streams whose
// session no longer exists. Logout reaches every pod at once on the bus;
// this catches the rest: expiry, deletion, and a revocation missed while
// pub/sub was down. When the check fails (Redis down) streams are left
// open: the stream is worth more than a check that could not be made.
func (h *Hub) WatchSessions(ctx context.Context, sessions SessionChecker, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids := h.streams.sessions()
		if len(ids) == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, every)
		ended, err := sessions.Ended(cctx, ids)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("checking the sessions of open streams", "err", err)
			}
			continue
		}
		for _, id := range ended {
			h.EndSession(id)
		}
	}
}

// EndStreamsOnLogout wraps svc so that a logout also ends the streams
// opened with the session: at once on this pod, and on the others through
// the bus. Were the bus down, the other pods' WatchSessions find the
// session gone at their next check.
func EndStreamsOnLogout(svc auth.Service, hub *Hub, bus *Bus, logger *slog.Logger) auth.Service {
	return logoutEndsStreams{Service: svc, hub: hub, bus: bus, logger: logger}
}

type logoutEndsStreams struct {
	auth.Service
	hub    *Hub
	bus    *Bus
	logger *slog.Logger
}

func (s logoutEndsStreams) Logout(ctx context.Context, token string) error {
	if err := s.Service.Logout(ctx, token); err != nil {
		return err
	}
	id := auth.SessionID(token)
	s.hub.EndSession(id)
	if err := s.bus.PublishSessionEnded(ctx, id); err != nil {
		s.logger.WarnContext(ctx, "announcing a logout to the other pods; they end its streams at their next session check", "err", err)
	}
	return nil
}
