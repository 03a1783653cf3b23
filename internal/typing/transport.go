package typing

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
)

// MakeHandler returns the route POST /api/v1/typing (mounted there); it
// needs an authenticated caller.
func MakeHandler(s Service, authn *auth.Authenticator, errs *httpapi.Classifier) http.Handler {
	opts := httpapi.KitOptions(func(err error) *httpapi.Problem { return problemFor(err, errs) })
	typing := kithttp.NewServer(makeTypingEndpoint(s), decodeTyping, func(_ context.Context, w http.ResponseWriter, _ any) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}, opts...)
	r := chi.NewRouter()
	r.Use(authn.Require)
	r.Post("/", typing.ServeHTTP)
	return r
}

func decodeTyping(_ context.Context, r *http.Request) (any, error) {
	var req typingRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	return req, nil
}

// problemFor is the one place the package's errors become statuses.
func problemFor(err error, errs *httpapi.Classifier) *httpapi.Problem {
	switch {
	case errors.Is(err, ErrUnknownRecipient):
		return httpapi.NewProblem(http.StatusNotFound, "no user has that usercode")
	case errors.Is(err, auth.ErrUnauthenticated):
		return httpapi.NewProblem(http.StatusUnauthorized, "sign in first")
	}
	return errs.Problem(err)
}
