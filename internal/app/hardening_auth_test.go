package app

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/messager/messager/internal/config"
)

// A page on another site can post a form (text/plain, no preflight) to
// the login and register endpoints; the browser would keep the cookie.
func TestAuth_CrossSiteLoginAndRegisterAre403(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u := newUser(t, a, "csrflogin")
	base := "http://" + a.Addr()
	for _, tc := range []struct {
		path, body string
	}{
		{"/api/v1/auth/login", `{"username":"` + u.user.Username + `","password":"` + u.password + `"}`},
		{"/api/v1/auth/register", `{"username":"planted","email":"planted@example.com","password":"correct horse battery"}`},
	} {
		for _, ct := range []string{"text/plain", "application/json"} {
			req, _ := http.NewRequest("POST", base+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Origin", "https://evil.example")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, res)
			if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
				t.Fatalf("%s from a foreign origin as %s: %d, cookies %v; want 403 and no cookie: %s", tc.path, ct, res.StatusCode, res.Cookies(), body)
			}
			decodeProblem(t, res, body)
		}
	}
}

func TestAuth_JSONEndpointsRequireJSONContentType(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u := newUser(t, a, "ctype")
	base := "http://" + a.Addr()
	for _, tc := range []struct {
		path, body, token string
	}{
		{"/api/v1/auth/login", `{"username":"` + u.user.Username + `","password":"` + u.password + `"}`, ""},
		{"/api/v1/auth/register", `{"username":"formpost","email":"formpost@example.com","password":"correct horse battery"}`, ""},
		{"/api/v1/messages", `{"body":"hi"}`, u.token},
	} {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
			req, _ := http.NewRequest("POST", base+tc.path, strings.NewReader(tc.body))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, res)
			if res.StatusCode != http.StatusUnsupportedMediaType {
				t.Fatalf("%s with Content-Type %q: %d, want 415: %s", tc.path, ct, res.StatusCode, body)
			}
			decodeProblem(t, res, body)
		}
	}
}

func TestMonitoring_OnlyTheFirstAccountIsAdminUnderAll(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	first := newUser(t, a, "first")
	second := newUser(t, a, "second")
	if res, body := first.do("GET", "/monitoring/api/queues", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("the first account: %d, want 200: %s", res.StatusCode, body)
	}
	res, body := second.do("GET", "/monitoring/api/queues", nil)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("the second account: %d, want 403: %s", res.StatusCode, body)
	}
	if p := decodeProblem(t, res, body); !strings.Contains(p.Detail, "messager admin grant") {
		t.Fatalf("403 does not say how to grant admin: %s", body)
	}
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestAuth_RegisterRateLimitedPerIPAcrossPods(t *testing.T) {
	b := newBackends(t)
	limit := func(c *config.Config) { c.Spec.Auth.RegisterRateLimit.PerIP = 3 }
	pods := []*App{startApp(t, ModeAPI, b, limit), startApp(t, ModeAPI, b, limit)}
	for i := range 3 {
		c := &client{t: t, base: "http://" + pods[i%2].Addr()}
		name := fmt.Sprintf("reglimit%d", i)
		if res, body := c.do("POST", "/api/v1/auth/register", map[string]string{"username": name, "email": name + "@example.com", "password": "correct horse battery"}); res.StatusCode != http.StatusCreated {
			t.Fatalf("registration %d: %d %s", i+1, res.StatusCode, body)
		}
	}
	c := &client{t: t, base: "http://" + pods[1].Addr()}
	res, body := c.do("POST", "/api/v1/auth/register", map[string]string{"username": "reglimit4", "email": "r4@example.com", "password": "correct horse battery"})
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("4th registration from one address over two pods: %d Retry-After %q: %s", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	decodeProblem(t, res, body)
}

// Behind one trusted proxy the client's address is the hop the proxy
// appended; what the client wrote further left is ignored, so a stranger
// can neither dodge the limit nor spend the owner's.
func TestAuth_LoginLimitsFollowTheTrustedProxyHop(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t), func(c *config.Config) {
		c.Spec.HTTP.TrustedProxies = 1
		c.Spec.Auth.LoginRateLimit.PerUserIP = 2
	})
	owner := newUser(t, a, "behindproxy")
	login := func(xff, password string) int {
		req, _ := http.NewRequest("POST", owner.base+"/api/v1/auth/login", strings.NewReader(`{"username":"`+owner.user.Username+`","password":"`+password+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, res)
		return res.StatusCode
	}
	// The stranger forges a different leftmost hop on every try.
	for i := range 2 {
		if st := login(fmt.Sprintf("10.9.9.%d, 198.51.100.7", i), "guess"); st != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, st)
		}
	}
	if st := login("10.9.9.99, 198.51.100.7", "guess"); st != http.StatusTooManyRequests {
		t.Fatalf("3rd guess with a new forged leftmost hop: %d, want 429", st)
	}
	if st := login("198.51.100.7, 203.0.113.5", owner.password); st != http.StatusOK {
		t.Fatalf("the owner from their own address (the stranger's written leftmost): %d, want 200", st)
	}
}
