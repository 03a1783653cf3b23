package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/messager/messager/internal/httpapi"
)

// HandlerOptions configure the HTTP transport.
type HandlerOptions struct {
	// TrustedProxies is how many reverse proxies append to
	// X-Forwarded-For in front of the server (spec.http.trustedProxies):
	// the client IP and scheme are read through them.
	TrustedProxies int
	// Errors answers every error; RegisterErrors must have been called on it.
	Errors *httpapi.Classifier
}

// MakeHandler returns the routes under /api/v1/auth. Register and login
// refuse a foreign Origin like any cookie-authenticated write: otherwise a
// page on another site could sign the browser in to an account of the
// attacker's choosing (login CSRF).
func MakeHandler(s Service, authn *Authenticator, o HandlerOptions) http.Handler {
	opts := httpapi.KitOptions(o.Errors)
	register := kithttp.NewServer(makeRegisterEndpoint(s), decodeRegister(o.TrustedProxies), encodeStatus(http.StatusCreated), opts...)
	login := kithttp.NewServer(makeLoginEndpoint(s), decodeLogin(o.TrustedProxies), encodeLogin(o.TrustedProxies), opts...)
	logout := kithttp.NewServer(makeLogoutEndpoint(s), kithttp.NopRequestDecoder, encodeLogout(o.TrustedProxies), opts...)
	me := kithttp.NewServer(makeMeEndpoint(s), kithttp.NopRequestDecoder, encodeStatus(http.StatusOK), opts...)

	r := chi.NewRouter()
	r.With(authn.SameOrigin).Post("/register", register.ServeHTTP)
	r.With(authn.SameOrigin).Post("/login", login.ServeHTTP)
	r.With(authn.Require).Post("/logout", logout.ServeHTTP)
	r.With(authn.Require).Get("/me", me.ServeHTTP)
	return r
}

func decodeRegister(proxies int) kithttp.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		var req registerRequest
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			return nil, err
		}
		req.clientIP = httpapi.ClientIP(r, proxies)
		return req, nil
	}
}

func decodeLogin(proxies int) kithttp.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		var req loginRequest
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			return nil, err
		}
		req.clientIP = httpapi.ClientIP(r, proxies)
		return req, nil
	}
}

func encodeStatus(status int) kithttp.EncodeResponseFunc {
	return func(_ context.Context, w http.ResponseWriter, response any) error {
		return httpapi.WriteJSON(w, status, response)
	}
}

func encodeLogin(proxies int) kithttp.EncodeResponseFunc {
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
			Secure:   r != nil && httpapi.IsTLS(r, proxies),
		})
		return httpapi.WriteJSON(w, http.StatusOK, res)
	}
}

func encodeLogout(proxies int) kithttp.EncodeResponseFunc {
	return func(ctx context.Context, w http.ResponseWriter, _ any) error {
		r := httpapi.RequestFrom(ctx)
		http.SetCookie(w, &http.Cookie{
			Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: r != nil && httpapi.IsTLS(r, proxies),
		})
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// RegisterErrors registers with c the statuses auth's domain errors are
// answered with, wherever they surface (this transport, Authenticator,
// other packages' endpoints). The process calls it once, at assembly.
func RegisterErrors(c *httpapi.Classifier) {
	c.Is(ErrUsernameTaken, http.StatusConflict, "that username is already taken")
	c.Is(ErrInvalidCredentials, http.StatusUnauthorized, "invalid username or password")
	c.Is(ErrUnauthenticated, http.StatusUnauthorized, "sign in first: send the session cookie or an Authorization: Bearer token")
	c.Match(httpapi.As(func(rl *RateLimitedError) *httpapi.Problem {
		what := rl.What
		if what == "" {
			what = "attempts"
		}
		p := httpapi.NewProblem(http.StatusTooManyRequests, "too many "+what+"; try again later")
		p.RetryAfter = rl.RetryAfter
		return p
	}))
	c.Match(func(err error) *httpapi.Problem {
		if !errors.Is(err, ErrBusy) {
			return nil
		}
		p := httpapi.NewProblem(http.StatusServiceUnavailable, "the server is busy checking passwords; try again in a moment")
		p.RetryAfter = time.Second
		return p
	})
}
