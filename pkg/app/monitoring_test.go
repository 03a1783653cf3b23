package app

import (
	"testing"

	"github.com/messager/messager/pkg/config"
)

// asynqmon has no authentication of its own, so messager guards it.
func TestMonitoring_OnlyForAdmins(t *testing.T) {
	b := newBackends(t)
	laptop := startApp(t, ModeAll, b)
	anyone := newUser(t, laptop, "mon")
	if res, _ := anyone.do("GET", "/monitoring/", nil); res.StatusCode != 200 {
		t.Fatalf("messager all with no admins listed: %d, want 200 for a signed-in user", res.StatusCode)
	}
	if res, _ := (&client{t: t, base: anyone.base}).do("GET", "/monitoring/", nil); res.StatusCode != 401 {
		t.Fatalf("anonymous: %d, want 401", res.StatusCode)
	}

	pod := startApp(t, ModeAPI, b, func(c *config.Config) { c.Spec.Observability.Asynqmon.AdminUsers = []string{"opsadmin"} })
	if res, body := anyone.on(pod).do("GET", "/monitoring/", nil); res.StatusCode != 403 {
		t.Fatalf("a non-admin on an api pod: %d, want 403: %s", res.StatusCode, body)
	}
	c := &client{t: t, base: "http://" + pod.Addr(), password: "correct horse battery"}
	c.do("POST", "/api/v1/auth/register", map[string]string{"username": "opsadmin", "email": "ops@example.com", "password": c.password})
	c.login("opsadmin")
	if res, _ := c.do("GET", "/monitoring/api/queues", nil); res.StatusCode != 200 {
		t.Fatalf("the admin: %d, want 200", res.StatusCode)
	}
}
