package httpapi

import (
	"net/http"
	"strings"
)

// knownMethods are the methods the server routes. Any other method is
// refused by RefuseUnknownMethods before it reaches a metric, and would be
// labelled "other" if it did: a label taken from the request line lets a
// client mint time series without bound.
var knownMethods = map[string]string{
	http.MethodGet:     http.MethodGet,
	http.MethodHead:    http.MethodHead,
	http.MethodPost:    http.MethodPost,
	http.MethodPut:     http.MethodPut,
	http.MethodPatch:   http.MethodPatch,
	http.MethodDelete:  http.MethodDelete,
	http.MethodOptions: http.MethodOptions,
}

// MethodLabel is the metric label of method: the method itself when the
// server knows it, else "other".
func MethodLabel(method string) string {
	if m, ok := knownMethods[method]; ok {
		return m
	}
	return "other"
}

// RefuseUnknownMethods answers 501 problem+json to any method the server
// does not implement (CONNECT, TRACE, made-up tokens). It runs before the
// access log and metrics, so such requests cost no log line and no series.
func RefuseUnknownMethods(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := knownMethods[r.Method]; !ok {
			// The method is not echoed: it is whatever the client made up.
			WriteProblem(w, r, NewProblem(http.StatusNotImplemented, "this server implements only "+strings.Join(implemented, ", ")))
			return
		}
		next.ServeHTTP(w, r)
	})
}

var implemented = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
