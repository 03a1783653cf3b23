package presence

import (
	"context"

	"github.com/messager/messager/internal/auth"
)

// Service is the presence use case seen by clients.
type Service interface {
	// Online lists everyone online except the caller.
	Online(ctx context.Context, caller auth.Principal) ([]OnlineUser, error)
	// Heartbeat keeps the caller online for another ttl.
	Heartbeat(ctx context.Context, caller auth.Principal) error
}

// State is the presence state the service reads and writes; *Tracker.
type State interface {
	Online(ctx context.Context) ([]OnlineUser, error)
	Touch(ctx context.Context, p auth.Principal) error
}

type service struct{ state State }

// NewService returns the presence service over state.
func NewService(state State) Service { return &service{state: state} }

func (s *service) Online(ctx context.Context, caller auth.Principal) ([]OnlineUser, error) {
	all, err := s.state.Online(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, u := range all {
		if u.ID != caller.UserID {
			out = append(out, u)
		}
	}
	return out, nil
}

func (s *service) Heartbeat(ctx context.Context, caller auth.Principal) error {
	return s.state.Touch(ctx, caller)
}
