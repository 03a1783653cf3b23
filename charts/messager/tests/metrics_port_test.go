package tests

import (
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/messager/messager/internal/config"
)

// servicePort returns the port called name, or nil.
func servicePort(s *corev1.Service, name string) *corev1.ServicePort {
	for i := range s.Spec.Ports {
		if s.Spec.Ports[i].Name == name {
			return &s.Spec.Ports[i]
		}
	}
	return nil
}

func containerPort(c corev1.Container, name string) *corev1.ContainerPort {
	for i := range c.Ports {
		if c.Ports[i].Name == name {
			return &c.Ports[i]
		}
	}
	return nil
}

// /metrics, /metrics/queues and pprof are served on the admin listener
// only (spec.observability.metricsAddr, which the chart always sets):
// Prometheus scrapes the Services' "metrics" port, and the Ingress, which
// is public, never routes to it.
func TestMetrics_OnTheirOwnPortScrapedByPrometheusNeverThroughTheIngress(t *testing.T) {
	r := render(t, valuesIngress+`
serviceMonitor:
  enabled: true
  queues:
    enabled: true
`)
	cfg := parsedConfig(t, r)
	if cfg.Spec.Observability.MetricsAddr != ":9091" {
		t.Fatalf("spec.observability.metricsAddr = %q, want the chart to set :9091", cfg.Spec.Observability.MetricsAddr)
	}
	for _, name := range []string{apiName, workerName} {
		svc := find[corev1.Service](t, r, name)
		p := servicePort(svc, "metrics")
		if p == nil || p.Port != 9091 || p.TargetPort.String() != "metrics" {
			t.Errorf("Service %s metrics port = %+v, want 9091 → container port metrics", name, p)
		}
		if http := servicePort(svc, "http"); http != nil && http.Port == 9091 {
			t.Errorf("Service %s serves http on the metrics port", name)
		}
	}
	for _, d := range []string{apiName, workerName} {
		c := find[appsv1.Deployment](t, r, d).Spec.Template.Spec.Containers[0]
		if p := containerPort(c, "metrics"); p == nil || p.ContainerPort != 9091 {
			t.Errorf("%s container metrics port = %+v, want 9091 (spec.observability.metricsAddr)", d, p)
		}
	}
	sm := find[ServiceMonitor](t, r, fullName)
	if len(sm.Spec.Endpoints) == 0 {
		t.Fatal("ServiceMonitor has no endpoints")
	}
	for _, ep := range sm.Spec.Endpoints {
		if ep.Port != "metrics" || ep.Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoint %+v, want /metrics on port metrics", ep)
		}
	}
	sc := find[ScrapeConfig](t, r, fullName+"-queues")
	if want := apiName + "." + namespace + ".svc:9091"; len(sc.Spec.StaticConfigs) != 1 || len(sc.Spec.StaticConfigs[0].Targets) != 1 || sc.Spec.StaticConfigs[0].Targets[0] != want {
		t.Errorf("queue metrics scraped from %+v, want %s (the metrics port)", sc.Spec.StaticConfigs, want)
	}
	api := find[corev1.Service](t, r, apiName)
	metrics := servicePort(api, "metrics")
	for _, ing := range all[networkingv1.Ingress](r) {
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				be := p.Backend.Service
				if be == nil {
					continue
				}
				if be.Port.Name == "metrics" || (metrics != nil && be.Port.Number == metrics.Port) {
					t.Errorf("Ingress %s routes %s to the metrics port", ing.Name, p.Path)
				}
				if be.Port.Name != "http" {
					t.Errorf("Ingress %s routes %s to port %+v, want http", ing.Name, p.Path, be.Port)
				}
			}
		}
	}
}

// The chart refuses to render without an admin listener, or with metrics
// on the public port.
func TestMetrics_AddrEmptyOrOnThePublicPortIsARenderError(t *testing.T) {
	for name, addr := range map[string]string{"empty": `""`, "public port": `":8080"`} {
		t.Run(name, func(t *testing.T) {
			if _, err := renderChart(t, valuesURLs+"config:\n  observability:\n    metricsAddr: "+addr+"\n"); err == nil {
				t.Fatalf("metricsAddr %s rendered", addr)
			}
		})
	}
}

// k8s/base serves metrics on :9091, exposed as the Services' metrics port.
func TestK8sBase_MetricsOnTheirOwnPort(t *testing.T) {
	r := kustomizeBuild(t, filepath.Join(k8sDir, "base"))
	cm := find[corev1.ConfigMap](t, r, "messager-config")
	cfg, err := config.Parse([]byte(cm.Data["config.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spec.Observability.MetricsAddr != ":9091" {
		t.Fatalf("k8s/base metricsAddr = %q, want :9091", cfg.Spec.Observability.MetricsAddr)
	}
	for _, name := range []string{"messager-api", "messager-worker"} {
		if p := servicePort(find[corev1.Service](t, r, name), "metrics"); p == nil || p.Port != 9091 || p.TargetPort.String() != "metrics" {
			t.Errorf("Service %s metrics port = %+v", name, p)
		}
		c := find[appsv1.Deployment](t, r, name).Spec.Template.Spec.Containers[0]
		if p := containerPort(c, "metrics"); p == nil || p.ContainerPort != 9091 {
			t.Errorf("Deployment %s metrics port = %+v", name, p)
		}
	}
}
