package auth

import (
	"context"
	"log/slog"
	"time"
)

// loggingService logs account events; the methods it does not declare
// (Me) pass through to the embedded Service.
type loggingService struct {
	logger *slog.Logger
	Service
}

// NewLoggingService logs account events (never passwords or tokens).
func NewLoggingService(logger *slog.Logger, s Service) Service {
	return &loggingService{logger: logger.With("service", "auth"), Service: s}
}

func (s *loggingService) Register(ctx context.Context, username, email, password, clientIP string) (u User, err error) {
	defer func(begin time.Time) {
		s.logger.InfoContext(ctx, "register", "username", username, "usercode", u.Usercode, "admin", u.Admin, "client_ip", clientIP, "took", time.Since(begin), "err", err)
	}(time.Now())
	return s.Service.Register(ctx, username, email, password, clientIP)
}

func (s *loggingService) Login(ctx context.Context, username, password, clientIP string) (sess Session, err error) {
	defer func(begin time.Time) {
		s.logger.InfoContext(ctx, "login", "username", username, "client_ip", clientIP, "took", time.Since(begin), "err", err)
	}(time.Now())
	return s.Service.Login(ctx, username, password, clientIP)
}

func (s *loggingService) Logout(ctx context.Context, token string) (err error) {
	defer func() {
		p, _ := PrincipalFrom(ctx)
		s.logger.InfoContext(ctx, "logout", "user_id", p.UserID, "err", err)
	}()
	return s.Service.Logout(ctx, token)
}

// Authenticate runs on every request; it is logged only when it fails for
// a reason other than a bad token, to keep access logs one line per request.
func (s *loggingService) Authenticate(ctx context.Context, token string) (Principal, error) {
	p, err := s.Service.Authenticate(ctx, token)
	if err != nil && err != ErrUnauthenticated {
		s.logger.WarnContext(ctx, "authenticate", "err", err)
	}
	return p, err
}
