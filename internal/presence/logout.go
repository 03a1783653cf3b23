package presence

import (
	"context"
	"log/slog"

	"github.com/messager/messager/internal/auth"
)

// EndOnLogout wraps svc so that a logout takes the user offline at once on
// every pod (the presence event is published to all of them), rather than
// when the login or the last heartbeat lapses. The logout itself never
// fails on presence: the session is gone either way, and the sweep takes
// the user offline within the ttl if Redis missed the end.
func EndOnLogout(svc auth.Service, t *Tracker, logger *slog.Logger) auth.Service {
	return logoutEnds{Service: svc, tracker: t, logger: logger}
}

type logoutEnds struct {
	auth.Service
	tracker *Tracker
	logger  *slog.Logger
}

func (s logoutEnds) Logout(ctx context.Context, token string) error {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		// Not through the HTTP middleware: resolve the token while it exists.
		var err error
		if p, err = s.Service.Authenticate(ctx, token); err != nil {
			return s.Service.Logout(ctx, token)
		}
	}
	if err := s.Service.Logout(ctx, token); err != nil {
		return err
	}
	if err := s.tracker.End(ctx, p); err != nil {
		s.logger.WarnContext(ctx, "presence on logout; the user goes offline when presence lapses", "user_id", p.UserID, "err", err)
	}
	return nil
}
