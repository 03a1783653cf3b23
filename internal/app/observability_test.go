package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/delivery"
)

// grantAdmin makes c's account an admin, as `messager admin grant` does.
func grantAdmin(t *testing.T, a *App, c *client) {
	t.Helper()
	cfg := *a.cfg
	if _, err := SetAdmin(context.Background(), &cfg, c.user.Username, true); err != nil {
		t.Fatal(err)
	}
}

// scrape returns the text exposition of url.
func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data)
}

// sample finds the value of the series whose line starts with series
// (name{labels in exposition order}).
func sample(text, series string) (string, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest, true
		}
	}
	return "", false
}

// An operator sees in the task monitor what ran, when, how long it took
// and where (Flower's task history), and never a message body: not in a
// pending task, not in a completed one.
func TestTaskMonitor_KeepsCompletedTasksWithRuntimeAndNeverShowsBodies(t *testing.T) {
	b := newBackends(t)
	api := startApp(t, ModeAPI, b)
	admin := newUser(t, api, "ops")
	grantAdmin(t, api, admin)
	r := newUser(t, api, "rcpt")
	const secret = "the launch code is 0000"
	m := admin.send(r.user.Usercode, secret)

	// No worker yet: the task waits.
	res, body := admin.do("GET", "/monitoring/api/queues/"+delivery.QueueDirect+"/pending_tasks", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), m.ID) {
		t.Fatalf("pending tasks: %d %s; want the message's task listed by its id", res.StatusCode, body)
	}
	if strings.Contains(string(body), "launch code") {
		t.Fatalf("asynqmon shows a message body in a pending task: %s", body)
	}
	if !strings.Contains(string(body), fmt.Sprintf(`\"body_length\":%d`, len(secret))) {
		t.Errorf("pending task does not show the body length: %s", body)
	}

	startApp(t, ModeWorker, b)
	opt, err := redis.ParseURL(b.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	insp := asynq.NewInspectorFromRedisClient(rdb)
	var done *asynq.TaskInfo
	deadline := time.Now().Add(deliveryTimeout)
	for done == nil {
		tasks, err := insp.ListCompletedTasks(delivery.QueueDirect)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range tasks {
			if strings.Contains(delivery.SummarizePayload(ti.Type, ti.Payload), m.ID) {
				done = ti
			}
		}
		if done == nil && time.Now().After(deadline) {
			t.Fatal("the delivered task is not among the completed tasks: asynq keeps none without Retention")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var run delivery.Run
	if err := json.Unmarshal(done.Result, &run); err != nil || run.Worker == "" || run.RuntimeMS <= 0 || run.StartedAt.IsZero() {
		t.Fatalf("completed task's result %q (%v): want its worker, start and runtime", done.Result, err)
	}
	if done.Retention != time.Hour || done.CompletedAt.IsZero() {
		t.Errorf("completed task: retention %v, completed at %v; want 1h (the default) and a time", done.Retention, done.CompletedAt)
	}

	res, body = admin.do("GET", "/monitoring/api/queues/"+delivery.QueueDirect+"/completed_tasks", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), m.ID) || !strings.Contains(string(body), "runtime_ms") {
		t.Fatalf("completed tasks in asynqmon: %d %s; want the task with its runtime", res.StatusCode, body)
	}
	if strings.Contains(string(body), "launch code") {
		t.Fatalf("asynqmon shows a message body in a completed task: %s", body)
	}
	res, body = admin.do("GET", "/monitoring/api/queues/"+delivery.QueueDirect+"/tasks/"+done.ID, nil)
	if res.StatusCode != http.StatusOK || strings.Contains(string(body), "launch code") {
		t.Fatalf("one task in asynqmon: %d %s", res.StatusCode, body)
	}
}

// spec.worker.completedRetention: 0 keeps no completed task.
func TestTaskMonitor_ZeroRetentionKeepsNoCompletedTasks(t *testing.T) {
	b := newBackends(t)
	zero := func(c *config.Config) { c.Spec.Worker.CompletedRetention = 0 }
	pod := startApp(t, ModeAll, b, zero)
	s, r := newUser(t, pod, "sender"), newUser(t, pod, "rcpt")
	st := r.stream("")
	m := s.send(r.user.Usercode, "not kept")
	if got, ok := st.nextMessage(deliveryTimeout); !ok || got.ID != m.ID {
		t.Fatal("not delivered")
	}
	opt, _ := redis.ParseURL(b.redisURL)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	time.Sleep(200 * time.Millisecond)
	if tasks, err := asynq.NewInspectorFromRedisClient(rdb).ListCompletedTasks(delivery.QueueDirect); err != nil || len(tasks) != 0 {
		t.Fatalf("completed tasks with retention 0: %d (%v), want none", len(tasks), err)
	}
}

// asynqmon's Metrics charts query spec.observability.asynqmon.prometheusURL;
// without one the UI hides them and the API says why instead of a 500.
func TestTaskMonitor_MetricsComeFromTheConfiguredPrometheus(t *testing.T) {
	var queries atomic.Int64
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/query_range" && r.URL.Query().Get("query") != "" {
			queries.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
	}))
	t.Cleanup(prom.Close)
	b := newBackends(t)
	with := startApp(t, ModeAPI, b, func(c *config.Config) { c.Spec.Observability.Asynqmon.PrometheusURL = prom.URL })
	admin := newUser(t, with, "ops")
	grantAdmin(t, with, admin)
	res, body := admin.do("GET", "/monitoring/api/metrics?duration=600", nil)
	if res.StatusCode != http.StatusOK || queries.Load() == 0 {
		t.Fatalf("with prometheusURL: %d %s after %d queries; want 200 from Prometheus", res.StatusCode, body, queries.Load())
	}
	// The page carries the address (JS-escaped) and shows its Metrics view.
	if _, page := admin.do("GET", "/monitoring/", nil); !strings.Contains(string(page), strings.TrimPrefix(prom.URL, "http://")) {
		t.Errorf("the UI is not told the Prometheus address, so it hides its Metrics view")
	}

	without := startApp(t, ModeAPI, b)
	res, body = admin.on(without).do("GET", "/monitoring/api/metrics", nil)
	if res.StatusCode >= 500 {
		t.Fatalf("without prometheusURL: %d %s; want no server error", res.StatusCode, body)
	}
	if !strings.Contains(string(body), "prometheusURL") {
		t.Errorf("without prometheusURL the answer does not say what to set: %s", body)
	}
}

// With spec.observability.metricsAddr set, /metrics, /metrics/queues and
// /debug/pprof/ are served there only: the public port, which the Ingress
// routes, answers 404.
func TestMetricsAddr_AdminListenerAloneServesMetricsAndPprof(t *testing.T) {
	b := newBackends(t)
	for _, mode := range []Mode{ModeAPI, ModeWorker} {
		t.Run(string(mode), func(t *testing.T) {
			a := startAppOpts(t, mode, b, func(o *Options) { o.Pprof = true },
				func(c *config.Config) { c.Spec.Observability.MetricsAddr = "127.0.0.1:0" })
			if a.MetricsAddr() == "" || a.MetricsAddr() == a.Addr() {
				t.Fatalf("metrics listener %q beside %q", a.MetricsAddr(), a.Addr())
			}
			paths := []string{"/metrics", "/debug/pprof/"}
			if mode == ModeAPI {
				paths = append(paths, "/metrics/queues")
			}
			for _, p := range paths {
				if code, body := scrape(t, "http://"+a.MetricsAddr()+p); code != http.StatusOK {
					t.Errorf("admin %s: %d %.200s", p, code, body)
				}
				if code, _ := scrape(t, "http://"+a.Addr()+p); code != http.StatusNotFound {
					t.Errorf("public %s: %d, want 404", p, code)
				}
			}
			if code, _ := scrape(t, "http://"+a.Addr()+"/healthz"); code != http.StatusOK {
				t.Errorf("public /healthz: %d (probes stay on the main port)", code)
			}
		})
	}
	// Unset (the laptop default), metrics stay on the main port.
	a := startApp(t, ModeAPI, b)
	if a.MetricsAddr() != "" {
		t.Fatalf("metrics listener %q without metricsAddr", a.MetricsAddr())
	}
	if code, _ := scrape(t, "http://"+a.Addr()+"/metrics"); code != http.StatusOK {
		t.Fatalf("/metrics on the main port without metricsAddr: %d", code)
	}
}

// Error series exist before the first error, so increase() over a window
// counts the first 4xx: every known route has its codes at 0 from start.
func TestHTTPMetrics_ErrorSeriesExistBeforeTheFirstError(t *testing.T) {
	a := startApp(t, ModeAPI, newBackends(t))
	url := "http://" + a.Addr() + "/metrics"
	_, text := scrape(t, url)
	for _, s := range []string{
		`messager_http_requests_total{code="401",method="GET",route="/api/v1/messages"}`,
		`messager_http_requests_total{code="422",method="POST",route="/api/v1/auth/register"}`,
		`messager_http_requests_total{code="429",method="POST",route="/api/v1/auth/login"}`,
		`messager_http_requests_total{code="503",method="POST",route="/api/v1/messages"}`,
		`messager_http_requests_total{code="202",method="POST",route="/api/v1/messages"}`,
	} {
		if v, ok := sample(text, s); !ok || v != "0" {
			t.Errorf("%s = %q (exists %v) before any request, want 0", s, v, ok)
		}
	}
	if res, _ := (&client{t: t, base: "http://" + a.Addr()}).do("GET", "/api/v1/messages", nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous history: %d", res.StatusCode)
	}
	_, text = scrape(t, url)
	if v, _ := sample(text, `messager_http_requests_total{code="401",method="GET",route="/api/v1/messages"}`); v != "1" {
		t.Fatalf("the first 401 landed on another series than the pre-created one (value %q)", v)
	}
	// Login (argon2id) can take seconds under load: the buckets reach past it.
	if _, ok := sample(text, `messager_http_request_duration_seconds_bucket{method="GET",route="/api/v1/messages",le="30"}`); !ok {
		t.Errorf("HTTP latency buckets stop short of 30 s")
	}
}

// The series the dashboards and alerts read are exported, at 0 before
// their first event.
func TestMetrics_DashboardSeriesAreExported(t *testing.T) {
	b := newBackends(t)
	a := startApp(t, ModeAll, b)
	u := newUser(t, a, "dash")
	if res, _ := (&client{t: t, base: u.base}).do("POST", "/api/v1/auth/login", map[string]string{"username": u.user.Username, "password": "wrong password!"}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	_, text := scrape(t, "http://"+a.Addr()+"/metrics")
	for series, want := range map[string]string{
		`messager_auth_events_total{event="register"}`:                          "1",
		`messager_auth_events_total{event="login_succeeded"}`:                   "1",
		`messager_auth_events_total{event="login_failed"}`:                      "1",
		`messager_auth_events_total{event="login_limited"}`:                     "0",
		`messager_auth_events_total{event="logout"}`:                            "0",
		`messager_presence_online_users`:                                        "1",
		`messager_pubsub_resubscribes_total`:                                    "0",
		`messager_stream_write_errors_total{transport="ws"}`:                    "0",
		`messager_stream_write_errors_total{transport="sse"}`:                   "0",
		`messager_worker_up`:                                                    "1",
		`messager_tasks_total{outcome="archived",type="message:deliver-batch"}`: "0",
		`messager_tasks_total{outcome="retried",type="message:deliver"}`:        "0",
	} {
		if v, ok := sample(text, series); !ok || v != want {
			t.Errorf("%s = %q (exists %v), want %s", series, v, ok, want)
		}
	}
	for _, prefix := range []string{
		`messager_build_info{goversion="go`,
		`go_sql_open_connections{db_name="messager"}`,
		`go_sql_wait_count_total{db_name="messager"}`,
		`messager_redis_pool_connections{state="total"}`,
		`messager_redis_pool_connections{state="idle"}`,
		`messager_redis_pool_hits_total`,
		`messager_redis_pool_misses_total`,
		`messager_redis_pool_timeouts_total`,
	} {
		if !strings.Contains(text, "\n"+prefix) {
			t.Errorf("no %s… in /metrics", prefix)
		}
	}
}
