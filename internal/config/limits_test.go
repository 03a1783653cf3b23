package config

import (
	"strings"
	"testing"
)

func TestParse_TrustedProxiesAndDeprecatedTrustForwardedFor(t *testing.T) {
	for _, tc := range []struct {
		http string
		want int
	}{
		{"{}", 0},
		{"{trustedProxies: 2}", 2},
		{"{trustForwardedFor: true}", 1},
		{"{trustForwardedFor: true, trustedProxies: 3}", 3},
	} {
		cfg, err := Parse([]byte("apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: x}\nspec:\n  http: " + tc.http + "\n"))
		if err != nil {
			t.Fatalf("%s: %v", tc.http, err)
		}
		if got := cfg.Spec.HTTP.ProxyHops(); got != tc.want {
			t.Errorf("%s: ProxyHops = %d, want %d", tc.http, got, tc.want)
		}
	}
}

func TestValidate_NamesTheAbuseLimitFields(t *testing.T) {
	c := Default()
	c.Spec.HTTP.TrustedProxies = -1
	c.Spec.Auth.LoginRateLimit.PerUserIP = 0
	c.Spec.Auth.RegisterRateLimit.Window = 0
	c.Spec.Auth.RegisterRateLimit.PerIP = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, path := range []string{"spec.http.trustedProxies", "spec.auth.loginRateLimit.perUserIP", "spec.auth.registerRateLimit.window", "spec.auth.registerRateLimit.perIP"} {
		if !strings.Contains(err.Error(), path+": ") {
			t.Errorf("no problem named %s in:\n%v", path, err)
		}
	}
}

func TestParse_AdminUsersIsGone(t *testing.T) {
	_, err := Parse([]byte("apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: x}\nspec:\n  observability: {asynqmon: {adminUsers: [admin1]}}\n"))
	if err == nil || !strings.Contains(err.Error(), "spec.observability.asynqmon.adminUsers") {
		t.Fatalf("a config naming admins by username: %v; want it refused, naming the field", err)
	}
}
