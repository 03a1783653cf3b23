package httpapi

import (
	"net/http"
	"net/url"
	"strings"
)

// Origins decides which browser origins may act with a user's cookie:
// the serving host itself, plus the configured spec.http.allowedOrigins.
// Both cookie-authenticated writes and stream upgrades use it.
type Origins struct {
	extra map[string]struct{}
}

// NewOrigins returns the policy for the extra allowed origins
// ("https://chat.example.com"); case and a trailing slash do not matter.
func NewOrigins(allowed []string) Origins {
	o := Origins{extra: make(map[string]struct{}, len(allowed))}
	for _, a := range allowed {
		o.extra[normalizeOrigin(a)] = struct{}{}
	}
	return o
}

// Allowed accepts a request with no Origin (not a browser, or a
// same-origin navigation), or one whose Origin is the serving host or
// listed.
func (o Origins) Allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if _, ok := o.extra[normalizeOrigin(origin)]; ok {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func normalizeOrigin(o string) string { return strings.ToLower(strings.TrimSuffix(o, "/")) }
