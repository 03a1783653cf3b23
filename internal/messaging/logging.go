package messaging

import (
	"context"
	"log/slog"
	"time"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/events"
)

// loggingService logs sends and failures; the methods it does not declare
// (Unread) pass through to the embedded Service.
type loggingService struct {
	logger *slog.Logger
	Service
}

// NewLoggingService logs sends (never bodies) and failures.
func NewLoggingService(logger *slog.Logger, s Service) Service {
	return &loggingService{logger: logger.With("service", "messaging"), Service: s}
}

func (s *loggingService) Send(ctx context.Context, sender auth.Principal, in SendInput) (m events.Message, created bool, err error) {
	defer func(begin time.Time) {
		level := slog.LevelDebug
		if err != nil {
			level = slog.LevelInfo
		}
		s.logger.Log(ctx, level, "send", "sender_id", sender.UserID, "message_id", m.ID, "broadcast", m.Broadcast, "created", created, "took", time.Since(begin), "err", err)
	}(time.Now())
	return s.Service.Send(ctx, sender, in)
}

func (s *loggingService) History(ctx context.Context, caller auth.Principal, before string, limit int) ([]events.Message, string, error) {
	msgs, next, err := s.Service.History(ctx, caller, before, limit)
	if err != nil {
		s.logger.InfoContext(ctx, "history", "user_id", caller.UserID, "err", err)
	}
	return msgs, next, err
}

func (s *loggingService) After(ctx context.Context, caller auth.Principal, after string, limit int) ([]events.Message, error) {
	msgs, err := s.Service.After(ctx, caller, after, limit)
	if err != nil {
		s.logger.InfoContext(ctx, "after", "user_id", caller.UserID, "err", err)
	}
	return msgs, err
}

func (s *loggingService) MarkRead(ctx context.Context, caller auth.Principal, id string) error {
	err := s.Service.MarkRead(ctx, caller, id)
	if err != nil {
		s.logger.InfoContext(ctx, "mark read", "user_id", caller.UserID, "message_id", id, "err", err)
	}
	return err
}
