package app

import (
	"net/http"
	"net/http/pprof"
	"runtime"

	"github.com/go-chi/chi/v5"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynq/x/metrics"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/messager/messager/internal/delivery"
	"github.com/messager/messager/internal/httpapi"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/version"
)

// registerProcessMetrics registers what every process exports besides its
// own components' metrics: the build, and the database and Redis pools.
func (a *App) registerProcessMetrics() {
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "messager_build_info", Help: "1, labelled with the version, VCS revision and Go version of the running binary.",
		ConstLabels: prometheus.Labels{"version": version.Number(), "revision": version.Revision(), "goversion": runtime.Version()},
	})
	build.Set(1)
	a.registry.MustRegister(build,
		a.db.StatsCollector(),
		storage.NewRedisPoolCollector(a.rdb))
}

// separateMetrics reports whether metrics and pprof have a listener of
// their own (spec.observability.metricsAddr) instead of the main port.
func (a *App) separateMetrics() bool { return a.cfg.Spec.Observability.MetricsAddr != "" }

// mountOps adds /metrics, /metrics/queues (api modes; it scans Redis on
// every request, so scrape it from one place) and, with --pprof,
// /debug/pprof/ to r.
func (a *App) mountOps(r chi.Router) {
	if a.cfg.Spec.Observability.Metrics {
		r.Handle("/metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{Registry: a.registry}))
		if a.opts.Mode != ModeWorker {
			queues := prometheus.NewRegistry()
			queues.MustRegister(metrics.NewQueueMetricsCollector(asynq.NewInspectorFromRedisClient(a.rdb)))
			r.Handle("/metrics/queues", promhttp.HandlerFor(queues, promhttp.HandlerOpts{}))
		}
	}
	if a.opts.Pprof {
		r.HandleFunc("/debug/pprof/*", pprof.Index)
		r.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		r.HandleFunc("/debug/pprof/profile", pprof.Profile)
		r.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		r.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
}

// adminRouter serves the admin listener: metrics, queue metrics and pprof,
// nothing a user reaches. Its requests are counted like any other.
func (a *App) adminRouter() http.Handler {
	r := chi.NewRouter()
	r.Use(httpapi.WithRequestID, httpapi.RefuseUnknownMethods, httpapi.AccessLog(a.logger, a.httpMetrics), httpapi.Recover)
	r.NotFound(httpapi.NotFound)
	a.mountOps(r)
	a.httpMetrics.Precreate(r)
	return r
}

// MetricsAddr is the address of the admin listener, "" when metrics are
// served on the main port.
func (a *App) MetricsAddr() string {
	if a.adminLn == nil {
		return ""
	}
	return a.adminLn.Addr().String()
}

// enqueuer is the process's delivery enqueuer: tasks are kept, once
// delivered, for spec.worker.completedRetention.
func (a *App) enqueuer() *delivery.AsynqEnqueuer {
	return delivery.NewAsynqEnqueuer(a.taskClient(), delivery.WithRetention(a.cfg.Spec.Worker.CompletedRetention.D()))
}

// mountTaskMonitor serves asynqmon under /monitoring behind guards. Task
// payloads and results are shown summarized (delivery.SummarizePayload):
// ids, sender, audience and body length, never a message body. Its
// Metrics charts query spec.observability.asynqmon.prometheusURL; without
// one asynqmon hides them in the UI, and its metrics API, which would
// answer 500 (a query to an empty address), says what to set instead.
func (a *App) mountTaskMonitor(r chi.Router, guards ...func(http.Handler) http.Handler) {
	promURL := a.cfg.Spec.Observability.Asynqmon.PrometheusURL
	mon := asynqmon.New(asynqmon.Options{
		RootPath:          "/monitoring",
		RedisConnOpt:      sharedRedis{a.rdb},
		PayloadFormatter:  asynqmon.PayloadFormatterFunc(delivery.SummarizePayload),
		ResultFormatter:   asynqmon.ResultFormatterFunc(delivery.SummarizeResult),
		PrometheusAddress: promURL,
	})
	g := r.With(guards...)
	if promURL == "" {
		g.Get("/monitoring/api/metrics", func(w http.ResponseWriter, r *http.Request) {
			httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusNotFound, "the task monitor's metrics come from Prometheus: set spec.observability.asynqmon.prometheusURL"))
		})
	}
	g.Handle("/monitoring", mon)
	g.Handle("/monitoring/*", mon)
}
