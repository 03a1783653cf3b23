package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// latencyBuckets reach from a cached answer (half a millisecond) past a
// login under load: argon2id takes a large fraction of a second alone,
// and logins queue for a hashing slot (auth's bounded hashing), so a slow
// login is seconds, not a flat top bucket.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30}

// Status codes each method's routes may answer (the error codes are the
// ones WriteProblem's mapping produces), created at zero for every known
// route so that increase() over a window counts the first of each.
var (
	readCodes  = []int{http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable}
	writeCodes = []int{http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent,
		http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestTimeout, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusServiceUnavailable}
)

// Precreate creates the request counter's series, at zero, for every
// route of routes and the codes its method may answer, labelled exactly as
// AccessLog labels a request. Series appear otherwise on their first
// request, and increase() misses a series' first sample.
//
// A route that takes every method (http.Handle: the UI, the task
// monitor, metrics) gets its GET series only, lest it cost a series per
// method and code that no client uses.
func (m *Metrics) Precreate(routes chi.Routes) {
	methods := map[string][]string{}
	var order []string
	_ = chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		method = MethodLabel(method)
		if method == "other" {
			return nil
		}
		// A mounted router's root is labelled without its trailing slash
		// (chi's RoutePattern): /api/v1/messages/ serves as /api/v1/messages.
		if len(route) > 1 && strings.HasSuffix(route, "/") {
			route = strings.TrimSuffix(route, "/")
		}
		if _, ok := methods[route]; !ok {
			order = append(order, route)
		}
		methods[route] = append(methods[route], method)
		return nil
	})
	for _, route := range order {
		ms := methods[route]
		if len(ms) >= len(knownMethods) {
			ms = []string{http.MethodGet}
		}
		for _, method := range ms {
			codes := writeCodes
			switch method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				codes = readCodes
			}
			for _, code := range codes {
				m.requests.WithLabelValues(route, method, strconv.Itoa(code))
			}
		}
	}
}
