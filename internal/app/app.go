package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/delivery"
	"github.com/messager/messager/internal/embedredis"
	"github.com/messager/messager/internal/httpapi"
	"github.com/messager/messager/internal/presence"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/stream"
	"github.com/messager/messager/internal/taskwake"
	"github.com/messager/messager/internal/telemetry"
	"github.com/messager/messager/internal/version"
)

// taskCheckInterval is asynq's pause after a dequeue round found every
// queue empty. An idle worker then waits for an enqueue notification (see
// taskwake.go), so the pause only spaces rounds while tasks trickle in.
const taskCheckInterval = time.Millisecond

// Mode selects what a process runs.
type Mode string

// Run modes.
const (
	// ModeAll runs the API and the worker on the embedded defaults.
	ModeAll Mode = "all"
	// ModeAPI serves the HTTP API, streams and UI.
	ModeAPI Mode = "api"
	// ModeWorker runs the asynq worker (and serves health and metrics).
	ModeWorker Mode = "worker"
)

// Options configure New.
type Options struct {
	Config *config.Config
	Mode   Mode
	// Migrate migrates the schema on start (always done in ModeAll).
	Migrate bool
	Logger  *slog.Logger
	// Listener, when set, is used instead of listening on spec.http.addr.
	Listener net.Listener
	// MetricsListener, when set, is used instead of listening on
	// spec.observability.metricsAddr (which must be set too).
	MetricsListener net.Listener
	// PasswordHasher overrides argon2id's production cost (tests).
	PasswordHasher auth.PasswordHasher
	// Pprof serves net/http/pprof under /debug/pprof/ for profiling; it
	// exposes internals, so it is off unless asked for.
	Pprof bool
	// idleFallback overrides how long an idle worker waits for an enqueue
	// notification (tests); 0 is idleFallback.
	idleFallback time.Duration
}

// App is one assembled process.
type App struct {
	opts     Options
	cfg      *config.Config
	logger   *slog.Logger
	embedded *embedredis.Server
	rdb      redis.UniversalClient
	db       *storage.DB
	registry *prometheus.Registry

	hub *stream.Hub
	bus *stream.Bus
	// sessionCache keeps the sessions this pod looked up lately, forgotten
	// on logout through bus (nil in ModeWorker).
	sessionCache *auth.SessionCache
	tracker      *presence.Tracker
	client       *asynq.Client
	// groups gathers the API's deliveries into tasks (nil in ModeWorker).
	groups *delivery.GroupEnqueuer
	// workers dequeue tasks and hand them to worker through mux (nil in
	// ModeAPI).
	workers []*asynq.Server
	worker  *delivery.Worker
	mux     *asynq.ServeMux

	srv      *http.Server
	listener net.Listener
	// admin serves metrics and pprof on spec.observability.metricsAddr.
	admin       *http.Server
	adminLn     net.Listener
	httpMetrics *httpapi.Metrics
	tasks       *delivery.TaskMetrics

	// wake lets idle workers sleep until the API enqueues (taskwake.go).
	wake taskWake

	// units runs every component from Start to Shutdown (lifecycle.go).
	units *supervisor
	// stopTelemetry flushes and stops the trace exporter set up by New.
	stopTelemetry func(context.Context) error
}

// New opens every dependency and builds the services; nothing runs until Start.
func New(ctx context.Context, o Options) (_ *App, err error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// Lines logged with a traced context carry its trace_id and span_id.
	o.Logger = slog.New(telemetry.LogHandler(o.Logger.Handler()))
	if o.PasswordHasher == nil {
		o.PasswordHasher = auth.NewArgon2id()
	}
	cfg := *o.Config
	a := &App{opts: o, cfg: &cfg, logger: o.Logger, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.closeStores()
			if a.stopTelemetry != nil {
				_ = a.stopTelemetry(context.Background())
			}
		}
	}()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.stopTelemetry, err = telemetry.Setup(ctx, cfg.Spec.Observability.Tracing, "messager-"+string(o.Mode), version.Number()); err != nil {
		return nil, err
	}

	if o.Mode == ModeAll && cfg.Spec.Redis.URL == "" && cfg.Spec.Redis.Mode == config.RedisStandalone {
		a.embedded, err = embedredis.Start("127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		cfg.Spec.Redis.URL = a.embedded.URL()
		a.logger.Info("embedded redis started", "addr", a.embedded.Addr())
	}
	if a.rdb, err = storage.OpenRedis(cfg.Spec.Redis); err != nil {
		return nil, err
	}
	var dbOpts []storage.OpenOption
	if telemetry.Enabled(cfg.Spec.Observability.Tracing) {
		// Redis commands and SQL statements are spans only inside a
		// sampled request, task or push.
		tp := telemetry.ChildSpansOnly(otel.GetTracerProvider())
		if err = storage.TraceRedis(a.rdb, tp); err != nil {
			return nil, err
		}
		dbOpts = append(dbOpts, storage.WithTracing(tp))
	}
	if a.db, err = storage.Open(ctx, cfg.Spec.Database.URL, cfg.Spec.DataDir, dbOpts...); err != nil {
		return nil, err
	}
	if o.Mode == ModeAll || o.Migrate {
		if err := a.db.Migrate(ctx, storage.WithMigrateLogger(a.logger)); err != nil {
			return nil, err
		}
	}
	a.registerProcessMetrics()
	a.httpMetrics = httpapi.NewMetrics(a.registry)
	busOpts := []stream.BusOption{stream.WithBusMetrics(a.registry)}
	if o.Mode != ModeWorker {
		// The bus tells the cache of every logout on any pod (buildAPI).
		a.sessionCache = auth.NewSessionCache(auth.DefaultSessionCacheSize, auth.MaxSessionCacheAge)
		busOpts = append(busOpts, stream.WithSessionCache(a.sessionCache))
	}
	a.bus = stream.NewBus(a.rdb, a.logger, busOpts...)
	a.tracker = presence.NewTracker(a.rdb, cfg.Spec.Presence.TTL.D(), a.bus, a.logger, presence.WithLastSeen(a.db.Users()))
	a.srv = a.newHTTPServer()
	if o.Mode != ModeWorker {
		if cfg.Spec.HTTP.TrustForwardedFor {
			a.logger.Warn("spec.http.trustForwardedFor is deprecated: set spec.http.trustedProxies to the number of proxies in front of messager", "trustedProxies", cfg.Spec.HTTP.ProxyHops())
		}
		a.hub = stream.NewHub(a.registry, hubBuffer)
		a.srv.RegisterOnShutdown(a.hub.CloseAll)
		a.srv.Handler = a.apiRouter(a.buildAPI())
	} else {
		a.srv.Handler = a.opsRouter()
	}
	if o.Mode != ModeAPI {
		if cfg.Spec.Worker.Queues.Maintenance != 0 {
			a.logger.Warn("spec.worker.queues.maintenance is deprecated and ignored: no task uses the maintenance queue; remove it from the config")
		}
		a.tasks = delivery.NewTaskMetrics(a.registry)
		a.workers = a.newWorkers()
		a.worker, a.mux = a.newTaskHandler()
	}
	if a.separateMetrics() {
		a.admin = a.newHTTPServer()
		a.admin.Handler = a.adminRouter()
	}
	return a, nil
}

// Limits of every HTTP server the process runs: a client gets this long
// to send its request headers, an idle keep-alive connection is closed
// after idleTimeout, and headers are at most maxHeaderBytes (cookies and
// a bearer token fit many times over).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// newHTTPServer returns a server with those limits, logging its own
// errors (TLS handshakes, hijack failures) as warnings.
func (a *App) newHTTPServer() *http.Server {
	return &http.Server{
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
}

// dequeuers is how many asynq servers a worker process runs. One asynq
// server takes tasks off Redis one round trip at a time, which caps a
// process near 1/RTT tasks per second however large its concurrency;
// several servers in one process dequeue in parallel, exactly as several
// worker pods would.
const dequeuers = 2

func (a *App) newWorkers() []*asynq.Server {
	w := a.cfg.Spec.Worker
	n := min(dequeuers, w.Concurrency)
	servers := make([]*asynq.Server, n)
	for i := range servers {
		// Split the concurrency; the first servers take the remainder.
		servers[i] = a.newWorker(w.Concurrency/n + btoi(i < w.Concurrency%n))
	}
	return servers
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *App) newWorker(concurrency int) *asynq.Server {
	w := a.cfg.Spec.Worker
	srv := asynq.NewServerFromRedisClient(a.dequeueClient(), asynq.Config{
		Concurrency: concurrency,
		Queues: map[string]int{
			delivery.QueueDirect:    w.Queues.Direct,
			delivery.QueueBroadcast: w.Queues.Broadcast,
		},
		RetryDelayFunc: delivery.RetryDelay,
		// asynq polls its queues; when they are empty it sleeps this long
		// (±50%), then dequeueClient holds it until a task is notified.
		TaskCheckInterval: taskCheckInterval,
		ShutdownTimeout:   w.ShutdownTimeout.D(),
		Logger:            asynqLogger{a.logger.With("component", "asynq")},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			id, _ := asynq.GetTaskID(ctx)
			a.logger.Warn("task failed", "type", t.Type(), "task_id", id, "retry", retried, "max_retry", maxRetry, "err", err)
			a.tasks.Failed(ctx, t, err)
		}),
	})
	return srv
}

// newGroupEnqueuer makes the API's delivery enqueuer, a.groups, whose
// groups pass gate: Shutdown closes it after the HTTP server has drained
// (lifecycle.go).
func (a *App) newGroupEnqueuer(gate delivery.Gate) *delivery.GroupEnqueuer {
	a.groups = delivery.NewGroupEnqueuer(a.wakingEnqueuer(), delivery.WithLinger(a.cfg.Spec.Messaging.SendLinger.D()), delivery.WithGate(gate))
	return a.groups
}

// newTaskHandler builds the delivery worker and the handler chain the
// asynq servers call.
func (a *App) newTaskHandler() (*delivery.Worker, *asynq.ServeMux) {
	w := delivery.NewWorker(a.db.Messages(), a.bus, a.enqueuer(), a.registry, a.logger, a.db.Writers())
	mux := asynq.NewServeMux()
	w.Register(mux)
	mux.Use(a.tasks.Middleware)
	if a.cfg.Spec.Worker.CompletedRetention > 0 {
		mux.Use(delivery.RecordRuns())
	}
	return w, mux
}

// Start listens and starts every component under the process's
// supervisor (lifecycle.go), in the order units lists them.
func (a *App) Start() error {
	a.units = newSupervisor()
	for _, u := range a.unitsInOrder() {
		if err := a.units.Start(u); err != nil {
			// Stop what already runs, last started first.
			_ = a.units.Stop(context.Background())
			return err
		}
	}
	a.logger.Info("messager started", "mode", string(a.opts.Mode), "addr", a.listener.Addr().String())
	if a.hub != nil {
		// What someone who just ran `messager all` needs next.
		a.logger.Info("open the chat in a browser", "url", ChatURL(a.listener.Addr()))
		actx, acancel := context.WithTimeout(context.Background(), adminLookupTimeout)
		a.logAdmins(actx)
		acancel()
	}
	return nil
}

// adminLookupTimeout bounds the start-up lookup of who the admins are.
const adminLookupTimeout = 5 * time.Second

// ChatURL is the address a browser on this machine opens to reach a
// server listening on addr: "http://localhost:8080" for ":8080" or
// "0.0.0.0:8080" (every interface), else the address itself.
func ChatURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Addr is the address the HTTP server listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// Shutdown stops accepting, closes streams (clients reconnect elsewhere
// with after=), drains in-flight requests, lets the worker finish or hand
// back its tasks, and closes the stores: the units stop in the reverse of
// their start order (see unitsInOrder), each bounded by ctx.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
	if a.units != nil {
		errs = append(errs, a.units.Stop(ctx))
	}
	a.closeStores()
	if a.stopTelemetry != nil {
		if err := a.stopTelemetry(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush traces: %w", err))
		}
	}
	a.logger.Info("messager stopped")
	return errors.Join(errs...)
}

// taskClient returns the process's asynq client, made on first use (the
// api enqueues deliveries; a worker only re-queues refused messages).
func (a *App) taskClient() *asynq.Client {
	if a.client == nil {
		var rdb redis.UniversalClient = a.rdb
		if a.embedded == nil {
			// Each enqueue announces its task to every worker process in
			// its own round trip (see wakingEnqueuer for the embedded one).
			rdb = taskwake.NewAnnouncingClient(a.rdb, a.taskChannel())
		}
		a.client = asynq.NewClientFromRedisClient(rdb)
	}
	return a.client
}

func (a *App) closeStores() {
	if a.client != nil {
		_ = a.client.Close()
	}
	if a.rdb != nil {
		_ = a.rdb.Close()
	}
	if a.db != nil {
		_ = a.db.Close()
	}
	if a.embedded != nil {
		a.embedded.Close(context.Background())
	}
}

// Run starts the app and shuts it down when ctx ends or a component
// fails on its own (then Run returns that failure: the process is no
// longer whole and should be restarted).
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(); err != nil {
		a.closeStores()
		return err
	}
	select {
	case <-ctx.Done():
		a.logger.Info("shutting down")
	case err := <-a.units.Failed():
		a.logger.Error("a component failed; shutting down", "err", err)
	}
	timeout := a.cfg.Spec.HTTP.ShutdownTimeout.D() + a.cfg.Spec.Worker.ShutdownTimeout.D()
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return a.Shutdown(sctx)
}

// asynqLogger adapts slog to asynq's logger.
type asynqLogger struct{ l *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.l.Debug(fmt.Sprint(args...)) }

// Info is demoted to debug: asynq says "Starting processing" and how to
// signal it once per server (a worker runs several, see dequeuers), and
// the signals it names are messager's to handle. "messager started" says
// the worker runs.
func (l asynqLogger) Info(args ...any)  { l.l.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.l.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.l.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.l.Error(fmt.Sprint(args...)) }
