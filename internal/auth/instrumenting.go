package auth

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Auth events counted in messager_auth_events_total{event}. Failures that
// are not about the caller (the database down, no hashing slot) are not
// auth events: they show as 5xx/503 in the HTTP metrics.
const (
	EventRegister       = "register"        // an account was created
	EventLoginSucceeded = "login_succeeded" // a session was issued
	EventLoginFailed    = "login_failed"    // wrong username or password
	EventLoginLimited   = "login_limited"   // refused by a login rate limit
	EventLogout         = "logout"          // a session was ended
)

// instrumentingService counts auth events; the methods it does not
// declare (Authenticate, Me) pass through to the embedded Service.
type instrumentingService struct {
	events map[string]prometheus.Counter
	Service
}

// NewInstrumentingService counts registrations, logins by result and
// logouts, every event's series created at zero so that increase() sees
// the first one.
func NewInstrumentingService(reg prometheus.Registerer, s Service) Service {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "messager_auth_events_total",
		Help: "Auth events: register, login_succeeded, login_failed (wrong credentials), login_limited (rate limited), logout.",
	}, []string{"event"})
	reg.MustRegister(vec)
	events := map[string]prometheus.Counter{}
	for _, e := range []string{EventRegister, EventLoginSucceeded, EventLoginFailed, EventLoginLimited, EventLogout} {
		events[e] = vec.WithLabelValues(e)
	}
	return &instrumentingService{events: events, Service: s}
}

func (s *instrumentingService) Register(ctx context.Context, username, email, password, clientIP string) (User, error) {
	u, err := s.Service.Register(ctx, username, email, password, clientIP)
	if err == nil {
		s.events[EventRegister].Inc()
	}
	return u, err
}

func (s *instrumentingService) Login(ctx context.Context, username, password, clientIP string) (Session, error) {
	sess, err := s.Service.Login(ctx, username, password, clientIP)
	var rl *RateLimitedError
	switch {
	case err == nil:
		s.events[EventLoginSucceeded].Inc()
	case errors.Is(err, ErrInvalidCredentials):
		s.events[EventLoginFailed].Inc()
	case errors.As(err, &rl):
		s.events[EventLoginLimited].Inc()
	}
	return sess, err
}

func (s *instrumentingService) Logout(ctx context.Context, token string) error {
	err := s.Service.Logout(ctx, token)
	if err == nil {
		s.events[EventLogout].Inc()
	}
	return err
}
