package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultsRoundTripThroughParse(t *testing.T) {
	out, err := Default().YAML()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(out)
	if err != nil {
		t.Fatalf("default document does not validate: %v\n%s", err, out)
	}
	if cfg.Spec.Presence.TTL.D() != 60*time.Second || cfg.Spec.Auth.SessionTTL.D() != 24*time.Hour {
		t.Fatalf("durations lost in round trip: %+v", cfg.Spec)
	}
	if !strings.Contains(string(out), "ttl: 1m0s") {
		t.Fatalf("durations should print as strings:\n%s", out)
	}
}

func TestParse_OmittedFieldsKeepDefaults(t *testing.T) {
	cfg, err := Parse([]byte("apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: x}\nspec:\n  presence: {ttl: 30s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spec.Presence.TTL.D() != 30*time.Second {
		t.Errorf("ttl = %v, want 30s", cfg.Spec.Presence.TTL.D())
	}
	if cfg.Spec.Messaging.MaxBodyLength != 1000 || cfg.Spec.Worker.Queues.Direct != 6 {
		t.Errorf("defaults not kept: %+v", cfg.Spec)
	}
}

func TestParse_ReportsEveryProblemWithItsPath(t *testing.T) {
	doc := `apiVersion: messager.io/v1alpha1
kind: MessagerConfig
metadata: {name: default}
spec:
  presence:
    ttl: -5s
  messaging:
    maxBodyLenght: 10
    historyPageSize: 500
  worker:
    queues: {direct: 0}
  redis: {mode: galaxy}
`
	_, err := Parse([]byte(doc))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	got := map[string]string{}
	for _, p := range ve.Problems {
		got[p.Field] = p.Message
	}
	for path, want := range map[string]string{
		"spec.presence.ttl":              "must be positive",
		"spec.messaging.maxBodyLenght":   "unknown field",
		"spec.messaging.historyPageSize": "between 1 and 200",
		"spec.worker.queues.direct":      "between 1 and 100",
		"spec.redis.mode":                "standalone, sentinel, cluster",
	} {
		if !strings.Contains(got[path], want) {
			t.Errorf("%s: got %q, want it to contain %q (all: %v)", path, got[path], want, ve.Problems)
		}
	}
}

func TestParse_RejectsBadShapes(t *testing.T) {
	for name, doc := range map[string]string{
		"wrong kind":      "apiVersion: messager.io/v1alpha1\nkind: Pod\nmetadata: {name: a}\n",
		"wrong version":   "apiVersion: v1\nkind: MessagerConfig\nmetadata: {name: a}\n",
		"not a duration":  "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {presence: {ttl: soon}}\n",
		"wrong type":      "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {worker: {concurrency: many}}\n",
		"not a mapping":   "- 1\n- 2\n",
		"bad yaml":        "spec: [\n",
		"bad origin":      "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {http: {allowedOrigins: [\"ftp://x/y\"]}}\n",
		"sentinel bare":   "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {redis: {mode: sentinel}}\n",
		"bad sample rate": "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {observability: {tracing: {sampleRatio: 2}}}\n",
		"NaN sample rate": "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {observability: {tracing: {sampleRatio: .nan}}}\n",
		"otlp not http":   "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {observability: {tracing: {otlpEndpoint: \"otel-collector:4318\"}}}\n",
		"otlp grpc":       "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {observability: {tracing: {otlpEndpoint: \"grpc://otel-collector:4317\"}}}\n",
		"otlp query":      "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {observability: {tracing: {otlpEndpoint: \"http://otel-collector:4318/v1/traces?x=1\"}}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(doc)); err == nil {
				t.Fatal("accepted an invalid document")
			}
		})
	}
}

func TestApplyEnv_OverridesTheFile(t *testing.T) {
	cfg := Default()
	env := map[string]string{EnvHTTPAddr: ":9999", EnvRedisURL: "redis://r:6379/1", EnvDatabaseURL: "postgres://db/x", EnvDataDir: "/var/lib/m"}
	cfg.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	s := cfg.Spec
	if s.HTTP.Addr != ":9999" || s.Redis.URL != "redis://r:6379/1" || s.Database.URL != "postgres://db/x" || s.DataDir != "/var/lib/m" {
		t.Fatalf("env not applied: %+v", s)
	}
}

func TestObservabilityFields_DefaultsEnvAndValidation(t *testing.T) {
	d := Default()
	if d.Spec.Worker.CompletedRetention.D() != time.Hour {
		t.Errorf("spec.worker.completedRetention default = %v, want 1h", d.Spec.Worker.CompletedRetention.D())
	}
	if d.Spec.Observability.MetricsAddr != "" || d.Spec.Observability.Asynqmon.PrometheusURL != "" {
		t.Errorf("metricsAddr and asynqmon.prometheusURL must default to empty: %+v", d.Spec.Observability)
	}
	cfg := Default()
	cfg.ApplyEnv(func(k string) (string, bool) { return ":9091", k == EnvMetricsAddr })
	if cfg.Spec.Observability.MetricsAddr != ":9091" {
		t.Errorf("MESSAGER_METRICS_ADDR not applied: %q", cfg.Spec.Observability.MetricsAddr)
	}
	ok := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {worker: {completedRetention: 0s}, observability: {metricsAddr: \":9091\", asynqmon: {prometheusURL: \"http://prometheus:9090\"}}}\n"
	if c, err := Parse([]byte(ok)); err != nil {
		t.Fatalf("valid document refused: %v", err)
	} else if c.Spec.Worker.CompletedRetention != 0 || c.Spec.Observability.MetricsAddr != ":9091" || c.Spec.Observability.Asynqmon.PrometheusURL != "http://prometheus:9090" {
		t.Fatalf("fields not read: %+v", c.Spec)
	}
	for path, spec := range map[string]string{
		"spec.worker.completedRetention":            "{worker: {completedRetention: -1s}}",
		"spec.observability.metricsAddr":            "{observability: {metricsAddr: \"nonsense\"}}",
		"spec.observability.asynqmon.prometheusURL": "{observability: {asynqmon: {prometheusURL: \"prometheus:9090\"}}}",
	} {
		_, err := Parse([]byte("apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: " + spec + "\n"))
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), path+":") {
			t.Errorf("%s: got %v, want a problem naming %s", spec, err, path)
		}
	}
	same := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: a}\nspec: {http: {addr: \":8080\"}, observability: {metricsAddr: \":8080\"}}\n"
	if _, err := Parse([]byte(same)); err == nil || !strings.Contains(err.Error(), "spec.observability.metricsAddr") {
		t.Errorf("metricsAddr equal to http.addr: got %v, want a problem", err)
	}
}
