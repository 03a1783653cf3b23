package presence

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/messager/messager/internal/auth"
)

type onlineResponse struct {
	Online []OnlineUser `json:"online"`
}

func makeOnlineEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		p, ok := auth.PrincipalFrom(ctx)
		if !ok {
			return nil, auth.ErrUnauthenticated
		}
		users, err := s.Online(ctx, p)
		if err != nil {
			return nil, err
		}
		return onlineResponse{Online: users}, nil
	}
}

func makeHeartbeatEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		p, ok := auth.PrincipalFrom(ctx)
		if !ok {
			return nil, auth.ErrUnauthenticated
		}
		return nil, s.Heartbeat(ctx, p)
	}
}
