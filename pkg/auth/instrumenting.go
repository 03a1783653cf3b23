package auth

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/messager/messager/pkg/storage"
)

type instrumentingService struct {
	events *prometheus.CounterVec
	next   Service
}

// NewInstrumentingService counts registrations and logins by outcome.
func NewInstrumentingService(reg prometheus.Registerer, s Service) Service {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "messager_auth_events_total",
		Help: "Registrations, logins and logouts by outcome (ok, conflict, denied, rate_limited, busy, error).",
	}, []string{"event", "outcome"})
	reg.MustRegister(events)
	return &instrumentingService{events: events, next: s}
}

func outcome(err error) string {
	var rl *RateLimitedError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUsernameTaken):
		return "conflict"
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrUnauthenticated):
		return "denied"
	case errors.As(err, &rl):
		return "rate_limited"
	case errors.Is(err, ErrBusy):
		return "busy"
	default:
		return "error"
	}
}

func (s *instrumentingService) Register(ctx context.Context, username, email, password, clientIP string) (storage.User, error) {
	u, err := s.next.Register(ctx, username, email, password, clientIP)
	s.events.WithLabelValues("register", outcome(err)).Inc()
	return u, err
}

func (s *instrumentingService) Login(ctx context.Context, username, password, clientIP string) (Session, error) {
	sess, err := s.next.Login(ctx, username, password, clientIP)
	s.events.WithLabelValues("login", outcome(err)).Inc()
	return sess, err
}

func (s *instrumentingService) Logout(ctx context.Context, token string) error {
	err := s.next.Logout(ctx, token)
	s.events.WithLabelValues("logout", outcome(err)).Inc()
	return err
}

func (s *instrumentingService) Authenticate(ctx context.Context, token string) (Principal, error) {
	return s.next.Authenticate(ctx, token)
}

func (s *instrumentingService) Me(ctx context.Context, p Principal) (storage.User, error) {
	return s.next.Me(ctx, p)
}
