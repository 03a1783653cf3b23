package config

import (
	"errors"
	"strings"
	"testing"
)

func TestSendRateLimit_DefaultIsOnAndParses(t *testing.T) {
	d := Default().Spec.Messaging.SendRateLimit
	if !d.Enabled() || d.Burst < d.PerSecond {
		t.Fatalf("default send limit %+v: want it on, with a burst of at least one second's rate", d)
	}
	cfg, err := Parse([]byte("apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: x}\nspec:\n  messaging: {sendRateLimit: {perSecond: 0}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spec.Messaging.SendRateLimit.Enabled() {
		t.Fatal("perSecond: 0 must turn the limit off")
	}
}

func TestSendRateLimit_InvalidValuesNameTheirPath(t *testing.T) {
	for _, tc := range []struct {
		limit SendRateLimit
		path  string
	}{
		{SendRateLimit{PerSecond: -1, Burst: 10}, "spec.messaging.sendRateLimit.perSecond"},
		{SendRateLimit{PerSecond: 10_001, Burst: 10}, "spec.messaging.sendRateLimit.perSecond"},
		{SendRateLimit{PerSecond: 5, Burst: 0}, "spec.messaging.sendRateLimit.burst"},
		{SendRateLimit{PerSecond: 0, Burst: -3}, "spec.messaging.sendRateLimit.burst"},
	} {
		c := Default()
		c.Spec.Messaging.SendRateLimit = tc.limit
		var ve *ValidationError
		if err := c.Validate(); !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.path+":") {
			t.Errorf("%+v: got %v, want a problem at %s", tc.limit, err, tc.path)
		}
	}
}
