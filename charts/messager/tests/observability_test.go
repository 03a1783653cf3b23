package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var observabilityDir = filepath.Join(repoRoot, "observability")

// exportedMetrics are the series the product exports (the decided list), plus the
// suffixes histograms expose and the Go/process collector series the dashboard uses.
var exportedMetrics = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{
		"messager_http_requests_total", "messager_messages_accepted_total", "messager_messages_persisted_total",
		"messager_stream_connections", "messager_stream_events_sent_total", "messager_stream_slow_consumers_total",
		"asynq_queue_size", "asynq_tasks_enqueued_total", "asynq_tasks_processed_total", "asynq_tasks_failed_total",
		"process_resident_memory_bytes", "process_cpu_seconds_total", "go_goroutines",
	} {
		m[n] = true
	}
	for _, h := range []string{"messager_http_request_duration_seconds", "messager_delivery_seconds", "messager_worker_task_duration_seconds", "messager_worker_task_messages"} {
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			m[h+s] = true
		}
	}
	return m
}()

var (
	promStrings   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promMatchers  = regexp.MustCompile(`\{[^{}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\[\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords  = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true}
	promNumberEnd = regexp.MustCompile(`[0-9.]$`)
)

// metricNames returns the metric names a PromQL expression selects: identifiers that are
// not functions, aggregations, keywords, labels, strings or durations.
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || promKeywords[strings.ToLower(name)] || promNumberEnd.MatchString(s[:loc[0]]) {
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestMetricNames_FindsSelectorsOnly(t *testing.T) {
	got := metricNames(`sum by (queue) (rate(foo_total{state=~"a|b", x='y'}[$__rate_interval] offset 5m)) / on(queue) group_left bar > 1e3 and histogram_quantile(0.99, baz_bucket)`)
	if want := []string{"foo_total", "bar", "baz_bucket"}; !slices.Equal(got, want) {
		t.Errorf("metricNames = %q, want %q", got, want)
	}
}

type grafanaPanel struct {
	Title   string         `json:"title"`
	Type    string         `json:"type"`
	Panels  []grafanaPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func TestGrafanaDashboard_QueriesOnlyExportedMetricsAndCoversThem(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(observabilityDir, "grafana", "dashboards", "messager.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string         `json:"uid"`
		Title  string         `json:"title"`
		Panels []grafanaPanel `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Error("dashboard has no uid or title")
	}
	used := map[string]bool{}
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
				names := metricNames(tg.Expr)
				if len(names) == 0 {
					t.Errorf("panel %q: no metric in %q", p.Title, tg.Expr)
				}
				for _, n := range names {
					used[n] = true
					if !exportedMetrics[n] {
						t.Errorf("panel %q queries %s, which messager does not export", p.Title, n)
					}
				}
				if regexp.MustCompile(`sum[^(]*\(\s*asynq_tasks_enqueued_total`).MatchString(tg.Expr) {
					t.Errorf("panel %q sums asynq_tasks_enqueued_total, a per-scrape gauge: use max", p.Title)
				}
			}
		}
	}
	walk(dash.Panels)
	// What the dashboard is for: each of these must be on it.
	for _, n := range []string{
		"messager_http_requests_total", "messager_http_request_duration_seconds_bucket",
		"messager_messages_accepted_total", "messager_messages_persisted_total", "messager_delivery_seconds_bucket",
		"messager_stream_connections", "messager_stream_slow_consumers_total", "asynq_tasks_enqueued_total",
		"asynq_tasks_processed_total", "asynq_tasks_failed_total", "process_resident_memory_bytes", "go_goroutines",
	} {
		if !used[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
}

func TestPrometheusRules_ParseAndAlertOnWhatMatters(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(observabilityDir, "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The rule file format (Prometheus' rulefmt), closed to unknown fields.
	var rules struct {
		Groups []struct {
			Name     string `json:"name"`
			Interval string `json:"interval,omitempty"`
			Rules    []struct {
				Alert       string            `json:"alert,omitempty"`
				Record      string            `json:"record,omitempty"`
				Expr        string            `json:"expr"`
				For         string            `json:"for,omitempty"`
				Labels      map[string]string `json:"labels,omitempty"`
				Annotations map[string]string `json:"annotations,omitempty"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(data, &rules); err != nil {
		t.Fatalf("rules.yaml: %v", err)
	}
	alerts := map[string]string{}
	for _, g := range rules.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q is unnamed or empty", g.Name)
		}
		for _, r := range g.Rules {
			if (r.Alert == "") == (r.Record == "") {
				t.Errorf("rule %q%q must be exactly one of alert or record", r.Alert, r.Record)
			}
			if r.Alert != "" {
				if _, dup := alerts[r.Alert]; dup {
					t.Errorf("alert %s defined twice", r.Alert)
				}
				alerts[r.Alert] = r.Expr
				if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
					t.Errorf("alert %s lacks a severity label or a summary", r.Alert)
				}
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("rule %s: unbalanced parentheses in %q", r.Alert, r.Expr)
			}
			for _, n := range metricNames(r.Expr) {
				if !exportedMetrics[n] {
					t.Errorf("rule %s uses %s, which messager does not export", r.Alert, n)
				}
			}
		}
	}
	for _, want := range []struct{ alert, metric string }{
		{"MessagerQueueBacklogGrowing", `asynq_tasks_enqueued_total{state="pending"}`},
		{"MessagerArchivedTasks", `asynq_tasks_enqueued_total{state="archived"}`},
		{"MessagerDeliveryLatencyHigh", "messager_delivery_seconds_bucket"},
		{"MessagerAPIErrorRatioHigh", `code=~"5.."`},
		{"MessagerSlowConsumers", "messager_stream_slow_consumers_total"},
	} {
		expr, ok := alerts[want.alert]
		if !ok {
			t.Errorf("no alert %s", want.alert)
		} else if !strings.Contains(expr, want.metric) {
			t.Errorf("alert %s does not look at %s: %s", want.alert, want.metric, expr)
		}
	}
}

func TestPrometheusConfig_ScrapesQueuesFromOneTarget(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(observabilityDir, "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Global        map[string]any `json:"global"`
		RuleFiles     []string       `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName        string `json:"job_name"`
			MetricsPath    string `json:"metrics_path"`
			ScrapeInterval string `json:"scrape_interval"`
			StaticConfigs  []struct {
				Targets []string          `json:"targets"`
				Labels  map[string]string `json:"labels"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	if !slices.Contains(cfg.RuleFiles, "/etc/prometheus/rules.yaml") {
		t.Errorf("rule_files %q does not load rules.yaml (mounted at /etc/prometheus)", cfg.RuleFiles)
	}
	compose := loadCompose(t)
	targets := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets[sc.MetricsPath] = append(targets[sc.MetricsPath], st.Targets...)
		}
	}
	var perPod []string
	for _, tg := range targets["/metrics"] {
		host, _, _ := strings.Cut(tg, ":")
		if _, ok := compose[host]; !ok {
			t.Errorf("/metrics target %s is not a compose service", tg)
		}
		perPod = append(perPod, host)
	}
	sort.Strings(perPod)
	if want := []string{"api", "api2", "worker"}; !slices.Equal(perPod, want) {
		t.Errorf("/metrics scraped from %q, want %q", perPod, want)
	}
	if q := targets["/metrics/queues"]; len(q) != 1 {
		t.Errorf("/metrics/queues scraped from %q, want exactly one target", q)
	}
}
