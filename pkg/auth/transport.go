package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/messager/messager/pkg/httpapi"
)

// HandlerOptions configure the HTTP transport.
type HandlerOptions struct {
	// TrustForwardedFor takes the client IP and scheme from proxy headers.
	TrustForwardedFor bool
	Errors            *httpapi.Classifier
}

// MakeHandler returns the routes under /api/v1/auth.
func MakeHandler(s Service, authn *Authenticator, o HandlerOptions) http.Handler {
	opts := httpapi.KitOptions(func(err error) *httpapi.Problem { return problemFor(err, o.Errors) })
	register := kithttp.NewServer(makeRegisterEndpoint(s), decodeRegister, encodeStatus(http.StatusCreated), opts...)
	login := kithttp.NewServer(makeLoginEndpoint(s), decodeLogin(o.TrustForwardedFor), encodeLogin(o.TrustForwardedFor), opts...)
	logout := kithttp.NewServer(makeLogoutEndpoint(s), kithttp.NopRequestDecoder, encodeLogout(o.TrustForwardedFor), opts...)
	me := kithttp.NewServer(makeMeEndpoint(s), kithttp.NopRequestDecoder, encodeStatus(http.StatusOK), opts...)

	r := chi.NewRouter()
	r.Post("/register", register.ServeHTTP)
	r.Post("/login", login.ServeHTTP)
	r.With(authn.Require).Post("/logout", logout.ServeHTTP)
	r.With(authn.Require).Get("/me", me.ServeHTTP)
	return r
}

func decodeRegister(_ context.Context, r *http.Request) (any, error) {
	var req registerRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeLogin(trustXFF bool) kithttp.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		var req loginRequest
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			return nil, err
		}
		req.clientIP = httpapi.ClientIP(r, trustXFF)
		return req, nil
	}
}

func encodeStatus(status int) kithttp.EncodeResponseFunc {
	return func(_ context.Context, w http.ResponseWriter, response any) error {
		return httpapi.WriteJSON(w, status, response)
	}
}

func encodeLogin(trustXFF bool) kithttp.EncodeResponseFunc {
	return func(ctx context.Context, w http.ResponseWriter, response any) error {
		res := response.(loginResponse)
		r := httpapi.RequestFrom(ctx)
		http.SetCookie(w, &http.Cookie{
			Name:     CookieName,
			Value:    res.Token,
			Path:     "/",
			Expires:  res.ExpiresAt,
			MaxAge:   int(time.Until(res.ExpiresAt).Seconds()),
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
			Secure:   r != nil && httpapi.IsTLS(r, trustXFF),
		})
		return httpapi.WriteJSON(w, http.StatusOK, res)
	}
}

func encodeLogout(trustXFF bool) kithttp.EncodeResponseFunc {
	return func(ctx context.Context, w http.ResponseWriter, _ any) error {
		r := httpapi.RequestFrom(ctx)
		http.SetCookie(w, &http.Cookie{
			Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: r != nil && httpapi.IsTLS(r, trustXFF),
		})
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// problemFor is the one place auth's domain errors become HTTP statuses.
func problemFor(err error, c *httpapi.Classifier) *httpapi.Problem {
	var rl *RateLimitedError
	switch {
	case errors.Is(err, ErrUsernameTaken):
		return httpapi.NewProblem(http.StatusConflict, "that username is already taken")
	case errors.Is(err, ErrInvalidCredentials):
		return httpapi.NewProblem(http.StatusUnauthorized, "invalid username or password")
	case errors.Is(err, ErrUnauthenticated):
		return httpapi.NewProblem(http.StatusUnauthorized, "sign in first: send the session cookie or an Authorization: Bearer token")
	case errors.As(err, &rl):
		p := httpapi.NewProblem(http.StatusTooManyRequests, "too many failed sign-in attempts; try again later")
		p.RetryAfter = rl.RetryAfter
		return p
	default:
		return c.Problem(err)
	}
}
