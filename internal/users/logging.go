package users

import (
	"context"
	"errors"
	"log/slog"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/validation"
)

// loggingService logs failures, embedding Service as every decorator
// does so that a method added to Service passes through.
type loggingService struct {
	logger *slog.Logger
	Service
}

// NewLoggingService logs failures that are not the caller's; successful
// calls are in the access log.
func NewLoggingService(logger *slog.Logger, s Service) Service {
	return &loggingService{logger: logger.With("service", "users"), Service: s}
}

func (s *loggingService) Search(ctx context.Context, caller auth.Principal, q string) ([]Person, error) {
	people, err := s.Service.Search(ctx, caller, q)
	if failed(err) {
		s.logger.WarnContext(ctx, "search users", "user_id", caller.UserID, "err", err)
	}
	return people, err
}

func (s *loggingService) Get(ctx context.Context, caller auth.Principal, usercode string) (Person, error) {
	p, err := s.Service.Get(ctx, caller, usercode)
	if failed(err) {
		s.logger.WarnContext(ctx, "get user", "user_id", caller.UserID, "err", err)
	}
	return p, err
}

// failed reports errors worth a log line: not bad input, not a limit.
func failed(err error) bool {
	var v validation.Errors
	var rl *SearchLimitedError
	return err != nil && !errors.Is(err, ErrNotFound) && !errors.As(err, &v) && !errors.As(err, &rl)
}
