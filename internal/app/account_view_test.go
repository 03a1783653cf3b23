package app

import (
	"net/http"
	"net/url"
	"testing"
)

// The UI shows admins a Monitoring link: login and /auth/me say who is one.
func TestAuth_LoginAndMeSayWhetherTheUserIsAdmin(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	first := newUser(t, a, "first") // the first account under `all` is the admin
	second := newUser(t, a, "second")
	for _, tc := range []struct {
		c    *client
		want bool
	}{{first, true}, {second, false}} {
		// login: newUser decoded the login answer into c.user, but check the raw JSON.
		res, body := tc.c.do("POST", "/api/v1/auth/login", map[string]string{"username": tc.c.user.Username, "password": tc.c.password})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("login: %d %s", res.StatusCode, body)
		}
		var lr struct {
			User map[string]any `json:"user"`
		}
		mustJSON(t, body, &lr)
		if got, ok := lr.User["admin"].(bool); !ok || got != tc.want {
			t.Errorf("login of %s: admin = %v (present %v), want %v: %s", tc.c.user.Username, lr.User["admin"], ok, tc.want, body)
		}
		res, body = tc.c.do("GET", "/api/v1/auth/me", nil)
		var me struct {
			User map[string]any `json:"user"`
		}
		mustJSON(t, body, &me)
		if got, ok := me.User["admin"].(bool); res.StatusCode != http.StatusOK || !ok || got != tc.want {
			t.Errorf("me of %s: %d admin = %v, want %v: %s", tc.c.user.Username, res.StatusCode, me.User["admin"], tc.want, body)
		}
	}
}

// A signed-out browser opening /monitoring/ is sent to sign in and back;
// an API client still gets problem+json 401.
func TestMonitoring_SignedOutBrowserIsSentToSignIn(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	base := "http://" + a.Addr()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, accept, cookie string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "messager_session", Value: cookie})
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, cookie := range []string{"", "expired-or-forged"} {
		res := get("/monitoring/", browserAccept, cookie)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("browser, cookie %q: %d, want 303", cookie, res.StatusCode)
		}
		loc, err := url.Parse(res.Header.Get("Location"))
		if err != nil || loc.Path != "/" || loc.Query().Get("next") != "/monitoring/" || loc.Host != "" {
			t.Fatalf("browser, cookie %q: Location %q, want /?next=/monitoring/", cookie, res.Header.Get("Location"))
		}
	}
	res := get("/monitoring/api/queues", "application/json", "")
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("API client: %d %s, want 401 problem+json", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// Signed in: the page itself (the first account under `all` is the admin).
	admin := newUser(t, a, "boss")
	if res := get("/monitoring/", browserAccept, admin.token); res.StatusCode != http.StatusOK {
		t.Fatalf("signed-in admin: %d, want 200", res.StatusCode)
	}
	other := newUser(t, a, "nosy")
	if res := get("/monitoring/", browserAccept, other.token); res.StatusCode != http.StatusForbidden {
		t.Fatalf("signed-in non-admin: %d, want 403", res.StatusCode)
	}
}
