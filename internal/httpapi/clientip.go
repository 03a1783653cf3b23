package httpapi

import (
	"net"
	"net/http"
	"strings"
)

// ClientIP returns the caller's IP. With trustedProxies = 0 it is the
// connection's peer. Behind n trusted reverse proxies, each of which
// appends the address it received the request from to X-Forwarded-For, it
// is the n-th address from the right of that list: everything further left
// was written by the client (or by proxies we do not trust) and can be
// forged. A list shorter than n (a request that skipped a proxy) gives its
// leftmost address; an unparsable hop gives the peer.
func ClientIP(r *http.Request, trustedProxies int) string {
	if trustedProxies > 0 {
		// Several X-Forwarded-For headers are one list, in order (RFC 9110 §5.3).
		var hops []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			for _, hop := range strings.Split(h, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		if len(hops) > 0 {
			i := max(len(hops)-trustedProxies, 0)
			if ip := net.ParseIP(hops[i]); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// IsTLS reports whether the client reached us over TLS, directly or
// through a trusted proxy that says so in X-Forwarded-Proto.
func IsTLS(r *http.Request, trustedProxies int) bool {
	return r.TLS != nil || (trustedProxies > 0 && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}
