package typing

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
)

// MakeHandler returns the route POST /api/v1/typing (mounted there); it
// needs an authenticated caller. errs answers every error and must have
// typing's and auth's errors registered (RegisterErrors).
func MakeHandler(s Service, authn *auth.Authenticator, errs *httpapi.Classifier) http.Handler {
	opts := httpapi.KitOptions(errs)
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

// RegisterErrors registers with c the statuses typing's domain errors are
// answered with. The process calls it once, at assembly.
func RegisterErrors(c *httpapi.Classifier) {
	c.Is(ErrUnknownRecipient, http.StatusNotFound, "no user has that usercode")
}
