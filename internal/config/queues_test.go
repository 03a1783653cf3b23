package config

import (
	"strings"
	"testing"
)

// No task ever used the maintenance queue: it is not a default any more,
// and a config written for an earlier version that still sets it loads.
func TestQueues_MaintenanceIsDeprecatedButStillLoads(t *testing.T) {
	if m := Default().Spec.Worker.Queues.Maintenance; m != 0 {
		t.Fatalf("default maintenance weight %d, want none", m)
	}
	doc := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: x}\nspec:\n  worker: {queues: {direct: 6, broadcast: 3, maintenance: %s}}\n"
	cfg, err := Parse([]byte(strings.Replace(doc, "%s", "1", 1)))
	if err != nil {
		t.Fatalf("an older config with maintenance: 1 is refused: %v", err)
	}
	if cfg.Spec.Worker.Queues.Maintenance != 1 {
		t.Fatalf("maintenance = %d, want 1 kept so the process can warn", cfg.Spec.Worker.Queues.Maintenance)
	}
	if _, err := Parse([]byte(strings.Replace(doc, "%s", "500", 1))); err == nil || !strings.Contains(err.Error(), "spec.worker.queues.maintenance") {
		t.Fatalf("maintenance: 500 = %v, want it refused, naming the field", err)
	}
}

// In sentinel and cluster modes spec.redis.url carries the credentials,
// database and TLS (storage.OpenRedis); a URL it cannot use is refused at
// validation, naming the field, not at the first connection.
func TestValidate_RedisURLInSentinelAndClusterModes(t *testing.T) {
	for _, tc := range []struct {
		mode, url string
		ok        bool
	}{
		{"sentinel", "redis://:secret@ignored/2", true},
		{"sentinel", "rediss://user:secret@ignored", true},
		{"sentinel", "http://ignored", false},
		{"cluster", "redis://:secret@ignored", true},
		{"cluster", "redis://:secret@ignored/0", true},
		{"cluster", "redis://:secret@ignored/3", false},
	} {
		c := Default()
		c.Spec.Redis = Redis{Mode: tc.mode, URL: tc.url, Addrs: []string{"10.0.0.1:26379"}, MasterName: "mymaster"}
		err := c.Validate()
		if tc.ok && err != nil {
			t.Errorf("%s %s: %v", tc.mode, tc.url, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "spec.redis.url")) {
			t.Errorf("%s %s: %v, want it refused, naming spec.redis.url", tc.mode, tc.url, err)
		}
	}
}
