package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = ".."
	repoRoot    = "../../.."
	releaseName = "chat"
	namespace   = "messager"
)

// kubeVersion is set explicitly: the SDK otherwise assumes Kubernetes v1.20, which the
// chart's kubeVersion (>=1.27) refuses.
var kubeVersion = chartutil.KubeVersion{Version: "v1.31.0", Major: "1", Minor: "31"}

// object is one rendered (or committed) Kubernetes manifest, decoded strictly into its type.
type object struct {
	Source string // template (path below templates/) or file it came from
	Kind   string
	Name   string
	Obj    any // pointer to the typed struct
}

// ScaledObject (keda.sh/v1alpha1): only the fields the chart writes. Trigger metadata
// is map[string]string because KEDA rejects non-string values there.
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval"`
		CooldownPeriod  *int32 `json:"cooldownPeriod"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		Triggers        []struct {
			Type              string            `json:"type"`
			Name              string            `json:"name"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
			} `json:"authenticationRef"`
		} `json:"triggers"`
	} `json:"spec"`
}

// TriggerAuthentication (keda.sh/v1alpha1).
type TriggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef"`
	} `json:"spec"`
}

// ServiceMonitor (monitoring.coreos.com/v1).
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string `json:"jobLabel"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
			Relabelings   []struct {
				SourceLabels []string `json:"sourceLabels"`
				TargetLabel  string   `json:"targetLabel"`
			} `json:"relabelings"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// ScrapeConfig (monitoring.coreos.com/v1alpha1).
type ScrapeConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		MetricsPath    string `json:"metricsPath"`
		ScrapeInterval string `json:"scrapeInterval"`
		StaticConfigs  []struct {
			Targets []string          `json:"targets"`
			Labels  map[string]string `json:"labels"`
		} `json:"staticConfigs"`
	} `json:"spec"`
}

// newTyped returns a pointer to the struct that a manifest of apiVersion/kind must decode into.
func newTyped(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Secret":
		return &corev1.Secret{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1/Namespace":
		return &corev1.Namespace{}, true
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}, true
	case "batch/v1/Job":
		return &batchv1.Job{}, true
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}, true
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	case "apiextensions.k8s.io/v1/CustomResourceDefinition":
		return &apiextensionsv1.CustomResourceDefinition{}, true
	case "keda.sh/v1alpha1/ScaledObject":
		return &ScaledObject{}, true
	case "keda.sh/v1alpha1/TriggerAuthentication":
		return &TriggerAuthentication{}, true
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &ServiceMonitor{}, true
	case "monitoring.coreos.com/v1alpha1/ScrapeConfig":
		return &ScrapeConfig{}, true
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &PrometheusRule{}, true
	}
	return nil, false
}

// decodeStrict decodes one YAML manifest into its typed struct; unknown or duplicate
// fields are errors.
func decodeStrict(source string, doc []byte) (object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return object{}, fmt.Errorf("%s: %w", source, err)
	}
	obj, ok := newTyped(tm.APIVersion, tm.Kind)
	if !ok {
		return object{}, fmt.Errorf("%s: no type known for %s %s", source, tm.APIVersion, tm.Kind)
	}
	// YAML → JSON without looking at the target type (as kubectl does), so a number
	// where a string belongs stays an error instead of being converted; then JSON with
	// unknown fields refused.
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return object{}, fmt.Errorf("%s: %s %s: %w", source, tm.APIVersion, tm.Kind, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return object{}, fmt.Errorf("%s: %s %s: %w", source, tm.APIVersion, tm.Kind, err)
	}
	name := ""
	if m, ok := obj.(metav1.Object); ok {
		name = m.GetName()
	}
	return object{Source: source, Kind: tm.Kind, Name: name, Obj: obj}, nil
}

// splitDocs splits a multi-document YAML stream the way Helm does, dropping documents
// that hold only comments or whitespace.
func splitDocs(s string) []string {
	m := releaseutil.SplitManifests(s)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// keys are "manifest-N": order by N.
	sort.Slice(keys, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimPrefix(keys[i], "manifest-"))
		b, _ := strconv.Atoi(strings.TrimPrefix(keys[j], "manifest-"))
		return a < b
	})
	var out []string
	for _, k := range keys {
		if hasContent(m[k]) {
			out = append(out, m[k])
		}
	}
	return out
}

func hasContent(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		l := strings.TrimSpace(line)
		if l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

func parseValues(t *testing.T, valuesYAML string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValues([]byte(valuesYAML))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	return v.AsMap()
}

// renderChart renders the chart as `helm install chat --namespace messager` would, with
// the given values YAML over values.yaml (schema validation included).
func renderChart(t *testing.T, valuesYAML string) (map[string]string, error) {
	t.Helper()
	c := loadChart(t)
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = kubeVersion
	vals, err := chartutil.ToRenderValues(c, parseValues(t, valuesYAML), chartutil.ReleaseOptions{
		Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, err
	}
	return engine.Render(c, vals)
}

// rendered is the decoded output of one render.
type rendered struct {
	Objects []object
	Notes   string
}

// render renders and decodes every object strictly, failing the test on any error.
func render(t *testing.T, valuesYAML string) rendered {
	t.Helper()
	files, err := renderChart(t, valuesYAML)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var r rendered
	for _, name := range names {
		content := files[name]
		switch {
		case strings.HasSuffix(name, "NOTES.txt"):
			r.Notes = content
			continue
		case !strings.HasSuffix(name, ".yaml"):
			if hasContent(content) {
				t.Errorf("%s: rendered output from a non-.yaml template", name)
			}
			continue
		}
		for _, doc := range splitDocs(content) {
			// The template's path below templates/ (api/deployment.yaml): base names
			// repeat across the component directories.
			o, err := decodeStrict(strings.TrimPrefix(name, "messager/templates/"), []byte(doc))
			if err != nil {
				t.Errorf("%v\n---\n%s", err, doc)
				continue
			}
			r.Objects = append(r.Objects, o)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return r
}

// kinds counts the rendered objects per kind.
func (r rendered) kinds() map[string]int {
	m := map[string]int{}
	for _, o := range r.Objects {
		m[o.Kind]++
	}
	return m
}

// find returns the object of that kind and name, failing the test when absent.
func find[T any](t *testing.T, r rendered, name string) *T {
	t.Helper()
	for _, o := range r.Objects {
		if v, ok := o.Obj.(*T); ok && o.Name == name {
			return v
		}
	}
	t.Fatalf("no %T named %q among %v", new(T), name, r.names())
	return nil
}

// all returns every object of type T.
func all[T any](r rendered) []*T {
	var out []*T
	for _, o := range r.Objects {
		if v, ok := o.Obj.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

func (r rendered) names() []string {
	var out []string
	for _, o := range r.Objects {
		out = append(out, o.Kind+"/"+o.Name)
	}
	return out
}

// decodeFile decodes every document of a committed manifest file strictly.
func decodeFile(t *testing.T, path string) []object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []object
	for _, doc := range splitDocs(string(data)) {
		o, err := decodeStrict(path, []byte(doc))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		out = append(out, o)
	}
	return out
}

var blankLines = regexp.MustCompile(`\n\s*\n`)

// compact trims a rendered document for error messages.
func compact(b []byte) string { return string(bytes.TrimSpace(blankLines.ReplaceAll(b, []byte("\n")))) }

func metav1LabelSelector(sm *ServiceMonitor) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
}
