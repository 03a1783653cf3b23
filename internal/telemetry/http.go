package telemetry

import (
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// HTTPMiddleware opens a server span around each request, continuing the
// caller's trace (W3C traceparent) when it sent one, and names it after
// the chi route that served it ("POST /api/v1/messages"), not the path,
// so one route is one span name whatever ids its path holds. Requests to
// the paths in untraced (probes, scrapes) get no span.
//
// Install it as the router's first middleware: chi fills in the route
// pattern while routing, after the middleware has started the span.
func HTTPMiddleware(untraced ...string) func(http.Handler) http.Handler {
	serverSpan := otelhttp.NewMiddleware("http",
		otelhttp.WithFilter(func(r *http.Request) bool { return !slices.Contains(untraced, r.URL.Path) }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
		// Request metrics are Prometheus's job (httpapi.Metrics).
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	)
	return func(next http.Handler) http.Handler {
		return serverSpan(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			span := trace.SpanFromContext(r.Context())
			if !span.IsRecording() {
				return
			}
			if route := chi.RouteContext(r.Context()).RoutePattern(); route != "" {
				span.SetName(r.Method + " " + route)
				span.SetAttributes(attribute.String("http.route", route))
			}
		}))
	}
}
