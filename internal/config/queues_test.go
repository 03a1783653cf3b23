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
