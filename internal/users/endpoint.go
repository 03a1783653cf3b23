package users

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/messager/messager/internal/auth"
)

type searchRequest struct{ Q string }

type searchResponse struct {
	Users []Person `json:"users"`
}

func makeSearchEndpoint(s Service) endpoint.Endpoint {
	return auth.RequirePrincipal(func(ctx context.Context, p auth.Principal, request any) (any, error) {
		people, err := s.Search(ctx, p, request.(searchRequest).Q)
		if err != nil {
			return nil, err
		}
		return searchResponse{Users: people}, nil
	})
}

type getRequest struct{ Usercode string }

func makeGetEndpoint(s Service) endpoint.Endpoint {
	return auth.RequirePrincipal(func(ctx context.Context, p auth.Principal, request any) (any, error) {
		return s.Get(ctx, p, request.(getRequest).Usercode)
	})
}
