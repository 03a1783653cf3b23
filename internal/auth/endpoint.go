package auth

import (
	"context"
	"time"

	"github.com/go-kit/kit/endpoint"
)

// UserJSON is a user as the API shows it; Email only in the user's own view.
type UserJSON struct {
	ID        int       `json:"id"`
	Username  string    `json:"username"`
	Usercode  string    `json:"usercode"`
	CreatedAt time.Time `json:"created_at"`
	Email     string    `json:"email,omitempty"`
	// Admin says the account may open the task monitor (the UI shows its
	// link); it is in the user's own view only.
	Admin bool `json:"admin"`
}

// OwnView is the user's own view of its account.
func OwnView(u User) UserJSON {
	return UserJSON{ID: u.ID, Username: u.Username, Usercode: u.Usercode, CreatedAt: u.CreatedAt.UTC(), Email: u.Email, Admin: u.Admin}
}

type registerRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
	clientIP string
}

type userResponse struct {
	User UserJSON `json:"user"`
}

func makeRegisterEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(registerRequest)
		u, err := s.Register(ctx, req.Username, req.Email, req.Password, req.clientIP)
		if err != nil {
			return nil, err
		}
		return userResponse{User: OwnView(u)}, nil
	}
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	clientIP string
}

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      UserJSON  `json:"user"`
}

func makeLoginEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(loginRequest)
		sess, err := s.Login(ctx, req.Username, req.Password, req.clientIP)
		if err != nil {
			return nil, err
		}
		return loginResponse{Token: sess.Token, ExpiresAt: sess.ExpiresAt, User: OwnView(sess.User)}, nil
	}
}

type logoutResponse struct{}

func makeLogoutEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		if err := s.Logout(ctx, TokenFrom(ctx)); err != nil {
			return nil, err
		}
		return logoutResponse{}, nil
	}
}

func makeMeEndpoint(s Service) endpoint.Endpoint {
	return RequirePrincipal(func(ctx context.Context, caller Principal, _ any) (any, error) {
		u, err := s.Me(ctx, caller)
		if err != nil {
			return nil, err
		}
		return userResponse{User: OwnView(u)}, nil
	})
}

// CallerEndpoint is an endpoint that serves a signed-in caller.
type CallerEndpoint func(ctx context.Context, caller Principal, request any) (any, error)

// RequirePrincipal adapts e to a go-kit endpoint that hands e the caller
// Authenticator.Require put in the context. A request without one is
// refused with ErrUnauthenticated (401) before e runs, so an endpoint
// mounted without Require fails closed instead of serving a zero
// Principal. Every endpoint that needs a caller is built with it.
func RequirePrincipal(e CallerEndpoint) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		p, ok := PrincipalFrom(ctx)
		if !ok {
			return nil, ErrUnauthenticated
		}
		return e(ctx, p, request)
	}
}
