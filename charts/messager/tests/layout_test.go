package tests

import (
	"path"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Templates are grouped by component: an object labelled app.kubernetes.io/component: X
// comes from templates/X/, and a component directory holds only that component's
// objects, so a newcomer finds the api's Ingress in api/ and the hook Job in migrate/.
// Objects of no component (config, Secret, ServiceAccount) sit at the top level;
// Prometheus-operator and Grafana objects in monitoring/.
func TestLayout_EachComponentsObjectsLiveInItsDirectory(t *testing.T) {
	r := render(t, valuesKEDA+valuesMonitoring[len(valuesURLs):]+valuesIngress[len(valuesURLs):]+
		valuesNetworkPolicy[len(valuesURLs):]+"redis: {enabled: true}\n")
	dirs := map[string]bool{}
	for _, o := range r.Objects {
		m, ok := o.Obj.(metav1.Object)
		if !ok {
			t.Fatalf("%s: %T has no metadata", o.Source, o.Obj)
		}
		component := m.GetLabels()["app.kubernetes.io/component"]
		dir := path.Dir(o.Source)
		dirs[dir] = true
		switch {
		case component != "" && dir != component:
			t.Errorf("%s %s (component %q) is rendered from %s, want templates/%s/", o.Kind, o.Name, component, o.Source, component)
		case component == "" && dir != "." && dir != "monitoring":
			t.Errorf("%s %s has no component label but is rendered from %s", o.Kind, o.Name, o.Source)
		}
	}
	// The value set above must reach every directory, or the test proves less than it says.
	for _, d := range []string{".", "api", "worker", "migrate", "redis", "monitoring"} {
		if !dirs[d] {
			t.Errorf("no object rendered from templates/%s", d)
		}
	}
}
