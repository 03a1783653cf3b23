package presence

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/messager/messager/pkg/auth"
	"github.com/messager/messager/pkg/httpapi"
)

type transportKey int

const requestKey transportKey = iota

// MakeHandler returns the routes under /api/v1/presence; every route needs
// an authenticated caller.
func MakeHandler(s Service, authn *auth.Authenticator, errs *httpapi.Classifier) http.Handler {
	opts := []kithttp.ServerOption{
		kithttp.ServerBefore(func(ctx context.Context, r *http.Request) context.Context {
			return context.WithValue(ctx, requestKey, r)
		}),
		kithttp.ServerErrorEncoder(func(ctx context.Context, err error, w http.ResponseWriter) {
			r, _ := ctx.Value(requestKey).(*http.Request)
			httpapi.WriteProblem(w, r, errs.Problem(err))
		}),
	}
	online := kithttp.NewServer(makeOnlineEndpoint(s), kithttp.NopRequestDecoder, func(_ context.Context, w http.ResponseWriter, res any) error {
		return httpapi.WriteJSON(w, http.StatusOK, res)
	}, opts...)
	heartbeat := kithttp.NewServer(makeHeartbeatEndpoint(s), kithttp.NopRequestDecoder, func(_ context.Context, w http.ResponseWriter, _ any) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}, opts...)

	r := chi.NewRouter()
	r.Use(authn.Require)
	r.Get("/", online.ServeHTTP)
	r.Post("/heartbeat", heartbeat.ServeHTTP)
	return r
}
