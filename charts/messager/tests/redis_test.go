package tests

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const redisName = "chat-messager-redis"

// A 202 means the message is in Redis: the chart's optional in-cluster
// Redis must keep its data across restarts by default (AOF everysec on a
// PersistentVolumeClaim), and the api and worker must use it when no
// external Redis is named.
func TestInClusterRedis_PersistentWithAOFByDefaultAndWired(t *testing.T) {
	r := render(t, "redis: {enabled: true}\n")
	sts := find[appsv1.StatefulSet](t, r, redisName)
	if sts.Spec.ServiceName != redisName {
		t.Errorf("serviceName %q, want %q", sts.Spec.ServiceName, redisName)
	}
	if n := sts.Spec.Replicas; n == nil || *n != 1 {
		t.Errorf("replicas %v, want 1 (no replication: a trial Redis)", n)
	}
	c := container(t, sts.Spec.Template.Spec, "redis")
	if !strings.HasPrefix(c.Image, "redis:") {
		t.Errorf("image %q, want the redis image", c.Image)
	}
	args := strings.Join(append(slices.Clone(c.Command), c.Args...), " ")
	for _, want := range []string{"--appendonly yes", "--appendfsync everysec", "--dir /data"} {
		if !strings.Contains(args, want) {
			t.Errorf("redis runs %q, missing %q", args, want)
		}
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%d volumeClaimTemplates, want 1 (persistence on by default)", len(sts.Spec.VolumeClaimTemplates))
	}
	pvc := sts.Spec.VolumeClaimTemplates[0]
	if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "8Gi" {
		t.Errorf("PVC size %s, want the 8Gi default", got.String())
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || (m.Name == pvc.Name && m.MountPath == "/data")
	}
	if !mounted {
		t.Errorf("the PVC %q is not mounted at /data: %+v", pvc.Name, c.VolumeMounts)
	}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == pvc.Name {
			t.Errorf("volume %q shadows the PVC with %+v", v.Name, v.VolumeSource)
		}
	}
	svc := find[corev1.Service](t, r, redisName)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 6379 {
		t.Errorf("redis Service ports %+v, want 6379", svc.Spec.Ports)
	}
	for k, v := range svc.Spec.Selector {
		if sts.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the Redis pod lacks", k, v)
		}
	}
	for _, d := range []string{apiName, workerName} {
		c := find[appsv1.Deployment](t, r, d).Spec.Template.Spec.Containers[0]
		e := envVar(c, "MESSAGER_REDIS_URL")
		if e == nil || e.Value != "redis://"+redisName+":6379/0" {
			t.Errorf("%s: MESSAGER_REDIS_URL = %+v, want the in-chart Redis", d, e)
		}
	}
	if strings.Contains(r.Notes, "WARNING: no Redis") {
		t.Errorf("NOTES.txt warns about a missing Redis although the chart runs one:\n%s", r.Notes)
	}
}

func TestInClusterRedis_OffByDefaultAndExternalRedisWins(t *testing.T) {
	if n := len(all[appsv1.StatefulSet](render(t, valuesURLs))); n != 0 {
		t.Errorf("%d StatefulSets rendered by default", n)
	}
	r := render(t, valuesURLs+"redis: {enabled: true}\n")
	c := find[appsv1.Deployment](t, r, apiName).Spec.Template.Spec.Containers[0]
	assertSecretEnv(t, c, "MESSAGER_REDIS_URL", fullName, "redis-url")
	noPVC := render(t, "redis: {enabled: true, persistence: {enabled: false}}\n")
	if sts := find[appsv1.StatefulSet](t, noPVC, redisName); len(sts.Spec.VolumeClaimTemplates) != 0 {
		t.Error("persistence.enabled: false still renders a PVC")
	}
}
