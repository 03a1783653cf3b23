package presence

import (
	"context"
	"log/slog"

	"github.com/messager/messager/internal/auth"
)

// loggingService logs presence failures, embedding Service as every
// decorator does so that a method added to Service passes through.
type loggingService struct {
	logger *slog.Logger
	Service
}

// NewLoggingService logs failures; successful calls are in the access log.
func NewLoggingService(logger *slog.Logger, s Service) Service {
	return &loggingService{logger: logger.With("service", "presence"), Service: s}
}

func (s *loggingService) Online(ctx context.Context, caller auth.Principal) ([]OnlineUser, error) {
	users, err := s.Service.Online(ctx, caller)
	if err != nil {
		s.logger.WarnContext(ctx, "list online", "user_id", caller.UserID, "err", err)
	}
	return users, err
}

func (s *loggingService) Heartbeat(ctx context.Context, caller auth.Principal) error {
	err := s.Service.Heartbeat(ctx, caller)
	if err != nil {
		s.logger.WarnContext(ctx, "heartbeat", "user_id", caller.UserID, "err", err)
	}
	return err
}
