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
	return auth.RequirePrincipal(func(ctx context.Context, p auth.Principal, request any) (any, error) {
		return nil, s.Typing(ctx, p, request.(typingRequest).To)
	})
}
