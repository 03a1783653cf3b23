package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientIP_TakesTheHopTrustedProxiesAwayFromTheRight(t *testing.T) {
	for _, tc := range []struct {
		name    string
		remote  string
		xff     []string // one entry per header
		proxies int
		want    string
	}{
		{"peer without header", "10.0.0.1:1234", nil, 0, "10.0.0.1"},
		{"header ignored with no trusted proxy", "10.0.0.1:1234", []string{"203.0.113.9"}, 0, "10.0.0.1"},
		{"one proxy: the hop it appended, not the client's claim", "10.0.0.1:1234", []string{"203.0.113.99, 198.51.100.7"}, 1, "198.51.100.7"},
		{"one proxy, no claim", "10.0.0.1:1234", []string{"198.51.100.7"}, 1, "198.51.100.7"},
		{"two proxies", "10.0.0.1:1234", []string{"203.0.113.99, 198.51.100.7, 10.0.0.2"}, 2, "198.51.100.7"},
		{"two proxies, headers split", "10.0.0.1:1234", []string{"203.0.113.99, 198.51.100.7", "10.0.0.2"}, 2, "198.51.100.7"},
		{"chain shorter than the proxies: leftmost", "10.0.0.1:1234", []string{"198.51.100.7"}, 2, "198.51.100.7"},
		{"spaces around the hop", "10.0.0.1:1234", []string{"203.0.113.9 ,  198.51.100.7  "}, 1, "198.51.100.7"},
		{"ipv6 hop normalised", "10.0.0.1:1234", []string{"2001:DB8::1"}, 1, "2001:db8::1"},
		{"garbage hop falls back to peer", "10.0.0.1:1234", []string{"203.0.113.9, not-an-ip"}, 1, "10.0.0.1"},
		{"trusted without header", "[2001:db8::2]:80", nil, 1, "2001:db8::2"},
		{"peer without port kept as is", "10.0.0.1", nil, 0, "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := ClientIP(r, tc.proxies); got != tc.want {
				t.Fatalf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIsTLS_ForwardedProtoOnlyBehindTrustedProxy(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	if IsTLS(r, 0) || !IsTLS(r, 1) {
		t.Fatalf("IsTLS(0) = %v, IsTLS(1) = %v; want false, true", IsTLS(r, 0), IsTLS(r, 1))
	}
}
