package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestOrigins_ServingHostAndListedOnly(t *testing.T) {
	o := NewOrigins([]string{"https://Chat.Example.com/"})
	for origin, want := range map[string]bool{
		"":                         true,
		"http://api.local:8080":    true, // the serving host
		"https://chat.example.com": true,
		"HTTPS://CHAT.EXAMPLE.COM": true,
		"https://evil.example":     false,
		"http://api.local:9090":    false,
		"null":                     false,
	} {
		r := httptest.NewRequest("POST", "http://api.local:8080/api/v1/messages", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if got := o.Allowed(r); got != want {
			t.Errorf("Origin %q: allowed %v, want %v", origin, got, want)
		}
	}
}
