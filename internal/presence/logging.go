package presence

import (
	"context"
	"log/slog"

	"github.com/messager/messager/internal/auth"
)

type loggingService struct {
	logger *slog.Logger
	next   Service
}

// NewLoggingService logs failures; successful calls are in the access log.
func NewLoggingService(logger *slog.Logger, s Service) Service {
	return &loggingService{logger: logger.With("service", "presence"), next: s}
}

func (s *loggingService) Online(ctx context.Context, caller auth.Principal) ([]OnlineUser, error) {
	users, err := s.next.Online(ctx, caller)
	if err != nil {
		s.logger.WarnContext(ctx, "list online", "user_id", caller.UserID, "err", err)
	}
	return users, err
}

func (s *loggingService) Heartbeat(ctx context.Context, caller auth.Principal) error {
	err := s.next.Heartbeat(ctx, caller)
	if err != nil {
		s.logger.WarnContext(ctx, "heartbeat", "user_id", caller.UserID, "err", err)
	}
	return err
}
