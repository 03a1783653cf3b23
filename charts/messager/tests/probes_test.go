package tests

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// probeBudget is how long a probe tolerates failures before it acts (kills the container
// for liveness, gives up for startup): the initial delay plus failureThreshold periods.
func probeBudget(p *corev1.Probe) time.Duration {
	period, threshold := p.PeriodSeconds, p.FailureThreshold
	if period == 0 {
		period = 10 // Kubernetes' defaults
	}
	if threshold == 0 {
		threshold = 3
	}
	return time.Duration(p.InitialDelaySeconds+period*threshold) * time.Second
}

// A cold first connect to the database or Redis can keep /healthz unserved for longer than
// the liveness probe tolerates; a startup probe on /healthz holds liveness (and readiness)
// back until the process serves, with a budget longer than liveness's own.
func TestDeployments_StartupProbeHoldsLivenessBackUntilTheProcessServes(t *testing.T) {
	r := render(t, valuesURLs)
	for _, tc := range []struct{ deployment, container string }{{apiName, "api"}, {workerName, "worker"}} {
		t.Run(tc.container, func(t *testing.T) {
			c := container(t, find[appsv1.Deployment](t, r, tc.deployment).Spec.Template.Spec, tc.container)
			sp := c.StartupProbe
			if sp == nil || sp.HTTPGet == nil {
				t.Fatalf("startupProbe = %+v, want an httpGet probe", sp)
			}
			if sp.HTTPGet.Path != "/healthz" || sp.HTTPGet.Port.String() != "http" {
				t.Errorf("startupProbe on %s port %s, want /healthz on http (what liveness checks)", sp.HTTPGet.Path, sp.HTTPGet.Port.String())
			}
			if got, live := probeBudget(sp), probeBudget(c.LivenessProbe); got <= live {
				t.Errorf("startupProbe gives a start %v, no more than liveness's %v: it protects nothing", got, live)
			}
			if sp.PeriodSeconds > c.ReadinessProbe.PeriodSeconds {
				t.Errorf("startupProbe period %ds is longer than readiness's %ds: it would delay the first Ready", sp.PeriodSeconds, c.ReadinessProbe.PeriodSeconds)
			}
		})
	}
}

func TestDeployments_StartupProbeIsConfigurable(t *testing.T) {
	r := render(t, valuesURLs+`
api: {startupProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 7, timeoutSeconds: 4, failureThreshold: 11}}
worker: {startupProbe: {periodSeconds: 3, failureThreshold: 90}}
`)
	api := container(t, find[appsv1.Deployment](t, r, apiName).Spec.Template.Spec, "api").StartupProbe
	if api == nil || api.PeriodSeconds != 7 || api.TimeoutSeconds != 4 || api.FailureThreshold != 11 {
		t.Errorf("api startupProbe = %+v, want period 7, timeout 4, threshold 11", api)
	}
	// A partial override keeps the other defaults (Helm merges maps).
	worker := container(t, find[appsv1.Deployment](t, r, workerName).Spec.Template.Spec, "worker").StartupProbe
	if worker == nil || worker.PeriodSeconds != 3 || worker.FailureThreshold != 90 || worker.HTTPGet == nil || worker.HTTPGet.Path != "/healthz" {
		t.Errorf("worker startupProbe = %+v, want period 3, threshold 90 on the default /healthz", worker)
	}

	off := render(t, valuesURLs+"api: {startupProbe: null}\nworker: {startupProbe: null}\n")
	for _, tc := range []struct{ deployment, container string }{{apiName, "api"}, {workerName, "worker"}} {
		if p := container(t, find[appsv1.Deployment](t, off, tc.deployment).Spec.Template.Spec, tc.container).StartupProbe; p != nil {
			t.Errorf("%s: startupProbe null still renders %+v", tc.container, p)
		}
	}
}

// k8s/base mirrors the chart's probes, the startup probe included.
func TestK8sBase_ProbesMatchTheChartDefaults(t *testing.T) {
	base := kustomizeBuild(t, filepath.Join(k8sDir, "base"))
	chart := render(t, valuesURLs)
	for _, tc := range []struct{ base, chart, container string }{
		{"messager-api", apiName, "api"},
		{"messager-worker", workerName, "worker"},
	} {
		b := find[appsv1.Deployment](t, base, tc.base).Spec.Template.Spec.Containers[0]
		c := container(t, find[appsv1.Deployment](t, chart, tc.chart).Spec.Template.Spec, tc.container)
		for _, p := range []struct {
			what        string
			base, chart *corev1.Probe
		}{
			{"startup", b.StartupProbe, c.StartupProbe},
			{"readiness", b.ReadinessProbe, c.ReadinessProbe},
			{"liveness", b.LivenessProbe, c.LivenessProbe},
		} {
			if !reflect.DeepEqual(p.base, p.chart) {
				t.Errorf("%s %s probe: k8s/base %+v, chart %+v", tc.container, p.what, p.base, p.chart)
			}
		}
	}
}
