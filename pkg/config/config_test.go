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
		got[p.Path] = p.Message
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
