package main

import (
	"os"
	"path/filepath"
	"testing"
)

// clusterConfig writes the MessagerConfig the cluster tests' processes
// run with: the defaults, without the per-user send limit, because these
// tests send hundreds of messages from one user as fast as they can. The
// limit itself is pinned in internal/app (send_rules_test.go).
func clusterConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "messager.yaml")
	doc := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: cluster-test}\nspec:\n  messaging:\n    sendRateLimit: {perSecond: 0}\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
