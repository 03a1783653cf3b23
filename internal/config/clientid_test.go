package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The client_id window is minutes by default (Redis memory grows with
// it), parses as a duration, and is bounded on both sides.
func TestClientIDWindow_DefaultParsesAndIsBounded(t *testing.T) {
	if d := Default().Spec.Messaging.ClientIDWindow.D(); d != 5*time.Minute {
		t.Fatalf("default client_id window %v, want 5m", d)
	}
	cfg, err := Parse([]byte("apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: x}\nspec:\n  messaging: {clientIDWindow: 90s}\n"))
	if err != nil || cfg.Spec.Messaging.ClientIDWindow.D() != 90*time.Second {
		t.Fatalf("clientIDWindow: 90s parsed as %v, %v", cfg.Spec.Messaging.ClientIDWindow.D(), err)
	}
	for _, w := range []time.Duration{0, -time.Minute, 500 * time.Millisecond, 25 * time.Hour} {
		c := Default()
		c.Spec.Messaging.ClientIDWindow = Duration(w)
		var ve *ValidationError
		if err := c.Validate(); !errors.As(err, &ve) || !strings.Contains(err.Error(), "spec.messaging.clientIDWindow:") {
			t.Errorf("window %v: got %v, want a problem at spec.messaging.clientIDWindow", w, err)
		}
	}
	for _, w := range []time.Duration{time.Second, 24 * time.Hour} {
		c := Default()
		c.Spec.Messaging.ClientIDWindow = Duration(w)
		if err := c.Validate(); err != nil {
			t.Errorf("window %v refused: %v", w, err)
		}
	}
}
