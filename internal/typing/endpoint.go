package typing

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/messager/messager/internal/auth"
)

type typingRequest struct {
	To string `json:"to"`
}

func makeTypingEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		p, ok := auth.PrincipalFrom(ctx)
		if !ok {
			return nil, auth.ErrUnauthenticated
		}
		return nil, s.Typing(ctx, p, request.(typingRequest).To)
	}
}
