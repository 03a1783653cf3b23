package presence

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
)

// MakeHandler returns the routes under /api/v1/presence; every route needs
// an authenticated caller. Presence has no domain errors of its own: errs
// answers a dependency's, or auth's (registered by auth.RegisterErrors).
func MakeHandler(s Service, authn *auth.Authenticator, errs *httpapi.Classifier) http.Handler {
	opts := httpapi.KitOptions(errs)
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
