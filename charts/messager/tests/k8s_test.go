package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/messager/messager/internal/config"
	"github.com/santhosh-tekuri/jsonschema/v6"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

var k8sDir = filepath.Join(repoRoot, "k8s")

// kustomizeBuild runs `kustomize build dir` in process and decodes every object strictly.
func kustomizeBuild(t *testing.T, dir string) rendered {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := resMap.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var r rendered
	for _, doc := range splitDocs(string(out)) {
		o, err := decodeStrict(dir, []byte(doc))
		if err != nil {
			t.Errorf("%v\n---\n%s", err, doc)
			continue
		}
		r.Objects = append(r.Objects, o)
	}
	if t.Failed() {
		t.FailNow()
	}
	return r
}

func TestK8sBase_EveryFileIsListedAndDecodesStrictly(t *testing.T) {
	dir := filepath.Join(k8sDir, "base")
	var kust struct {
		Resources []string `json:"resources"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kust); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var onDisk []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			onDisk = append(onDisk, b)
			decodeFile(t, f)
		}
	}
	listed := slices.Clone(kust.Resources)
	sort.Strings(listed)
	if !slices.Equal(listed, onDisk) {
		t.Errorf("kustomization resources %q, files on disk %q", listed, onDisk)
	}
}

func TestK8sBase_BuildsIntoAWorkingDeployment(t *testing.T) {
	r := kustomizeBuild(t, filepath.Join(k8sDir, "base"))
	want := map[string]int{
		"Namespace": 1, "ServiceAccount": 1, "ConfigMap": 1, "Secret": 1, "Job": 1, "Deployment": 2,
		"Service": 2, "HorizontalPodAutoscaler": 2, "PodDisruptionBudget": 2,
	}
	if got := r.kinds(); !mapsEqual(got, want) {
		t.Errorf("objects per kind = %v, want %v", got, want)
	}
	for _, o := range r.Objects {
		if m, ok := o.Obj.(interface{ GetNamespace() string }); ok && o.Kind != "Namespace" && m.GetNamespace() != "messager" {
			t.Errorf("%s/%s in namespace %q", o.Kind, o.Name, m.GetNamespace())
		}
	}
	cm := find[corev1.ConfigMap](t, r, "messager-config")
	cfg, err := config.Parse([]byte(cm.Data["config.yaml"]))
	if err != nil {
		t.Fatalf("k8s/base config.yaml: %v", err)
	}
	secret := find[corev1.Secret](t, r, "messager-env")
	for _, tc := range []struct {
		name, sub string
		shutdown  time.Duration
	}{
		{"messager-api", "api", cfg.Spec.HTTP.ShutdownTimeout.D()},
		{"messager-worker", "worker", cfg.Spec.Worker.ShutdownTimeout.D()},
	} {
		d := find[appsv1.Deployment](t, r, tc.name)
		pod := d.Spec.Template.Spec
		c := pod.Containers[0]
		if c.Image != "messager/messager:0.1.0" || len(c.Args) == 0 || c.Args[0] != tc.sub {
			t.Errorf("%s runs %s %q", tc.name, c.Image, c.Args)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("%s probes are not /readyz and /healthz", tc.name)
		}
		var preStop time.Duration
		if tc.sub == "api" {
			// See TestAPI_TerminatingPodKeepsServingUntilItLeavesTheEndpoints.
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 5 {
				t.Errorf("%s has no preStop sleep of at least 5s: %+v", tc.name, c.Lifecycle)
			} else {
				preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
			}
		}
		if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= preStop+tc.shutdown {
			t.Errorf("%s grace period %v does not exceed preStop %v + %v", tc.name, g, preStop, tc.shutdown)
		}
		if sc := c.SecurityContext; sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*sc.RunAsNonRoot {
			t.Errorf("%s container securityContext is not locked down", tc.name)
		}
		for _, env := range []string{"MESSAGER_DATABASE_URL", "MESSAGER_REDIS_URL"} {
			e := envVar(c, env)
			if e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != secret.Name {
				t.Errorf("%s: %s not from Secret %s", tc.name, env, secret.Name)
			} else if _, ok := secret.StringData[e.ValueFrom.SecretKeyRef.Key]; !ok {
				t.Errorf("%s: %s refers to key %q that the Secret lacks", tc.name, env, e.ValueFrom.SecretKeyRef.Key)
			}
		}
	}
}

func TestK8sKEDAOverlay_ReplacesTheWorkerHPAWithAScaledObject(t *testing.T) {
	r := kustomizeBuild(t, filepath.Join(k8sDir, "overlays", "keda"))
	so := find[ScaledObject](t, r, "messager-worker")
	var lists []string
	for _, tr := range so.Spec.Triggers {
		lists = append(lists, tr.Metadata["listName"])
	}
	if want := []string{"asynq:{direct}:pending", "asynq:{broadcast}:pending"}; !slices.Equal(lists, want) {
		t.Errorf("listNames = %q, want %q", lists, want)
	}
	if so.Spec.ScaleTargetRef.Name != find[appsv1.Deployment](t, r, "messager-worker").Name {
		t.Errorf("ScaledObject targets %q", so.Spec.ScaleTargetRef.Name)
	}
	for _, o := range r.Objects {
		if o.Kind == "HorizontalPodAutoscaler" && o.Name == "messager-worker" {
			t.Error("worker HPA still present beside the ScaledObject")
		}
	}
	if r.kinds()["HorizontalPodAutoscaler"] != 1 {
		t.Errorf("want the api HPA kept, got %v", r.kinds())
	}
}

func loadCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	objs := decodeFile(t, filepath.Join(k8sDir, "crd", "messagerconfigs.messager.io.yaml"))
	if len(objs) != 1 {
		t.Fatalf("%d objects in the CRD file", len(objs))
	}
	crd, ok := objs[0].Obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		t.Fatalf("CRD file holds a %s", objs[0].Kind)
	}
	return crd
}

// crdSchema compiles the CRD's openAPIV3Schema as JSON Schema, closed: every object that
// lists properties refuses others (the API server would prune them silently; internal/config
// refuses them, and so does this check).
func crdSchema(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) *jsonschema.Schema {
	t.Helper()
	raw, err := json.Marshal(crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var closeObjects func(any)
	closeObjects = func(n any) {
		m, ok := n.(map[string]any)
		if !ok {
			return
		}
		if props, ok := m["properties"].(map[string]any); ok {
			m["additionalProperties"] = false
			for _, p := range props {
				closeObjects(p)
			}
		}
		closeObjects(m["items"])
	}
	closeObjects(doc)
	c := jsonschema.NewCompiler()
	if err := c.AddResource("crd.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("crd.json")
	if err != nil {
		t.Fatalf("CRD schema does not compile as JSON Schema: %v", err)
	}
	return sch
}

func yamlInstance(t *testing.T, doc []byte) any {
	t.Helper()
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCRD_DescribesTheMessagerConfigDocument(t *testing.T) {
	crd := loadCRD(t)
	if crd.Name != "messagerconfigs.messager.io" || crd.Spec.Group != "messager.io" || crd.Spec.Names.Kind != config.Kind {
		t.Errorf("CRD %s group %s kind %s", crd.Name, crd.Spec.Group, crd.Spec.Names.Kind)
	}
	if len(crd.Spec.Versions) != 1 || crd.Spec.Group+"/"+crd.Spec.Versions[0].Name != config.APIVersion {
		t.Errorf("CRD versions %+v, want exactly %s", crd.Spec.Versions, config.APIVersion)
	}
	sch := crdSchema(t, crd)

	def, err := config.Default().YAML()
	if err != nil {
		t.Fatal(err)
	}
	chartDoc := find[corev1.ConfigMap](t, render(t, ""), fullName).Data["config.yaml"]
	baseDoc := find[corev1.ConfigMap](t, kustomizeBuild(t, filepath.Join(k8sDir, "base")), "messager-config").Data["config.yaml"]
	for name, doc := range map[string][]byte{"config.Default()": def, "chart ConfigMap": []byte(chartDoc), "k8s/base ConfigMap": []byte(baseDoc)} {
		if err := sch.Validate(yamlInstance(t, doc)); err != nil {
			t.Errorf("%s does not validate against the CRD schema: %v", name, err)
		}
	}

	// The CRD names exactly the fields internal/config has: no more, no fewer.
	var defMap map[string]any
	if err := yaml.Unmarshal(def, &defMap); err != nil {
		t.Fatal(err)
	}
	fromConfig := leafPaths("spec", defMap["spec"])
	fromCRD := schemaPaths("spec", crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"])
	if !slices.Equal(fromConfig, fromCRD) {
		t.Errorf("fields differ:\n internal/config: %q\n CRD:        %q", fromConfig, fromCRD)
	}

	for _, bad := range []struct{ name, patch string }{
		{"misspelt field", "spec: {presence: {tll: 30s}}"},
		{"not a duration", "spec: {presence: {ttl: soon}}"},
		{"zero concurrency", "spec: {worker: {concurrency: 0}}"},
		{"unknown redis mode", "spec: {redis: {mode: replicated}}"},
		{"ratio above one", "spec: {observability: {tracing: {sampleRatio: 2}}}"},
	} {
		doc := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: x}\n" + bad.patch + "\n"
		if err := sch.Validate(yamlInstance(t, []byte(doc))); err == nil {
			t.Errorf("%s: CRD schema accepts %s", bad.name, bad.patch)
		}
		if _, err := config.Parse([]byte(doc)); err == nil {
			t.Errorf("%s: internal/config accepts %s", bad.name, bad.patch)
		}
	}
}

func leafPaths(prefix string, v any) []string {
	var out []string
	if m, ok := v.(map[string]any); ok {
		for k, c := range m {
			out = append(out, leafPaths(prefix+"."+k, c)...)
		}
	} else {
		out = append(out, prefix)
	}
	sort.Strings(out)
	return out
}

func schemaPaths(prefix string, s apiextensionsv1.JSONSchemaProps) []string {
	var out []string
	if s.Type == "object" && len(s.Properties) > 0 {
		for k, c := range s.Properties {
			out = append(out, schemaPaths(prefix+"."+k, c)...)
		}
	} else {
		out = append(out, prefix)
	}
	sort.Strings(out)
	return out
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
