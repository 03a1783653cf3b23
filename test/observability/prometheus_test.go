package observability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/messager/messager/internal/testenv"
	"github.com/messager/messager/internal/testsupport"
)

const repoRoot = "../.."

// Labels the test's scrape config sets the way the chart's scrape does in Kubernetes, so
// the dashboards' namespace and release variables are exercised, not just defaulted.
const (
	testNamespace = "obs-test"
	testRelease   = "obs"
	// decoyJob is another Go service in the same namespace and release (Prometheus
	// scraping itself): it exports go_goroutines and process_* too, and no dashboard
	// query may return its series.
	decoyJob = "decoy-go-service"
)

// Grafana's built-in interval variables, as a dashboard over the last minutes shows them.
var builtins = map[string]string{
	"__rate_interval": "1m", "__interval": "15s", "__range": "5m",
	"__interval_ms": "15000", "__range_s": "300", "__range_ms": "300000",
}

// TestDashboardsAndAlerts_AgainstRealPrometheus runs two `messager api` and a `messager
// worker` on real Redis and PostgreSQL, a real Prometheus scraping them every second,
// and `messager bench` traffic (logins, DMs, broadcasts over WebSocket and SSE). Then it
// evaluates every Grafana panel query and every alert expression through Prometheus'
// HTTP API and fails when one errors, names a metric the processes do not export, returns
// nothing where traffic went, or leaks series of another job.
func TestDashboardsAndAlerts_AgainstRealPrometheus(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("MESSAGER_TEST_REQUIRE_PROMETHEUS") != "" {
			t.Fatal("MESSAGER_TEST_REQUIRE_PROMETHEUS is set but prometheus is not on PATH")
		}
		t.Skip("needs Prometheus on PATH (Debian: apt-get install prometheus; .ci/run installs it)")
	}
	if os.Getenv(testenv.EnvRedisURL) == "" || os.Getenv(testenv.EnvDatabaseURL) == "" {
		t.Skip("needs real Redis and PostgreSQL: set MESSAGER_TEST_REDIS_URL and MESSAGER_TEST_DATABASE_URL")
	}
	bin := testsupport.MessagerBinary(t)
	redisURL, dbURL := testenv.Redis(t), testenv.DatabaseURL(t)
	run(t, []string{"MESSAGER_DATABASE_URL=" + dbURL}, bin, "migrate")

	// The admin metrics listener, when this build has it (spec.observability.metricsAddr).
	adminListener := strings.Contains(run(t, nil, bin, "config", "defaults"), "metricsAddr")
	cfgPath := filepath.Join(t.TempDir(), "messager.yaml")
	// Bench traffic comes from one address and sends as fast as asked: no per-user send
	// limit, and room for the bench's registrations.
	cfg := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: observability-test}\n" +
		"spec:\n  messaging:\n    sendRateLimit: {perSecond: 0}\n  auth:\n    registerRateLimit: {window: 1h, perIP: 1000}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"MESSAGER_REDIS_URL=" + redisURL, "MESSAGER_DATABASE_URL=" + dbURL, "MESSAGER_CONFIG=" + cfgPath}
	apiA := startMessager(t, bin, "api-a", env, adminListener, "api")
	apiB := startMessager(t, bin, "api-b", env, adminListener, "api")
	// The worker reaches PostgreSQL through a proxy the test can cut: a database outage
	// for this worker alone, without stopping a PostgreSQL other tests share.
	dbProxy, proxiedDB := testsupport.StartURLProxy(t, dbURL)
	workerEnv := append(slices.Clone(env), "MESSAGER_DATABASE_URL="+proxiedDB)
	worker := startMessager(t, bin, "worker", workerEnv, adminListener, "worker")
	t.Logf("metrics served on the admin listener: %v", adminListener)

	prom := startPrometheus(t, promBin, apiA, apiB, worker)
	waitFor(t, 30*time.Second, "every scrape target up", func() (bool, string) {
		v, err := prom.query(`count(up == 1)`)
		if err != nil {
			return false, err.Error()
		}
		got := v.firstValue()
		return got == 5, fmt.Sprintf("%v of 5 targets up", got)
	})

	// A failed login, so auth events have more than one kind even before the bench.
	failedLogin(t, apiB.httpAddr)
	// One after the other: a broadcast reaches every user online, so a concurrent run's
	// users would count as unexpected deliveries in the other's accounting.
	for _, b := range []struct {
		p    *proc
		args []string
	}{
		{apiA, []string{"--scenario", "mixed", "--users", "6", "--senders", "2", "--messages", "150", "--rate", "50", "--transport", "ws"}},
		{apiB, []string{"--scenario", "broadcast", "--users", "4", "--messages", "15", "--rate", "5", "--transport", "sse"}},
	} {
		args := append([]string{"bench", "--target", "http://" + b.p.httpAddr, "--drain", "20s", "--history-sample", "3"}, b.args...)
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("messager %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("bench against %s:\n%s", b.p.name, tail(string(out), 1500))
	}
	if t.Failed() {
		t.FailNow()
	}

	// Prometheus must have seen the final counts: its sum equals what the pods say now.
	exported, pages := scrapeAll(t, apiA, apiB, worker)
	want := sumMetric(pages, "messager_messages_accepted_total")
	if want < 165 {
		t.Fatalf("the api pods accepted %v messages, want at least 165", want)
	}
	waitFor(t, 15*time.Second, "Prometheus to see every accepted message", func() (bool, string) {
		v, err := prom.query(`sum(messager_messages_accepted_total{job="messager"})`)
		if err != nil {
			return false, err.Error()
		}
		return v.firstValue() == want, fmt.Sprintf("Prometheus has %v, pods report %v", v.firstValue(), want)
	})
	time.Sleep(3 * time.Second) // one more queue-metrics scrape (every 2 s)
	exported, pages = scrapeAll(t, apiA, apiB, worker)
	logExcerpt(t, pages)

	t.Run("dashboards", func(t *testing.T) { checkDashboards(t, prom, exported) })
	t.Run("alerts", func(t *testing.T) { checkAlerts(t, prom, exported) })
	t.Run("database outage", func(t *testing.T) { checkDatabaseOutage(t, prom, apiA, worker, dbProxy) })
}

// checkDatabaseOutage cuts the worker off PostgreSQL while DMs keep coming, as the
// outage that once gave no API error and no alert: the API still answers 202, so the
// alerts must see it from the worker's task outcomes and its failing readiness.
func checkDatabaseOutage(t *testing.T, prom *prometheus, api, worker *proc, db *testsupport.Proxy) {
	alice, bob := signUp(t, api.httpAddr, "outage-alice"), signUp(t, api.httpAddr, "outage-bob")
	db.Block()
	defer db.Unblock()
	stop, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-stopped }()
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			sendDM(t, api.httpAddr, alice, bob.code, fmt.Sprintf("during the outage %d", i))
			// The kubelet's readiness probe, which a pod in a cluster always has.
			_, _ = httpStatus("http://" + worker.httpAddr + "/readyz")
		}
	}()
	want := map[string]bool{"MessagerSendPathDatabaseDown": false, "MessagerNotReady": false}
	waitFor(t, 90*time.Second, "the database alerts to be pending or firing", func() (bool, string) {
		var alerts struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		if err := prom.get("/api/v1/alerts", nil, &alerts); err != nil {
			return false, err.Error()
		}
		for _, a := range alerts.Alerts {
			if _, ok := want[a.Labels["alertname"]]; ok {
				want[a.Labels["alertname"]] = true
			}
		}
		return want["MessagerSendPathDatabaseDown"] && want["MessagerNotReady"], fmt.Sprintf("active: %v", want)
	})
	res, err := prom.query(`sum by (outcome) (increase(messager_tasks_total[1m]))`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("outage seen by Prometheus: %v task runs by outcome over the last minute; alerts active: %v", res.series, want)
}

// ---------------------------------------------------------------- dashboards

type grafanaPanel struct {
	Title   string         `json:"title"`
	Type    string         `json:"type"`
	Panels  []grafanaPanel `json:"panels"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
		Hide  bool   `json:"hide"`
	} `json:"targets"`
}

type grafanaVariable struct {
	Name       string  `json:"name"`
	Type       string  `json:"type"`
	Query      any     `json:"query"`
	Regex      string  `json:"regex"`
	AllValue   *string `json:"allValue"`
	IncludeAll bool    `json:"includeAll"`
}

type grafanaDashboard struct {
	Title      string         `json:"title"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []grafanaVariable `json:"list"`
	} `json:"templating"`
}

func checkDashboards(t *testing.T, prom *prometheus, exported map[string]bool) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "observability", "grafana", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards found: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var d grafanaDashboard
			if err := json.Unmarshal(data, &d); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			// Once with every variable on "All" (the default), once with the first value of
			// each selected, as someone picking their namespace and release would.
			for _, all := range []bool{true, false} {
				vals := resolveVariables(t, prom, d.Templating.List, all)
				checkDashboardQueries(t, prom, exported, d, vals)
			}
		})
	}
}

func checkDashboardQueries(t *testing.T, prom *prometheus, exported map[string]bool, d grafanaDashboard, vals map[string]string) {
	t.Helper()
	queries := 0
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Hide {
					continue
				}
				queries++
				checkPanelQuery(t, prom, exported, vals, p.Title+" "+tg.RefID, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	t.Logf("%s: %d panel queries evaluated with %v", d.Title, queries, vals)
}

// resolveVariables computes each query variable the way Grafana does, with "All"
// selected (all) or the first value: label_values over the series Prometheus has,
// filtered by the variable's regex, then allValue or the alternation of the values.
// Every variable must find values here: the test's targets carry namespace and release
// labels as the chart's scrape sets them in Kubernetes.
func resolveVariables(t *testing.T, prom *prometheus, vars []grafanaVariable, all bool) map[string]string {
	t.Helper()
	vals := map[string]string{}
	for k, v := range builtins {
		vals[k] = v
	}
	labelValues := regexp.MustCompile(`^\s*label_values\((?:(.*),\s*)?(\w+)\)\s*$`)
	for _, v := range vars {
		if v.Type == "datasource" {
			vals[v.Name] = "prometheus"
			continue
		}
		if v.Type != "query" {
			t.Fatalf("variable %s: type %q not understood by this test", v.Name, v.Type)
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(...)", v.Name, q)
		}
		selector, err := substitute(m[1], vals)
		if err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		if selector == "" {
			selector = fmt.Sprintf(`{%s!=""}`, m[2])
		}
		found, err := prom.labelValues(selector, m[2])
		if err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		if v.Regex != "" {
			re := regexp.MustCompile(strings.TrimSuffix(strings.TrimPrefix(v.Regex, "/"), "/"))
			var kept []string
			for _, f := range found {
				if sm := re.FindStringSubmatch(f); sm != nil {
					if len(sm) > 1 {
						f = sm[1]
					}
					kept = append(kept, f)
				}
			}
			found = kept
		}
		if len(found) == 0 {
			t.Errorf("variable %s: label_values over %s finds no %s", v.Name, selector, m[2])
		}
		for _, f := range found {
			if f == decoyJob {
				t.Errorf("variable %s offers %s, which is not messager", v.Name, decoyJob)
			}
		}
		switch {
		case !all && len(found) > 0:
			vals[v.Name] = regexp.QuoteMeta(found[0])
		case v.IncludeAll && v.AllValue != nil:
			vals[v.Name] = *v.AllValue
		default:
			quoted := make([]string, len(found))
			for i, f := range found {
				quoted[i] = regexp.QuoteMeta(f)
			}
			vals[v.Name] = "(" + strings.Join(quoted, "|") + ")"
		}
	}
	return vals
}

func checkPanelQuery(t *testing.T, prom *prometheus, exported map[string]bool, vals map[string]string, name, expr string) {
	t.Helper()
	q, err := substitute(expr, vals)
	if err != nil {
		t.Errorf("panel %s: %v", name, err)
		return
	}
	for _, n := range metricNames(q) {
		if !exported[n] {
			t.Errorf("panel %s queries %s, which no messager process exports: %s", name, n, expr)
		}
	}
	res, err := prom.query(q)
	if err != nil {
		t.Errorf("panel %s: %v\n%s", name, err, q)
		return
	}
	if len(res.series) == 0 {
		t.Errorf("panel %s: no series after the bench (Grafana shows \"No data\"): %s", name, q)
		return
	}
	numbers := 0
	for _, s := range res.series {
		if s.metric["job"] == decoyJob {
			t.Errorf("panel %s returns a series of %s, another service: %s", name, decoyJob, q)
		}
		if !math.IsNaN(s.value) {
			numbers++
		}
	}
	if numbers == 0 {
		t.Errorf("panel %s: only NaN after the bench (no observations in the window): %s", name, q)
	}
}

// ---------------------------------------------------------------- alerts

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string `yaml:"alert"`
			Record string `yaml:"record"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func checkAlerts(t *testing.T, prom *prometheus, exported map[string]bool) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "observability", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(data, &rf); err != nil {
		t.Fatalf("rules.yaml: %v", err)
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			name := r.Alert + r.Record
			for _, m := range metricNames(r.Expr) {
				if !exported[m] {
					t.Errorf("rule %s uses %s, which no messager process exports", name, m)
				}
			}
			// A rule that should stay quiet on a healthy system may return nothing; it
			// must still evaluate, and its metrics exist (checked above).
			res, err := prom.query(r.Expr)
			if err != nil {
				t.Errorf("rule %s: %v", name, err)
				continue
			}
			if len(res.series) > 0 {
				t.Logf("rule %s returns %d series on a healthy system: %v", name, len(res.series), res.series)
			}
		}
	}
	if n == 0 {
		t.Fatal("rules.yaml holds no rules")
	}

	// Prometheus loaded the same file (rule_files) and evaluated every rule itself.
	var rules struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
				State     string `json:"state"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := prom.get("/api/v1/rules", nil, &rules); err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			loaded++
			if r.Health != "ok" {
				t.Errorf("Prometheus reports rule %s %s: %s", r.Name, r.Health, r.LastError)
			}
			// The bench is a healthy run: no alert should even be pending.
			if r.State != "" && r.State != "inactive" {
				t.Errorf("alert %s is %s after a healthy bench run", r.Name, r.State)
			}
		}
	}
	if loaded != n {
		t.Errorf("Prometheus loaded %d rules, rules.yaml has %d", loaded, n)
	}
	t.Logf("%d rules evaluated; Prometheus loaded %d, all healthy and inactive", n, loaded)
}

// ---------------------------------------------------------------- processes

type proc struct {
	name        string
	httpAddr    string
	metricsAddr string // where /metrics and /metrics/queues are served
}

// run runs bin to completion and returns its output, failing the test on error.
func run(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func startMessager(t *testing.T, bin, name string, env []string, adminListener bool, args ...string) *proc {
	t.Helper()
	metricsAddr := ""
	if adminListener {
		metricsAddr = testsupport.FreeAddr(t)
		env = append(env, "MESSAGER_METRICS_ADDR="+metricsAddr)
	}
	m := testsupport.StartMessager(t, bin, testsupport.Options{Name: name, Args: args, Env: env})
	p := &proc{name: name, httpAddr: m.Addr, metricsAddr: m.Addr}
	if adminListener {
		p.metricsAddr = metricsAddr
	}
	return p
}

func failedLogin(t *testing.T, addr string) {
	t.Helper()
	res, err := http.Post("http://"+addr+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"nobody-here","password":"wrong-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong login answered %d, want 401", res.StatusCode)
	}
}

func httpStatus(u string) (int, error) {
	res, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		done, state := ok()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %s", d, what, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

type account struct{ token, code string }

func postJSON(t *testing.T, u, token string, body any, out any) int {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

func signUp(t *testing.T, addr, name string) account {
	t.Helper()
	creds := map[string]string{"username": name, "email": name + "@example.com", "password": "correct horse battery"}
	if code := postJSON(t, "http://"+addr+"/api/v1/auth/register", "", creds, nil); code != http.StatusCreated {
		t.Fatalf("register %s: %d", name, code)
	}
	var out struct {
		Token string `json:"token"`
		User  struct {
			Usercode string `json:"usercode"`
		} `json:"user"`
	}
	if code := postJSON(t, "http://"+addr+"/api/v1/auth/login", "", creds, &out); code != http.StatusOK || out.Token == "" {
		t.Fatalf("login %s: %d", name, code)
	}
	return account{token: out.Token, code: out.User.Usercode}
}

func sendDM(t *testing.T, addr string, from account, to, body string) {
	msg := map[string]string{"to": to, "body": body, "client_id": fmt.Sprintf("obs-%d", time.Now().UnixNano())}
	if code := postJSON(t, "http://"+addr+"/api/v1/messages", from.token, msg, nil); code != http.StatusAccepted {
		t.Errorf("POST /api/v1/messages during the outage: %d, want 202 (the API only enqueues)", code)
	}
}

// ---------------------------------------------------------------- /metrics

// scrapeAll fetches /metrics of every process and the queue metrics, returning the
// union of metric names (plus up, which Prometheus adds) and the pages themselves.
func scrapeAll(t *testing.T, api, api2, worker *proc) (map[string]bool, map[string]string) {
	t.Helper()
	pages := map[string]string{}
	for _, p := range []*proc{api, api2, worker} {
		pages[p.name+" /metrics"] = fetch(t, "http://"+p.metricsAddr+"/metrics")
	}
	pages[api.name+" /metrics/queues"] = fetch(t, "http://"+api.metricsAddr+"/metrics/queues")
	names := map[string]bool{"up": true}
	for _, page := range pages {
		for _, s := range parseMetrics(page) {
			names[s.name] = true
		}
	}
	return names, pages
}

func fetch(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, body)
	}
	return string(body)
}

type sample struct {
	name, line string
	value      float64
}

// parseMetrics reads the Prometheus text format: one sample per line after the name
// and labels.
func parseMetrics(page string) []sample {
	var out []sample
	sc := bufio.NewScanner(strings.NewReader(page))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		rest := line[len(name):]
		if i := strings.LastIndex(rest, "}"); i >= 0 {
			rest = rest[i+1:]
		}
		v := math.NaN()
		if fields := strings.Fields(rest); len(fields) > 0 {
			if f, err := strconv.ParseFloat(fields[0], 64); err == nil {
				v = f
			}
		}
		out = append(out, sample{name: name, line: line, value: v})
	}
	return out
}

func sumMetric(pages map[string]string, name string) float64 {
	var sum float64
	for _, page := range pages {
		for _, s := range parseMetrics(page) {
			if s.name == name {
				sum += s.value
			}
		}
	}
	return sum
}

// logExcerpt logs what the processes export after the bench: messager's own series
// (histograms by their _count), pools, build info and the queue metrics.
func logExcerpt(t *testing.T, pages map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(pages))
	for k := range pages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "--- %s\n", k)
		for _, s := range parseMetrics(pages[k]) {
			if strings.HasSuffix(s.name, "_bucket") || strings.HasSuffix(s.name, "_sum") {
				continue
			}
			if strings.HasPrefix(s.name, "messager_") || strings.HasPrefix(s.name, "asynq_") || strings.HasPrefix(s.name, "go_sql_") {
				if s.value != 0 || strings.HasPrefix(s.name, "messager_build_info") {
					b.WriteString(s.line + "\n")
				}
			}
		}
	}
	t.Logf("/metrics after the bench (non-zero messager_, asynq_ and go_sql_ series):\n%s", b.String())
	// The whole pages, for a person reading a failure.
	if dir := os.Getenv("MESSAGER_TEST_METRICS_DUMP"); dir != "" {
		for _, k := range keys {
			name := strings.NewReplacer(" ", "", "/", "_").Replace(k) + ".txt"
			if err := os.WriteFile(filepath.Join(dir, name), []byte(pages[k]), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
}

// ---------------------------------------------------------------- Prometheus

type prometheus struct {
	base string
}

// startPrometheus runs Prometheus with a temporary config and TSDB, scraping the
// processes every second and loading the repository's rules.yaml.
func startPrometheus(t *testing.T, promBin string, api, api2, worker *proc) *prometheus {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(filepath.Join(repoRoot, "observability", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	addr := testsupport.FreeAddr(t)
	labels := fmt.Sprintf("{namespace: %s, release: %s", testNamespace, testRelease)
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: messager
    static_configs:
      - targets: [%q, %q]
        labels: %s, component: api}
      - targets: [%q]
        labels: %s, component: worker}
  - job_name: messager-queues
    metrics_path: /metrics/queues
    scrape_interval: 2s
    static_configs:
      - targets: [%q]
        labels: %s}
  - job_name: %s
    static_configs:
      - targets: [%q]
        labels: %s}
`, rules, api.metricsAddr, api2.metricsAddr, labels, worker.metricsAddr, labels, api.metricsAddr, labels, decoyJob, addr, labels)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &prometheus{base: "http://" + addr}
	testsupport.Start(t, promBin, testsupport.Options{
		Name: "prometheus",
		Args: []string{
			"--config.file=" + cfgPath,
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--log.level=warn",
		},
		ReadyURL: p.base + "/-/ready",
	})
	return p
}

type series struct {
	metric map[string]string
	value  float64
}

func (s series) String() string { return fmt.Sprintf("%v=%v", s.metric, s.value) }

type queryResult struct {
	series []series
}

// firstValue is the value of the first series, or NaN when there is none.
func (r queryResult) firstValue() float64 {
	if len(r.series) == 0 {
		return math.NaN()
	}
	return r.series[0].value
}

// get calls the HTTP API and decodes its data field into out.
func (p *prometheus) get(path string, params url.Values, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %d: %w", path, res.StatusCode, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", path, body.Error)
	}
	return json.Unmarshal(body.Data, out)
}

// query evaluates expr at the current time through /api/v1/query.
func (p *prometheus) query(expr string) (queryResult, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return queryResult{}, err
	}
	var r queryResult
	switch data.ResultType {
	case "vector":
		var v []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return r, err
		}
		for _, s := range v {
			f, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
			r.series = append(r.series, series{metric: s.Metric, value: f})
		}
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return r, err
		}
		f, _ := strconv.ParseFloat(fmt.Sprint(v[1]), 64)
		r.series = append(r.series, series{metric: map[string]string{}, value: f})
	default:
		return r, fmt.Errorf("result type %q: panels and alerts must be instant vectors or scalars", data.ResultType)
	}
	return r, nil
}

// labelValues returns the values of label on the series matching selector.
func (p *prometheus) labelValues(selector, label string) ([]string, error) {
	var out []string
	err := p.get("/api/v1/label/"+label+"/values", url.Values{
		"match[]": {selector},
		"start":   {strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)},
	}, &out)
	return out, err
}
