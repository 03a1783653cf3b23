package tests

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Per-component extraEnv, extraVolumes and extraVolumeMounts reach that component's pod
// spec only, after the chart's own entries (which stay), rendered through tpl as Bitnami's
// charts do so a value can name release-scoped objects.
func TestExtras_EnvVolumesAndMountsReachEachPodSpec(t *testing.T) {
	r := render(t, valuesURLs+`
extraEnv: [{name: SHARED, value: everywhere}]
api:
  extraEnv: [{name: API_ONLY, value: "{{ .Release.Name }}-api"}]
  extraVolumes: [{name: api-ca, secret: {secretName: "{{ .Release.Name }}-ca"}}]
  extraVolumeMounts: [{name: api-ca, mountPath: /etc/ssl/api, readOnly: true}]
worker:
  extraEnv: [{name: WORKER_ONLY, valueFrom: {secretKeyRef: {name: worker-creds, key: token}}}]
  extraVolumes: [{name: worker-scratch, emptyDir: {sizeLimit: 1Gi}}]
  extraVolumeMounts: [{name: worker-scratch, mountPath: /scratch}]
migration:
  extraEnv: [{name: MIGRATE_ONLY, value: "yes"}]
  extraVolumes: [{name: migrate-ca, configMap: {name: ca-bundle}}]
  extraVolumeMounts: [{name: migrate-ca, mountPath: /etc/ssl/migrate}]
`)
	job := find[batchv1.Job](t, r, fullName+"-migrate")
	for _, tc := range []struct {
		name                   string
		pod                    corev1.PodSpec
		container              string
		env, otherEnv          []string
		volume, mount, mountAt string
		firstEnv, builtinMount string
	}{
		{"api", find[appsv1.Deployment](t, r, apiName).Spec.Template.Spec, "api",
			[]string{"SHARED", "API_ONLY"}, []string{"WORKER_ONLY", "MIGRATE_ONLY"}, "api-ca", "api-ca", "/etc/ssl/api", "MESSAGER_CONFIG", "/etc/messager"},
		{"worker", find[appsv1.Deployment](t, r, workerName).Spec.Template.Spec, "worker",
			[]string{"SHARED", "WORKER_ONLY"}, []string{"API_ONLY", "MIGRATE_ONLY"}, "worker-scratch", "worker-scratch", "/scratch", "MESSAGER_CONFIG", "/etc/messager"},
		{"migrate", job.Spec.Template.Spec, "migrate",
			[]string{"SHARED", "MIGRATE_ONLY"}, []string{"API_ONLY", "WORKER_ONLY"}, "migrate-ca", "migrate-ca", "/etc/ssl/migrate", "MESSAGER_DATA_DIR", "/data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := container(t, tc.pod, tc.container)
			for _, e := range tc.env {
				if envVar(c, e) == nil {
					t.Errorf("env %s missing: %+v", e, c.Env)
				}
			}
			for _, e := range tc.otherEnv {
				if envVar(c, e) != nil {
					t.Errorf("env %s, meant for another component, is set here", e)
				}
			}
			// The chart's own env stays, and comes first: a later duplicate is the override.
			if c.Env[0].Name != tc.firstEnv || envVar(c, "MESSAGER_DATABASE_URL") == nil {
				t.Errorf("the chart's own env was displaced: %+v", c.Env)
			}
			if last := c.Env[len(c.Env)-1].Name; last != tc.env[1] {
				t.Errorf("last env var = %s, want the component's extraEnv %s after the shared one", last, tc.env[1])
			}
			var vol *corev1.Volume
			for i := range tc.pod.Volumes {
				if tc.pod.Volumes[i].Name == tc.volume {
					vol = &tc.pod.Volumes[i]
				}
			}
			if vol == nil {
				t.Fatalf("volume %s missing: %+v", tc.volume, tc.pod.Volumes)
			}
			mounted, builtin := false, false
			for _, m := range c.VolumeMounts {
				mounted = mounted || m.Name == tc.mount && m.MountPath == tc.mountAt
				builtin = builtin || m.MountPath == tc.builtinMount
			}
			if !mounted || !builtin {
				t.Errorf("mounts = %+v, want %s at %s beside the chart's %s", c.VolumeMounts, tc.mount, tc.mountAt, tc.builtinMount)
			}
		})
	}

	// tpl: the release name is filled in.
	api := find[appsv1.Deployment](t, r, apiName).Spec.Template.Spec
	if e := envVar(container(t, api, "api"), "API_ONLY"); e == nil || e.Value != "chat-api" {
		t.Errorf("API_ONLY = %+v, want the templated value chat-api", e)
	}
	for _, v := range api.Volumes {
		if v.Name == "api-ca" && (v.Secret == nil || v.Secret.SecretName != "chat-ca") {
			t.Errorf("api-ca volume = %+v, want Secret chat-ca", v.VolumeSource)
		}
	}
}

// Empty by default: the default pod specs are exactly the chart's own.
func TestExtras_DefaultsAddNothing(t *testing.T) {
	r := render(t, valuesURLs)
	for _, tc := range []struct {
		pod       corev1.PodSpec
		container string
		volumes   int
	}{
		{find[appsv1.Deployment](t, r, apiName).Spec.Template.Spec, "api", 3},
		{find[appsv1.Deployment](t, r, workerName).Spec.Template.Spec, "worker", 3},
		{find[batchv1.Job](t, r, fullName+"-migrate").Spec.Template.Spec, "migrate", 2},
	} {
		c := container(t, tc.pod, tc.container)
		if len(tc.pod.Volumes) != tc.volumes || len(c.VolumeMounts) != tc.volumes {
			t.Errorf("%s: %d volumes, %d mounts, want %d each", tc.container, len(tc.pod.Volumes), len(c.VolumeMounts), tc.volumes)
		}
	}
}
