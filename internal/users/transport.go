package users

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
)

// MakeHandler returns the routes under /api/v1/users; every route needs
// an authenticated caller. errs answers every error and must have users'
// and auth's errors registered (RegisterErrors).
func MakeHandler(s Service, authn *auth.Authenticator, errs *httpapi.Classifier) http.Handler {
	opts := httpapi.KitOptions(errs)
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

// RegisterErrors registers with c the statuses users' domain errors are
// answered with. The process calls it once, at assembly.
func RegisterErrors(c *httpapi.Classifier) {
	c.Match(httpapi.As(func(rl *SearchLimitedError) *httpapi.Problem {
		p := httpapi.NewProblem(http.StatusTooManyRequests, "too many searches; wait a moment and search again")
		p.RetryAfter = rl.RetryAfter
		return p
	}))
	c.Is(ErrNotFound, http.StatusNotFound, "no user has that usercode")
}
