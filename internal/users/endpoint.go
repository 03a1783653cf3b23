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
	return func(ctx context.Context, request any) (any, error) {
		p, ok := auth.PrincipalFrom(ctx)
		if !ok {
			return nil, auth.ErrUnauthenticated
		}
		people, err := s.Search(ctx, p, request.(searchRequest).Q)
		if err != nil {
			return nil, err
		}
		return searchResponse{Users: people}, nil
	}
}

type getRequest struct{ Usercode string }

func makeGetEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		p, ok := auth.PrincipalFrom(ctx)
		if !ok {
			return nil, auth.ErrUnauthenticated
		}
		return s.Get(ctx, p, request.(getRequest).Usercode)
	}
}
