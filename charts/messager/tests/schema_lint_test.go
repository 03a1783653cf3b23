package tests

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

func TestValuesSchema_RejectsBadValues(t *testing.T) {
	c := loadChart(t)
	validate := func(valuesYAML string) error {
		vals, err := chartutil.CoalesceValues(c, parseValues(t, valuesYAML))
		if err != nil {
			t.Fatal(err)
		}
		return chartutil.ValidateAgainstSchema(c, vals)
	}
	if err := validate(""); err != nil {
		t.Fatalf("default values fail their own schema: %v", err)
	}
	if err := validate(valuesKEDA + valuesMonitoring[len(valuesURLs):]); err != nil {
		t.Fatalf("valid values refused: %v", err)
	}
	cases := []struct{ name, values, want string }{
		{"negative replicas", `api: {replicaCount: -1}`, "replicaCount"},
		{"replicas as a string", `worker: {replicaCount: "two"}`, "replicaCount"},
		{"unknown top-level key", `replicaCount: 2`, "replicaCount"},
		{"misspelt config field", `config: {presence: {ttl: 60s, tll: 30s}}`, "tll"},
		{"duration that is not one", `config: {presence: {ttl: soon}}`, "ttl"},
		{"unknown redis mode", `config: {redis: {mode: replicated}}`, "mode"},
		{"zero worker concurrency", `config: {worker: {concurrency: 0}}`, "concurrency"},
		{"KEDA on a queue that does not exist", `autoscaling: {keda: {queues: [{name: default, listLength: 10}]}}`, "name"},
		{"port out of range", `api: {service: {port: 70000}}`, "port"},
		{"bad pull policy", `image: {pullPolicy: Sometimes}`, "pullPolicy"},
		{"extraEnv as a map", `api: {extraEnv: {LOG_LEVEL: debug}}`, "extraEnv"},
		{"env var without a name", `worker: {extraEnv: [{value: debug}]}`, "name"},
		{"extraVolumes as a string", `worker: {extraVolumes: "ca-bundle"}`, "extraVolumes"},
		{"volume mount without a path", `api: {extraVolumeMounts: [{name: ca}]}`, "mountPath"},
		{"migration extraVolumeMounts as a map", `migration: {extraVolumeMounts: {ca: /etc/ca}}`, "extraVolumeMounts"},
		{"top-level extraEnv item not an object", `extraEnv: [LOG_LEVEL=debug]`, "extraEnv"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := validate(tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one naming %q", err, tc.want)
			}
			// helm install/template refuse them the same way.
			if _, err := renderChart(t, tc.values); err == nil {
				t.Error("chart rendered with values its schema refuses")
			}
		})
	}
}

func TestHelmLint_PassesWithoutWarnings(t *testing.T) {
	kv := kubeVersion
	for _, tc := range []struct{ name, values string }{
		{"defaults", ""},
		{"everything on", valuesKEDA + valuesMonitoring[len(valuesURLs):] + valuesIngress[len(valuesURLs):] + valuesNetworkPolicy[len(valuesURLs):]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			linter := lint.AllWithKubeVersion(chartDir, parseValues(t, tc.values), namespace, &kv)
			for _, m := range linter.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %s", m)
				} else {
					t.Logf("lint: %s", m)
				}
			}
		})
	}
}

// The lint test above would be worthless if lint passed everything.
// (In lint mode Helm turns `required` into a no-op, so a schema violation is used.)
func TestHelmLint_ReportsBadValues(t *testing.T) {
	kv := kubeVersion
	linter := lint.AllWithKubeVersion(chartDir, parseValues(t, `api: {replicaCount: -1}`), namespace, &kv)
	if linter.HighestSeverity < support.ErrorSev {
		t.Errorf("lint passed values the schema refuses: %v", linter.Messages)
	}
}
