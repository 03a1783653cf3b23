package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
)

// Methods tells which methods a router serves on a path, for the Allow
// header of 405 answers. chi cannot answer that directly: a Mount answers
// every method at the mount point, and a sub-router's middleware (the
// authenticator) runs before its method check. So the index is a flat
// copy of the router's routes, built on first use, once every route is in.
type Methods struct {
	once   sync.Once
	routes func() chi.Routes
	flat   *chi.Mux
}

// NewMethods indexes the routes routes returns when first asked.
func NewMethods(routes func() chi.Routes) *Methods { return &Methods{routes: routes} }

var routedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Allow returns the methods served on path, as an Allow header value
// ("GET, POST"), or "" when the path is not served. Routes that answer
// every method (catch-alls, mounted non-chi handlers) are not counted.
func (m *Methods) Allow(path string) string {
	m.once.Do(func() {
		byRoute := map[string][]string{}
		_ = chi.Walk(m.routes(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			byRoute[route] = append(byRoute[route], method)
			return nil
		})
		m.flat = chi.NewRouter()
		noop := func(http.ResponseWriter, *http.Request) {}
		for route, ms := range byRoute {
			if slices.Contains(ms, http.MethodOptions) {
				// Handle()d for every method: a catch-all, not a resource.
				continue
			}
			for _, method := range ms {
				m.flat.MethodFunc(method, route, noop)
				// A sub-router's "/" answers its mount point without the slash.
				if len(route) > 1 && strings.HasSuffix(route, "/") {
					m.flat.MethodFunc(method, strings.TrimSuffix(route, "/"), noop)
				}
			}
		}
	})
	var allowed []string
	for _, method := range routedMethods {
		if m.flat.Match(chi.NewRouteContext(), method, path) {
			allowed = append(allowed, method)
		}
	}
	return strings.Join(allowed, ", ")
}

// AnswerOptions answers OPTIONS under prefix itself. The API has no CORS
// (the UI is same-origin), so OPTIONS is a method no route implements: 405
// with the path's methods in Allow, or 404 for a path the API does not
// have. Without this, OPTIONS reached an authenticated route's
// authenticator and was answered 401.
func AnswerOptions(prefix string, methods *Methods) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodOptions || !strings.HasPrefix(r.URL.Path, prefix) {
				next.ServeHTTP(w, r)
				return
			}
			allow := methods.Allow(r.URL.Path)
			if allow == "" {
				NotFound(w, r)
				return
			}
			w.Header().Set("Allow", allow)
			WriteProblem(w, r, NewProblem(http.StatusMethodNotAllowed, "OPTIONS is not allowed on "+r.URL.Path+"; this API has no CORS"))
		})
	}
}
