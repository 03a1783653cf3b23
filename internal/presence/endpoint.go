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
	return auth.RequirePrincipal(func(ctx context.Context, p auth.Principal, _ any) (any, error) {
		users, err := s.Online(ctx, p)
		if err != nil {
			return nil, err
		}
		return onlineResponse{Online: users}, nil
	})
}

func makeHeartbeatEndpoint(s Service) endpoint.Endpoint {
	return auth.RequirePrincipal(func(ctx context.Context, p auth.Principal, _ any) (any, error) {
		return nil, s.Heartbeat(ctx, p)
	})
}
