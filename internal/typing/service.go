package typing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/validation"
)

// ErrUnknownRecipient says no account has the usercode typed to.
var ErrUnknownRecipient = errors.New("no user has that usercode")

// Interval is the shortest time between two typing events from one sender
// to one recipient; signals in between are dropped (and still succeed).
const Interval = 2 * time.Second

// Service relays typing signals.
type Service interface {
	// Typing tells the user with usercode to, on their open streams, that
	// the caller is typing to them, unless the caller did so less than
	// Interval ago. An unknown usercode is ErrUnknownRecipient; a
	// malformed one, or the caller's own, a validation.Errors.
	Typing(ctx context.Context, caller auth.Principal, to string) error
}

// Directory finds recipients; *storage.Users or a cache of it.
type Directory interface {
	ByUsercode(ctx context.Context, code string) (storage.User, error)
}

// Gate lets one event per key through every interval.
type Gate interface {
	// Allow reports whether key passed fewer than every ago, and if so
	// counts this pass.
	Allow(ctx context.Context, key string, every time.Duration) (bool, error)
}

// Publisher sends an event to every pod; *stream.Bus.
type Publisher interface {
	Publish(ctx context.Context, env events.Envelope) error
}

type service struct {
	users Directory
	gate  Gate
	pub   Publisher
}

// NewService returns the typing service.
func NewService(users Directory, gate Gate, pub Publisher) Service {
	return &service{users: users, gate: gate, pub: pub}
}

func (s *service) Typing(ctx context.Context, caller auth.Principal, to string) error {
	code := strings.ToUpper(strings.TrimSpace(to))
	var errs validation.Errors
	switch {
	case !auth.ValidUsercode(code):
		errs.Add("to", "must be a 6-character usercode (A–Z, 0–9)")
	case code == caller.Usercode:
		errs.Add("to", "must be someone else's usercode")
	}
	if err := errs.Err(); err != nil {
		return err
	}
	u, err := s.users.ByUsercode(ctx, code)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrUnknownRecipient
	}
	if err != nil {
		return err
	}
	ok, err := s.gate.Allow(ctx, fmt.Sprintf("%d:%d", caller.UserID, u.ID), Interval)
	if err != nil || !ok {
		return err
	}
	env, err := events.NewTyping(events.UserRef{Usercode: caller.Usercode, Username: caller.Username}, u.ID)
	if err != nil {
		return err
	}
	return s.pub.Publish(ctx, env)
}

// RedisGate is a Gate on Redis: one SET NX with an expiry per pass, so
// every api pod shares the same gate.
type RedisGate struct{ rdb redis.UniversalClient }

// NewRedisGate returns a gate on rdb.
func NewRedisGate(rdb redis.UniversalClient) *RedisGate { return &RedisGate{rdb: rdb} }

// Allow implements Gate.
func (g *RedisGate) Allow(ctx context.Context, key string, every time.Duration) (bool, error) {
	ok, err := g.rdb.SetNX(ctx, "messager:typing:"+key, 1, every).Result()
	if err != nil {
		return false, fmt.Errorf("typing gate: %w", err)
	}
	return ok, nil
}
