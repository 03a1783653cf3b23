package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The send linger is 20 ms by default, parses as a duration, may be 0 (no
// linger) and is bounded above.
func TestSendLinger_DefaultParsesAndIsBounded(t *testing.T) {
	if d := Default().Spec.Messaging.SendLinger.D(); d != 20*time.Millisecond {
		t.Fatalf("default send linger %v, want 20ms", d)
	}
	for text, want := range map[string]time.Duration{"20ms": 20 * time.Millisecond, "0s": 0} {
		cfg, err := Parse([]byte("apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: x}\nspec:\n  messaging: {sendLinger: " + text + "}\n"))
		if err != nil || cfg.Spec.Messaging.SendLinger.D() != want {
			t.Errorf("sendLinger: %s parsed as %v, %v", text, cfg.Spec.Messaging.SendLinger.D(), err)
		}
	}
	for _, l := range []time.Duration{-time.Millisecond, 101 * time.Millisecond} {
		c := Default()
		c.Spec.Messaging.SendLinger = Duration(l)
		var ve *ValidationError
		if err := c.Validate(); !errors.As(err, &ve) || !strings.Contains(err.Error(), "spec.messaging.sendLinger:") {
			t.Errorf("linger %v: got %v, want a problem at spec.messaging.sendLinger", l, err)
		}
	}
}
