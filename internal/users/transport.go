package users

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
)

// MakeHandler returns the routes under /api/v1/users; every route needs
// an authenticated caller.
func MakeHandler(s Service, authn *auth.Authenticator, errs *httpapi.Classifier) http.Handler {
	opts := httpapi.KitOptions(func(err error) *httpapi.Problem { return problemFor(err, errs) })
	search := kithttp.NewServer(makeSearchEndpoint(s), decodeSearch, encodeOK, opts...)
	get := kithttp.NewServer(makeGetEndpoint(s), decodeGet, encodeOK, opts...)

	r := chi.NewRouter()
	r.Use(authn.Require)
	r.Get("/", search.ServeHTTP)
	r.Get("/{usercode}", get.ServeHTTP)
	return r
}

func decodeSearch(_ context.Context, r *http.Request) (any, error) {
	return searchRequest{Q: r.URL.Query().Get("q")}, nil
}

func decodeGet(_ context.Context, r *http.Request) (any, error) {
	return getRequest{Usercode: chi.URLParam(r, "usercode")}, nil
}

func encodeOK(_ context.Context, w http.ResponseWriter, response any) error {
	return httpapi.WriteJSON(w, http.StatusOK, response)
}

// problemFor is the one place the package's errors become statuses.
func problemFor(err error, errs *httpapi.Classifier) *httpapi.Problem {
	var rl *auth.RateLimitedError
	switch {
	case errors.As(err, &rl):
		p := httpapi.NewProblem(http.StatusTooManyRequests, "too many searches; wait a moment and search again")
		p.RetryAfter = rl.RetryAfter
		return p
	case errors.Is(err, ErrNotFound):
		return httpapi.NewProblem(http.StatusNotFound, "no user has that usercode")
	case errors.Is(err, auth.ErrUnauthenticated):
		return httpapi.NewProblem(http.StatusUnauthorized, "sign in first")
	}
	return errs.Problem(err)
}
