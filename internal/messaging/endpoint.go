package messaging

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/events"
)

type sendRequest struct {
	Body     string  `json:"body"`
	To       *string `json:"to"`
	ClientID string  `json:"client_id"`
}

type sendResponse struct {
	Message events.Message `json:"message"`
	created bool
}

func makeSendEndpoint(s Service) endpoint.Endpoint {
	return auth.RequirePrincipal(func(ctx context.Context, p auth.Principal, request any) (any, error) {
		req := request.(sendRequest)
		in := SendInput{Body: req.Body, ClientID: req.ClientID}
		if req.To != nil {
			in.To = *req.To
		}
		m, created, err := s.Send(ctx, p, in)
		if err != nil {
			return nil, err
		}
		return sendResponse{Message: m, created: created}, nil
	})
}

type listRequest struct {
	Before string
	After  string
	Limit  int
}

type listResponse struct {
	Messages   []events.Message `json:"messages"`
	NextBefore *string          `json:"next_before"`
}

type afterResponse struct {
	Messages []events.Message `json:"messages"`
}

func makeListEndpoint(s Service) endpoint.Endpoint {
	return auth.RequirePrincipal(func(ctx context.Context, p auth.Principal, request any) (any, error) {
		req := request.(listRequest)
		if req.After != "" {
			msgs, err := s.After(ctx, p, req.After, req.Limit)
			if err != nil {
				return nil, err
			}
			return afterResponse{Messages: msgs}, nil
		}
		msgs, next, err := s.History(ctx, p, req.Before, req.Limit)
		if err != nil {
			return nil, err
		}
		res := listResponse{Messages: msgs}
		if next != "" {
			res.NextBefore = &next
		}
		return res, nil
	})
}

type readRequest struct{ ID string }

func makeReadEndpoint(s Service) endpoint.Endpoint {
	return auth.RequirePrincipal(func(ctx context.Context, p auth.Principal, request any) (any, error) {
		return nil, s.MarkRead(ctx, p, request.(readRequest).ID)
	})
}

type unreadResponse struct {
	Unread int `json:"unread"`
}

func makeUnreadEndpoint(s Service) endpoint.Endpoint {
	return auth.RequirePrincipal(func(ctx context.Context, p auth.Principal, _ any) (any, error) {
		n, err := s.Unread(ctx, p)
		if err != nil {
			return nil, err
		}
		return unreadResponse{Unread: n}, nil
	})
}
