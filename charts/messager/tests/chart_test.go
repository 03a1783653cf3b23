package tests

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/messager/messager/internal/config"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	apiName    = "chat-messager-api"
	workerName = "chat-messager-worker"
	fullName   = "chat-messager"
	image      = "messager/messager:0.1.0" // repository + Chart.yaml appVersion
)

// Value sets the chart is rendered with; every object of every set must decode strictly.
const (
	valuesURLs = `
externalDatabase: {url: "postgres://messager:pw@db.example:5432/messager?sslmode=require"}
externalRedis: {url: "redis://:pw@redis.example:6379/0"}
`
	valuesExistingSecret = `
externalDatabase: {existingSecret: platform-db, existingSecretKey: url}
externalRedis: {existingSecret: platform-redis, existingSecretKey: uri}
`
	valuesKEDA = valuesURLs + `
autoscaling:
  keda:
    enabled: true
    redis: {address: "redis.example:6379", passwordSecret: {name: redis-auth, key: password}}
`
	valuesIngress = valuesURLs + `
ingress: {enabled: true, className: nginx, hostname: chat.example.com, tls: true}
`
	valuesMonitoring = valuesURLs + `
serviceMonitor: {enabled: true, labels: {release: kube-prometheus-stack}, queues: {enabled: true}}
grafanaDashboards: {enabled: true}
prometheusRule: {enabled: true, labels: {release: kube-prometheus-stack}}
`
	valuesNetworkPolicy = valuesURLs + `
networkPolicy: {enabled: true, allowExternal: false, ingressFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]}
`
)

func TestRender_EveryObjectDecodesStrictlyIntoItsType(t *testing.T) {
	base := map[string]int{
		"ConfigMap": 1, "ServiceAccount": 1, "Deployment": 2, "Service": 2,
		"HorizontalPodAutoscaler": 2, "PodDisruptionBudget": 2,
	}
	with := func(extra map[string]int) map[string]int {
		m := map[string]int{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			if m[k] += v; m[k] == 0 {
				delete(m, k)
			}
		}
		return m
	}
	cases := []struct {
		name   string
		values string
		want   map[string]int
	}{
		// No database configured: no Secret and no migration (nothing to migrate).
		{"defaults", "", base},
		// Release Secret + the migration hook's own Secret and ServiceAccount, and the Job.
		{"urls", valuesURLs, with(map[string]int{"Secret": 2, "ServiceAccount": 1, "Job": 1})},
		{"existingSecret", valuesExistingSecret, with(map[string]int{"ServiceAccount": 1, "Job": 1})},
		{"keda", valuesKEDA, with(map[string]int{"Secret": 2, "ServiceAccount": 1, "Job": 1, "HorizontalPodAutoscaler": -1, "ScaledObject": 1, "TriggerAuthentication": 1})},
		{"ingress", valuesIngress, with(map[string]int{"Secret": 2, "ServiceAccount": 1, "Job": 1, "Ingress": 1})},
		// + one dashboard ConfigMap per observability/grafana/dashboards/*.json (one today).
		{"monitoring", valuesMonitoring, with(map[string]int{"Secret": 2, "ServiceAccount": 1, "Job": 1, "ServiceMonitor": 1, "ScrapeConfig": 1, "ConfigMap": 1, "PrometheusRule": 1})},
		{"networkPolicy", valuesNetworkPolicy, with(map[string]int{"Secret": 2, "ServiceAccount": 1, "Job": 1, "NetworkPolicy": 2})},
		{"noAutoscaling", `{api: {autoscaling: {enabled: false}, pdb: {create: false}}, worker: {autoscaling: {enabled: false}}}`,
			with(map[string]int{"HorizontalPodAutoscaler": -2, "PodDisruptionBudget": -1})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.values)
			if got := r.kinds(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("objects per kind = %v, want %v\n%v", got, tc.want, r.names())
			}
			for _, o := range r.Objects {
				if !strings.HasPrefix(o.Name, fullName) {
					t.Errorf("%s/%s: name does not start with the release's full name %q", o.Kind, o.Name, fullName)
				}
			}
		})
	}
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func TestDeployments_RunTheRightSubcommandWithProbesAndLockedDownSecurity(t *testing.T) {
	r := render(t, valuesURLs)
	cm := find[corev1.ConfigMap](t, r, fullName)
	for _, tc := range []struct{ deployment, container, subcommand string }{
		{apiName, "api", "api"},
		{workerName, "worker", "worker"},
	} {
		t.Run(tc.subcommand, func(t *testing.T) {
			d := find[appsv1.Deployment](t, r, tc.deployment)
			pod := d.Spec.Template.Spec
			c := container(t, pod, tc.container)
			if c.Image != image {
				t.Errorf("image = %q, want %q", c.Image, image)
			}
			if len(c.Args) == 0 || c.Args[0] != tc.subcommand {
				t.Errorf("args = %q, want `%s ...`", c.Args, tc.subcommand)
			}
			if len(c.Command) != 0 {
				t.Errorf("command = %q overrides the image's ENTRYPOINT /messager", c.Command)
			}
			// The config file the args name is the mounted ConfigMap key.
			i := slices.Index(c.Args, "--config")
			if i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != "/etc/messager/config.yaml" {
				t.Errorf("args = %q, want --config /etc/messager/config.yaml", c.Args)
			}
			if _, ok := cm.Data["config.yaml"]; !ok {
				t.Errorf("ConfigMap has no config.yaml key")
			}
			mounted := false
			for _, vm := range c.VolumeMounts {
				if vm.MountPath == "/etc/messager" {
					for _, v := range pod.Volumes {
						if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
							mounted = true
						}
					}
				}
			}
			if !mounted {
				t.Errorf("ConfigMap %s is not mounted at /etc/messager", cm.Name)
			}

			// Probes: liveness on /healthz, readiness on /readyz, on the served port.
			if len(c.Ports) != 2 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 || c.Ports[1].Name != "metrics" || c.Ports[1].ContainerPort != 9091 {
				t.Errorf("ports = %+v, want http on 8080 and metrics on 9091", c.Ports)
			}
			for _, p := range []struct {
				what  string
				probe *corev1.Probe
				path  string
			}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
				if p.probe == nil || p.probe.HTTPGet == nil {
					t.Errorf("%s probe missing or not httpGet", p.what)
					continue
				}
				if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
					t.Errorf("%s probe = %s on %s, want %s on http", p.what, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
				}
			}

			// Non-root, read-only root filesystem, nothing to escalate to.
			psc := pod.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Errorf("pod securityContext = %+v, want runAsNonRoot with a non-zero uid", psc)
			}
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Fatal("no container securityContext")
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Error("root filesystem is writable")
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Error("privilege escalation allowed")
			case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
				t.Error("capabilities not dropped")
			case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
				t.Error("container may run as root")
			}
			// With a read-only root the data dir and /tmp must be writable volumes.
			for _, p := range []string{"/data", "/tmp"} {
				if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == p && !m.ReadOnly }) {
					t.Errorf("no writable volume at %s", p)
				}
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources = %+v, want a CPU request and a memory limit", c.Resources)
			}
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Error("service account token is mounted; messager does not use the Kubernetes API")
			}
			// Autoscaled: the Deployment must not fight the HPA over replicas.
			if d.Spec.Replicas != nil {
				t.Errorf("replicas = %d set although an autoscaler owns the count", *d.Spec.Replicas)
			}
			if d.Spec.Template.Annotations["checksum/config"] == "" {
				t.Error("no checksum/config annotation: pods would not roll on a config change")
			}
		})
	}
}

// parsedConfig validates the rendered ConfigMap with the product's own parser.
func parsedConfig(t *testing.T, r rendered) *config.Config {
	t.Helper()
	cm := find[corev1.ConfigMap](t, r, fullName)
	doc := cm.Data["config.yaml"]
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("rendered config.yaml is not a valid MessagerConfig: %v\n%s", err, doc)
	}
	return cfg
}

func TestConfigMap_HoldsAValidMessagerConfig(t *testing.T) {
	cfg := parsedConfig(t, render(t, ""))
	if cfg.APIVersion != "messager.io/v1alpha1" || cfg.Kind != "MessagerConfig" {
		t.Errorf("apiVersion/kind = %s/%s", cfg.APIVersion, cfg.Kind)
	}
	// The chart's defaults are the product's defaults except where a pod needs otherwise.
	want := config.Default()
	want.Metadata.Name = fullName
	want.Spec.DataDir = "/data"       // the emptyDir; the image's root is read-only
	want.Spec.HTTP.TrustedProxies = 1 // pods sit behind one ingress controller
	// Metrics on the admin listener, for Prometheus, never through the Ingress.
	want.Spec.Observability.MetricsAddr = ":9091"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("chart config differs from config.Default() beyond dataDir/trustedProxies/metricsAddr:\n got %+v\nwant %+v", cfg.Spec, want.Spec)
	}
	// URLs never land in the ConfigMap, even when set: they come from the Secret.
	cfg = parsedConfig(t, render(t, valuesURLs))
	if cfg.Spec.Database.URL != "" || cfg.Spec.Redis.URL != "" {
		t.Errorf("ConfigMap carries URLs: database %q redis %q", cfg.Spec.Database.URL, cfg.Spec.Redis.URL)
	}
}

func TestConfigMap_ValuesFlowIntoTheDocument(t *testing.T) {
	r := render(t, `config: {presence: {ttl: 90s}, worker: {concurrency: 64}, http: {allowedOrigins: ["https://chat.example.com"]}, auth: {registerRateLimit: {perIP: 7}}}`)
	cfg := parsedConfig(t, r)
	if cfg.Spec.Presence.TTL.D() != 90*time.Second || cfg.Spec.Worker.Concurrency != 64 ||
		!slices.Equal(cfg.Spec.HTTP.AllowedOrigins, []string{"https://chat.example.com"}) ||
		cfg.Spec.Auth.RegisterRateLimit.PerIP != 7 {
		t.Errorf("values did not reach the document: %+v", cfg.Spec)
	}
}

func TestGracePeriods_ExceedTheShutdownTimeouts(t *testing.T) {
	for _, values := range []string{"", `config: {http: {shutdownTimeout: 45s}, worker: {shutdownTimeout: 50s}}
api: {terminationGracePeriodSeconds: 60}
worker: {terminationGracePeriodSeconds: 70}`} {
		r := render(t, values)
		cfg := parsedConfig(t, r)
		for _, tc := range []struct {
			deployment string
			shutdown   time.Duration
		}{
			{apiName, cfg.Spec.HTTP.ShutdownTimeout.D()},
			{workerName, cfg.Spec.Worker.ShutdownTimeout.D()},
		} {
			d := find[appsv1.Deployment](t, r, tc.deployment)
			g := d.Spec.Template.Spec.TerminationGracePeriodSeconds
			if g == nil || time.Duration(*g)*time.Second <= tc.shutdown {
				t.Errorf("%s: terminationGracePeriodSeconds = %v, must exceed the %v shutdown timeout", tc.deployment, g, tc.shutdown)
			}
		}
	}
}

// A terminating api pod is still in the Service's endpoints until kube-proxy
// next syncs; if it stopped accepting at once, a rolling upgrade would fail
// the connections sent to it meanwhile (issue 11: zero failed requests during
// a helm upgrade, checked on a real cluster by test/cluster/smoke). The pod
// sleeps in preStop first, and the grace period covers sleep plus drain.
func TestAPI_TerminatingPodKeepsServingUntilItLeavesTheEndpoints(t *testing.T) {
	r := render(t, "")
	d := find[appsv1.Deployment](t, r, apiName)
	c := d.Spec.Template.Spec.Containers[0]
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatalf("api container has no preStop sleep: %+v", c.Lifecycle)
	}
	sleep := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	if sleep < 5*time.Second {
		t.Errorf("preStop sleep = %v, want at least 5s (kube-proxy's sync)", sleep)
	}
	cfg := parsedConfig(t, r)
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= sleep+cfg.Spec.HTTP.ShutdownTimeout.D() {
		t.Errorf("terminationGracePeriodSeconds = %v, must exceed preStop %v + shutdownTimeout %v", g, sleep, cfg.Spec.HTTP.ShutdownTimeout.D())
	}
	// 0 turns it off.
	off := find[appsv1.Deployment](t, render(t, `api: {preStopSleepSeconds: 0}`), apiName)
	if l := off.Spec.Template.Spec.Containers[0].Lifecycle; l != nil {
		t.Errorf("preStopSleepSeconds 0: lifecycle = %+v, want none", l)
	}
}

func TestSecret_URLsReachTheContainersAsEnv(t *testing.T) {
	t.Run("chart-managed", func(t *testing.T) {
		r := render(t, valuesURLs)
		s := find[corev1.Secret](t, r, fullName)
		if got := string(s.Data["database-url"]); !strings.HasPrefix(got, "postgres://messager:pw@db.example") {
			t.Errorf("database-url = %q", got)
		}
		if got := string(s.Data["redis-url"]); got != "redis://:pw@redis.example:6379/0" {
			t.Errorf("redis-url = %q", got)
		}
		for _, d := range []string{apiName, workerName} {
			c := find[appsv1.Deployment](t, r, d).Spec.Template.Spec.Containers[0]
			assertSecretEnv(t, c, "MESSAGER_DATABASE_URL", fullName, "database-url")
			assertSecretEnv(t, c, "MESSAGER_REDIS_URL", fullName, "redis-url")
		}
	})
	t.Run("existingSecret", func(t *testing.T) {
		r := render(t, valuesExistingSecret)
		if n := len(all[corev1.Secret](r)); n != 0 {
			t.Errorf("%d Secrets rendered although existing ones are named", n)
		}
		for _, d := range []string{apiName, workerName} {
			c := find[appsv1.Deployment](t, r, d).Spec.Template.Spec.Containers[0]
			assertSecretEnv(t, c, "MESSAGER_DATABASE_URL", "platform-db", "url")
			assertSecretEnv(t, c, "MESSAGER_REDIS_URL", "platform-redis", "uri")
		}
		job := find[batchv1.Job](t, r, fullName+"-migrate")
		assertSecretEnv(t, job.Spec.Template.Spec.Containers[0], "MESSAGER_DATABASE_URL", "platform-db", "url")
	})
	t.Run("none", func(t *testing.T) {
		r := render(t, "")
		c := find[appsv1.Deployment](t, r, apiName).Spec.Template.Spec.Containers[0]
		if envVar(c, "MESSAGER_DATABASE_URL") != nil || envVar(c, "MESSAGER_REDIS_URL") != nil {
			t.Error("env refers to a Secret that is not rendered")
		}
		if !strings.Contains(r.Notes, "WARNING: no database") || !strings.Contains(r.Notes, "WARNING: no Redis") {
			t.Errorf("NOTES.txt does not warn about the missing database and Redis:\n%s", r.Notes)
		}
	})
}

func assertSecretEnv(t *testing.T, c corev1.Container, name, secret, key string) {
	t.Helper()
	e := envVar(c, name)
	if e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Errorf("%s: %s is not taken from a Secret", c.Name, name)
		return
	}
	if ref := e.ValueFrom.SecretKeyRef; ref.Name != secret || ref.Key != key {
		t.Errorf("%s: %s from %s/%s, want %s/%s", c.Name, name, ref.Name, ref.Key, secret, key)
	}
}

func TestMigrationJob_IsAPreInstallUpgradeHookWithItsOwnSecret(t *testing.T) {
	r := render(t, valuesURLs)
	job := find[batchv1.Job](t, r, fullName+"-migrate")
	if got := job.Annotations["helm.sh/hook"]; got != "pre-install,pre-upgrade" {
		t.Errorf("hook = %q", got)
	}
	c := container(t, job.Spec.Template.Spec, "migrate")
	if !slices.Equal(c.Args, []string{"migrate"}) || c.Image != image {
		t.Errorf("migrate container runs %s %q", c.Image, c.Args)
	}
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy = %s", job.Spec.Template.Spec.RestartPolicy)
	}
	// At pre-install the release's Secret does not exist yet, so the Job must read a
	// hook Secret created before it (lower weight).
	assertSecretEnv(t, c, "MESSAGER_DATABASE_URL", fullName+"-migrate", "database-url")
	s := find[corev1.Secret](t, r, fullName+"-migrate")
	if s.Annotations["helm.sh/hook"] != job.Annotations["helm.sh/hook"] {
		t.Errorf("hook secret runs on %q, job on %q", s.Annotations["helm.sh/hook"], job.Annotations["helm.sh/hook"])
	}
	sw, err1 := strconv.Atoi(s.Annotations["helm.sh/hook-weight"])
	jw, err2 := strconv.Atoi(job.Annotations["helm.sh/hook-weight"])
	if err1 != nil || err2 != nil || sw >= jw {
		t.Errorf("hook secret weight %q is not below the job's %q", s.Annotations["helm.sh/hook-weight"], job.Annotations["helm.sh/hook-weight"])
	}
	if got := string(s.Data["database-url"]); !strings.HasPrefix(got, "postgres://") {
		t.Errorf("hook secret database-url = %q", got)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("migration container has a writable root filesystem")
	}
}

func TestKEDA_ScalesTheWorkerOnTheAsynqPendingLists(t *testing.T) {
	r := render(t, valuesKEDA)
	so := find[ScaledObject](t, r, workerName)
	if so.Spec.ScaleTargetRef.Name != workerName || so.Spec.ScaleTargetRef.Kind != "Deployment" {
		t.Errorf("scaleTargetRef = %+v", so.Spec.ScaleTargetRef)
	}
	var lists []string
	for _, tr := range so.Spec.Triggers {
		if tr.Type != "redis" {
			t.Errorf("trigger type = %q", tr.Type)
		}
		lists = append(lists, tr.Metadata["listName"])
		if tr.Metadata["address"] != "redis.example:6379" || tr.Metadata["listLength"] == "" {
			t.Errorf("trigger metadata = %v", tr.Metadata)
		}
		if tr.AuthenticationRef == nil || tr.AuthenticationRef.Name != workerName {
			t.Errorf("trigger %s has no authenticationRef to the TriggerAuthentication", tr.Name)
		}
	}
	// Exactly the pending lists; asynq:{direct} alone is a prefix whose length is always 0.
	if want := []string{"asynq:{direct}:pending", "asynq:{broadcast}:pending"}; !slices.Equal(lists, want) {
		t.Errorf("listNames = %q, want %q", lists, want)
	}
	ta := find[TriggerAuthentication](t, r, workerName)
	if len(ta.Spec.SecretTargetRef) != 1 || ta.Spec.SecretTargetRef[0].Parameter != "password" || ta.Spec.SecretTargetRef[0].Name != "redis-auth" {
		t.Errorf("TriggerAuthentication = %+v", ta.Spec)
	}
	for _, h := range all[autoscalingv2.HorizontalPodAutoscaler](r) {
		if h.Spec.ScaleTargetRef.Name == workerName {
			t.Error("worker has both a ScaledObject and an HPA")
		}
	}
	if d := find[appsv1.Deployment](t, r, workerName); d.Spec.Replicas != nil {
		t.Errorf("worker replicas = %d although KEDA owns the count", *d.Spec.Replicas)
	}
}

func TestKEDA_RequiresARedisAddress(t *testing.T) {
	_, err := renderChart(t, `autoscaling: {keda: {enabled: true}}`)
	if err == nil || !strings.Contains(err.Error(), "autoscaling.keda.redis.address") {
		t.Errorf("render error = %v, want one naming autoscaling.keda.redis.address", err)
	}
}

func TestKEDADisabled_FallsBackToCPUAutoscalers(t *testing.T) {
	r := render(t, valuesURLs)
	if n := len(all[ScaledObject](r)); n != 0 {
		t.Errorf("%d ScaledObjects rendered with KEDA off", n)
	}
	for _, target := range []string{apiName, workerName} {
		h := find[autoscalingv2.HorizontalPodAutoscaler](t, r, target)
		if h.Spec.ScaleTargetRef.Name != target || h.Spec.ScaleTargetRef.Kind != "Deployment" {
			t.Errorf("%s HPA targets %+v", target, h.Spec.ScaleTargetRef)
		}
		if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
			t.Errorf("%s HPA metrics = %+v, want CPU", target, h.Spec.Metrics)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			t.Errorf("%s HPA replicas %v..%d", target, h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
	}
	r = render(t, `{api: {autoscaling: {enabled: false}, replicaCount: 3}, worker: {autoscaling: {enabled: false}, replicaCount: 2}}`)
	for d, want := range map[string]int32{apiName: 3, workerName: 2} {
		if got := find[appsv1.Deployment](t, r, d).Spec.Replicas; got == nil || *got != want {
			t.Errorf("%s replicas = %v, want %d", d, got, want)
		}
	}
}

func TestSelectors_MatchTheirPods(t *testing.T) {
	r := render(t, valuesNetworkPolicy)
	podLabels := map[string]labels.Set{}
	for _, d := range all[appsv1.Deployment](r) {
		podLabels[d.Name] = d.Spec.Template.Labels
		sel := labels.SelectorFromSet(d.Spec.Selector.MatchLabels)
		if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: selector does not match its own pod template", d.Name)
		}
	}
	matches := func(what string, sel labels.Selector, want string) {
		t.Helper()
		for name, l := range podLabels {
			if got := sel.Matches(l); got != (name == want) {
				t.Errorf("%s selects %s: %v, want %v", what, name, got, name == want)
			}
		}
	}
	for _, s := range all[corev1.Service](r) {
		matches("Service "+s.Name, labels.SelectorFromSet(s.Spec.Selector), s.Name)
	}
	for _, p := range all[policyv1.PodDisruptionBudget](r) {
		matches("PDB "+p.Name, labels.SelectorFromSet(p.Spec.Selector.MatchLabels), p.Name)
	}
	for _, np := range all[networkingv1.NetworkPolicy](r) {
		matches("NetworkPolicy "+np.Name, labels.SelectorFromSet(np.Spec.PodSelector.MatchLabels), np.Name)
	}
	if svc := find[corev1.Service](t, r, workerName); svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("worker Service clusterIP = %q, want headless", svc.Spec.ClusterIP)
	}
}

func TestIngress_RoutesToTheAPIServiceWithStreamFriendlyTimeouts(t *testing.T) {
	r := render(t, valuesIngress)
	ing := find[networkingv1.Ingress](t, r, fullName)
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("ingressClassName = %v", ing.Spec.IngressClassName)
	}
	rule := ing.Spec.Rules[0]
	if rule.Host != "chat.example.com" {
		t.Errorf("host = %q", rule.Host)
	}
	be := rule.HTTP.Paths[0].Backend.Service
	svc := find[corev1.Service](t, r, apiName)
	if be == nil || be.Name != svc.Name || be.Port.Name != svc.Spec.Ports[0].Name {
		t.Errorf("backend = %+v, want service %s port %s", be, svc.Name, svc.Spec.Ports[0].Name)
	}
	if ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] != "3600" ||
		ing.Annotations["nginx.ingress.kubernetes.io/proxy-buffering"] != "off" {
		t.Errorf("annotations = %v, want long read timeouts and no buffering for WebSocket/SSE", ing.Annotations)
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "chat.example.com-tls" {
		t.Errorf("tls = %+v", ing.Spec.TLS)
	}
	if !strings.Contains(r.Notes, "https://chat.example.com/") {
		t.Errorf("NOTES.txt does not give the URL:\n%s", r.Notes)
	}
}

func TestMonitoring_PodsScrapedForMetricsQueuesOnlyThroughTheService(t *testing.T) {
	r := render(t, valuesMonitoring)
	sm := find[ServiceMonitor](t, r, fullName)
	if sm.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor labels = %v, want serviceMonitor.labels", sm.Labels)
	}
	for _, ep := range sm.Spec.Endpoints {
		if ep.Path != "/metrics" || ep.Port != "metrics" {
			t.Errorf("ServiceMonitor endpoint %+v, want /metrics on the metrics port (never /metrics/queues per pod)", ep)
		}
		// The dashboards' release variable selects on a release label.
		if len(ep.Relabelings) != 1 || ep.Relabelings[0].TargetLabel != "release" ||
			!slices.Equal(ep.Relabelings[0].SourceLabels, []string{"__meta_kubernetes_service_label_app_kubernetes_io_instance"}) {
			t.Errorf("ServiceMonitor endpoint relabelings %+v, want release from the instance label", ep.Relabelings)
		}
	}
	sel, err := metav1LabelSelector(sm)
	if err != nil {
		t.Fatal(err)
	}
	var selected []string
	for _, s := range all[corev1.Service](r) {
		if sel.Matches(labels.Set(s.Labels)) {
			selected = append(selected, s.Name)
		}
	}
	slices.Sort(selected)
	if want := []string{apiName, workerName}; !slices.Equal(selected, want) {
		t.Errorf("ServiceMonitor selects Services %q, want %q", selected, want)
	}

	sc := find[ScrapeConfig](t, r, fullName+"-queues")
	if sc.Spec.MetricsPath != "/metrics/queues" {
		t.Errorf("ScrapeConfig metricsPath = %q", sc.Spec.MetricsPath)
	}
	svc := find[corev1.Service](t, r, apiName)
	want := []string{svc.Name + "." + namespace + ".svc:9091"}
	if len(sc.Spec.StaticConfigs) != 1 || !slices.Equal(sc.Spec.StaticConfigs[0].Targets, want) {
		t.Errorf("ScrapeConfig targets = %+v, want exactly the api Service %q", sc.Spec.StaticConfigs, want)
	}
}

func TestDefaults_RenderNoOptionalObjects(t *testing.T) {
	r := render(t, "")
	for kind, n := range r.kinds() {
		switch kind {
		case "Ingress", "ServiceMonitor", "ScrapeConfig", "ScaledObject", "NetworkPolicy", "Job", "Secret":
			t.Errorf("%d %s rendered by default", n, kind)
		}
	}
}

func TestGracePeriods_TooShortIsARenderError(t *testing.T) {
	for _, tc := range []struct{ values, want string }{
		{`api: {terminationGracePeriodSeconds: 20}`, "api.terminationGracePeriodSeconds"},
		// Longer than the shutdown timeout alone, but the preStop sleep comes first.
		{`api: {terminationGracePeriodSeconds: 25}`, "api.preStopSleepSeconds (5) plus config.http.shutdownTimeout"},
		{`worker: {terminationGracePeriodSeconds: 30}
config: {worker: {shutdownTimeout: 1m}}`, "worker.terminationGracePeriodSeconds"},
	} {
		_, err := renderChart(t, tc.values)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %q: error = %v, want one naming %s", tc.values, err, tc.want)
		}
	}
	// Forms the check cannot read are left alone rather than refused.
	render(t, `config: {http: {shutdownTimeout: 1500ms}}`)
}

// Helm creates a release's objects only after its pre-install hooks, so the
// migrate Job (a hook) must not run under the release's ServiceAccount: on
// a first install it does not exist yet and the Job never gets a pod (seen
// on a real cluster, test/cluster/NOTES.md). It runs under a hook
// ServiceAccount created before it; with serviceAccount.create off, under
// the one named.
func TestMigrateJob_ServiceAccountExistsBeforeTheHookRuns(t *testing.T) {
	r := render(t, valuesURLs)
	job := find[batchv1.Job](t, r, fullName+"-migrate")
	sa := find[corev1.ServiceAccount](t, r, job.Spec.Template.Spec.ServiceAccountName)
	if !strings.Contains(sa.Annotations["helm.sh/hook"], "pre-install") || !strings.Contains(sa.Annotations["helm.sh/hook"], "pre-upgrade") {
		t.Fatalf("the migrate Job runs under ServiceAccount %q, which is not a pre-install/pre-upgrade hook: %v", sa.Name, sa.Annotations)
	}
	saWeight, _ := strconv.Atoi(sa.Annotations["helm.sh/hook-weight"])
	jobWeight, _ := strconv.Atoi(job.Annotations["helm.sh/hook-weight"])
	if saWeight >= jobWeight {
		t.Fatalf("hook ServiceAccount weight %d is not below the Job's %d", saWeight, jobWeight)
	}
	r = render(t, valuesURLs+"\nserviceAccount: {create: false, name: existing}")
	if got := find[batchv1.Job](t, r, fullName+"-migrate").Spec.Template.Spec.ServiceAccountName; got != "existing" {
		t.Fatalf("with serviceAccount.create off the Job runs as %q, want the named existing one", got)
	}
}
