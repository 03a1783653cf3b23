package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler_ServesIndexWithSecurityHeaders(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/", "/index.html"} {
		rec := get(t, h, http.MethodGet, path, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d, want 200", path, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type %q, want text/html", path, ct)
		}
		if !strings.Contains(rec.Body.String(), `src="/static/app.js"`) {
			t.Errorf("GET %s: body does not load /static/app.js", path)
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
			"Cache-Control":           "no-cache",
		} {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
}

func TestHandler_CSPForbidsInlineCode(t *testing.T) {
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, d) {
			t.Errorf("CSP lacks %q", d)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe-inline") || strings.Contains(ContentSecurityPolicy, "unsafe-eval") {
		t.Errorf("CSP allows unsafe code: %s", ContentSecurityPolicy)
	}
}

func TestHandler_IndexHasNoInlineScriptOrStyle(t *testing.T) {
	body := get(t, Handler(), http.MethodGet, "/", nil).Body.String()
	for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload=", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("index.html contains %q, which the CSP would block", bad)
		}
	}
}

func TestHandler_ServesAssetsWithTypes(t *testing.T) {
	h := Handler()
	for path, ctype := range map[string]string{
		"/static/app.js":    "text/javascript",
		"/static/api.js":    "text/javascript",
		"/static/stream.js": "text/javascript",
		"/static/app.css":   "text/css",
		"/static/icon.svg":  "image/svg+xml",
	} {
		rec := get(t, h, http.MethodGet, path, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, rec.Code)
			continue
		}
		if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", path, got, ctype)
		}
		if rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no CSP", path)
		}
	}
}

func TestHandler_ETagRevalidates(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, "/static/app.js", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on /static/app.js")
	}
	again := get(t, h, http.MethodGet, "/static/app.js", map[string]string{"If-None-Match": etag})
	if again.Code != http.StatusNotModified {
		t.Errorf("conditional GET: status %d, want 304", again.Code)
	}
}

func TestHandler_UnknownPathsAre404(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/static/nope.js", "/static/", "/static", "/nope", "/static/../web.go"} {
		rec := get(t, h, http.MethodGet, path, nil)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, rec.Code)
		}
		if rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: 404 without CSP", path)
		}
	}
}

func TestHandler_OtherMethodsAre405(t *testing.T) {
	rec := get(t, Handler(), http.MethodPost, "/", nil)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: status %d, want 405", rec.Code)
	}
	if rec.Header().Get("Allow") == "" {
		t.Error("405 without Allow header")
	}
}

// The API promises problem+json for every error, and the UI's handler
// answers the paths outside /api: its 404 and 405 are problems too.
func TestHandler_ErrorsAreProblemJSON(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/no/such/page", http.StatusNotFound, ""},
		{http.MethodGet, "/static/", http.StatusNotFound, ""},
		{http.MethodPost, "/", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodOptions, "/", http.StatusMethodNotAllowed, "GET, HEAD"},
	} {
		rec := get(t, Handler(), tc.method, tc.path, nil)
		if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %q, want %d application/problem+json", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.status)
		}
		if got := rec.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		if !strings.Contains(rec.Body.String(), `"status":`) {
			t.Errorf("%s %s: body %q is not a problem", tc.method, tc.path, rec.Body.String())
		}
	}
}
