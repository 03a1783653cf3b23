package app

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
	"github.com/messager/messager/internal/messaging"
	"github.com/messager/messager/internal/presence"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/telemetry"
	"github.com/messager/messager/internal/web"
)

// baseRouter has the middleware, problem+json 404/405 and operations
// endpoints every mode serves.
func (a *App) baseRouter() chi.Router {
	r := chi.NewRouter()
	methods := httpapi.NewMethods(func() chi.Routes { return r })
	if telemetry.Enabled(a.cfg.Spec.Observability.Tracing) {
		// First, so the access log and everything after log and trace
		// inside the request's server span.
		r.Use(telemetry.HTTPMiddleware("/healthz", "/readyz", "/metrics", "/metrics/queues"))
	}
	// Unknown methods are refused before the access log touches a metric;
	// the body deadline comes before anything reads the body.
	r.Use(httpapi.WithRequestID, httpapi.RefuseUnknownMethods, httpapi.AccessLog(a.logger, a.httpMetrics), httpapi.Recover,
		httpapi.BodyReadTimeout(a.cfg.Spec.HTTP.ReadTimeout.D()), httpapi.LimitBody, httpapi.ExtractTrace, httpapi.AnswerOptions("/api/", methods))
	r.NotFound(httpapi.NotFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		if allow := methods.Allow(r.URL.Path); allow != "" {
			w.Header().Set("Allow", allow)
		}
		httpapi.MethodNotAllowed(w, r)
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_ = httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", a.ready)
	if !a.separateMetrics() {
		a.mountOps(r)
	}
	return r
}

func (a *App) opsRouter() http.Handler {
	r := a.baseRouter()
	a.httpMetrics.Precreate(r)
	return r
}

// ready answers 200 only when the database and Redis both answer and the
// database has the schema this binary uses: a database never migrated
// would answer, then fail every request.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var down []string
	err := a.db.Ping(ctx)
	if err == nil {
		err = a.db.CheckSchema(ctx)
	}
	switch {
	case errors.Is(err, storage.ErrNotMigrated):
		p := httpapi.NewProblem(http.StatusServiceUnavailable, "not ready: database not migrated; run `messager migrate` (or start with --migrate)")
		p.RetryAfter = 5 * time.Second
		httpapi.WriteProblem(w, r, p)
		return
	case err != nil:
		down = append(down, "database")
	}
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		down = append(down, "redis")
	}
	if len(down) > 0 {
		p := httpapi.NewProblem(http.StatusServiceUnavailable, "not ready: no answer from "+joinAnd(down))
		p.RetryAfter = 2 * time.Second
		httpapi.WriteProblem(w, r, p)
		return
	}
	_ = httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func joinAnd(s []string) string {
	if len(s) == 2 {
		return s[0] + " and " + s[1]
	}
	return s[0]
}

// apiRouter serves the API, streams, UI, task monitor and queue metrics:
// it only mounts what buildAPI built.
func (a *App) apiRouter(api *apiServices) http.Handler {
	spec := a.cfg.Spec
	authn := api.authn
	r := a.baseRouter()
	r.Mount("/api/v1/auth", auth.MakeHandler(api.auth, authn, auth.HandlerOptions{TrustedProxies: spec.HTTP.ProxyHops(), Errors: api.errs}))
	r.Mount("/api/v1/presence", presence.MakeHandler(api.presence, authn, api.errs))
	r.Mount("/api/v1/messages", messaging.MakeHandler(api.messaging, authn, api.errs))
	r.Mount("/api/v1/users", api.users)
	r.Mount("/api/v1/typing", api.typing)
	r.With(authn.Require).Get("/api/v1/stream", api.streams.WebSocket)
	r.With(authn.Require).Get("/api/v1/events", api.streams.Events)
	r.HandleFunc("/api/*", httpapi.NotFound)
	if spec.Observability.Asynqmon.Enabled {
		// A signed-out browser is sent to sign in and brought back.
		a.mountTaskMonitor(r, authn.RequireOrSignIn("/"), a.requireAdmin(api.admins, api.errs))
	}
	r.Handle("/*", web.Handler())
	a.httpMetrics.Precreate(r)
	return r
}

// adminStore answers whether an account is an admin.
type adminStore interface {
	IsAdmin(ctx context.Context, id int) (bool, error)
}

// requireAdmin lets admins through: the account's admin flag, read from
// the database on every request, so `messager admin revoke` takes effect
// at once. The task monitor shows and deletes everyone's pending
// messages, and asynqmon has no access control of its own.
func (a *App) requireAdmin(users adminStore, errs *httpapi.Classifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := auth.PrincipalFrom(r.Context())
			ok, err := users.IsAdmin(r.Context(), p.UserID)
			if err != nil {
				httpapi.WriteProblem(w, r, errs.Problem(err))
				return
			}
			if !ok {
				httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusForbidden, "the task monitor is for admins; an operator grants it with `messager admin grant USERNAME`"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// sharedRedis hands asynqmon the process's one Redis client instead of a
// connection option it would dial itself.
type sharedRedis struct{ c redis.UniversalClient }

func (s sharedRedis) MakeRedisClient() any { return s.c }
