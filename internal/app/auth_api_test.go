package app

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/messager/messager/internal/config"
)

func TestAuth_RegisterLoginMeLogout_WithCookieAndBearer(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	base := "http://" + a.Addr()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}

	res, err := browser.Post(base+"/api/v1/auth/register", "application/json", strings.NewReader(`{"username":"Luis","email":"luis@example.com","password":"password123"}`))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		User map[string]any `json:"user"`
	}
	_ = json.NewDecoder(res.Body).Decode(&reg)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", res.StatusCode)
	}
	code, _ := reg.User["usercode"].(string)
	if len(code) != 6 || strings.Trim(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		t.Fatalf("usercode %q is not 6 of A-Z0-9", code)
	}
	for _, k := range []string{"id", "username", "usercode", "created_at", "email"} {
		if _, ok := reg.User[k]; !ok {
			t.Errorf("register response lacks %q: %v", k, reg.User)
		}
	}

	res, err = browser.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"luis","password":"password123"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Token string `json:"token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&login)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(login.Token) < 22 {
		t.Fatalf("login: %d token %q", res.StatusCode, login.Token)
	}
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "messager_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
		t.Fatalf("session cookie missing or not HttpOnly/SameSite=Lax/Path=/: %+v", cookie)
	}

	// The cookie alone authenticates.
	res, err = browser.Get(base + "/api/v1/auth/me")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("me with cookie: %d", res.StatusCode)
	}
	// The bearer token alone authenticates.
	bearer := &client{t: t, base: base, token: login.Token}
	if res, body := bearer.do("GET", "/api/v1/auth/me", nil); res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"usercode":"`+code+`"`) {
		t.Fatalf("me with bearer: %d %s", res.StatusCode, body)
	}
	// Logout revokes the token for both.
	req, _ := http.NewRequest("POST", base+"/api/v1/auth/logout", nil)
	res, err = browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res, _ := bearer.do("GET", "/api/v1/auth/me", nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("me after logout: %d, want 401", res.StatusCode)
	}
}

func TestAuth_TokensWorkOnEveryPodAndLogoutRevokesEverywhere(t *testing.T) {
	b := newBackends(t)
	a1 := startApp(t, ModeAPI, b)
	a2 := startApp(t, ModeAPI, b)
	c := newUser(t, a1, "pods")
	if res, _ := c.on(a2).do("GET", "/api/v1/auth/me", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("token from pod 1 on pod 2: %d", res.StatusCode)
	}
	// Pod 1 has looked the session up lately (it caches it; pod 2 too).
	if res, _ := c.do("GET", "/api/v1/auth/me", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("token on pod 1: %d", res.StatusCode)
	}
	if res, _ := c.on(a2).do("POST", "/api/v1/auth/logout", nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("logout on pod 2: %d", res.StatusCode)
	}
	if res, _ := c.on(a2).do("GET", "/api/v1/auth/me", nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token still works on pod 2 right after its logout there: %d", res.StatusCode)
	}
	// Pod 1 hears of the logout on the event bus, within milliseconds;
	// 2 s is far below what its cache would otherwise trust the session
	// for (auth.MaxSessionCacheAge).
	deadline := time.Now().Add(2 * time.Second)
	for {
		res, _ := c.do("GET", "/api/v1/auth/me", nil)
		if res.StatusCode == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token still works on pod 1 2 s after logout on pod 2: %d", res.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAuth_RegisterRejectsBadFields(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t), func(c *config.Config) { c.Spec.Auth.MinPasswordLength = 10 })
	c := &client{t: t, base: "http://" + a.Addr()}
	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"short username", `{"username":"ab","email":"a@example.com","password":"longenough1"}`, 422, "username"},
		{"bad username chars", `{"username":"a b!","email":"a@example.com","password":"longenough1"}`, 422, "username"},
		{"bad email", `{"username":"abc","email":"not-an-email","password":"longenough1"}`, 422, "email"},
		{"email with display name", `{"username":"abc","email":"Bob <b@example.com>","password":"longenough1"}`, 422, "email"},
		{"short password", `{"username":"abc","email":"a@example.com","password":"short"}`, 422, "password"},
		{"password over 256 bytes", `{"username":"abc","email":"a@example.com","password":"` + strings.Repeat("x", 257) + `"}`, 422, "password"},
		{"wrong type", `{"username":5,"email":"a@example.com","password":"longenough1"}`, 422, "username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := c.do("POST", "/api/v1/auth/register", tc.body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			p := decodeProblem(t, res, body)
			if !p.hasField(tc.field) {
				t.Fatalf("no error for field %q: %s", tc.field, body)
			}
		})
	}
	t.Run("taken username ignoring case", func(t *testing.T) {
		if res, body := c.do("POST", "/api/v1/auth/register", `{"username":"Paper","email":"p@example.com","password":"longenough1"}`); res.StatusCode != 201 {
			t.Fatalf("first: %d %s", res.StatusCode, body)
		}
		res, body := c.do("POST", "/api/v1/auth/register", `{"username":"pAPER","email":"q@example.com","password":"longenough1"}`)
		if res.StatusCode != http.StatusConflict {
			t.Fatalf("duplicate: %d %s", res.StatusCode, body)
		}
		decodeProblem(t, res, body)
	})
	t.Run("every byte of a long password counts", func(t *testing.T) {
		long := strings.Repeat("p", 100)
		if res, body := c.do("POST", "/api/v1/auth/register", `{"username":"longpw","email":"l@example.com","password":"`+long+`a"}`); res.StatusCode != 201 {
			t.Fatalf("register: %d %s", res.StatusCode, body)
		}
		// Differs from the real password only at byte 101: bcrypt would accept it.
		if res, _ := c.do("POST", "/api/v1/auth/login", `{"username":"longpw","password":"`+long+`b"}`); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("login with a password differing after byte 72: %d, want 401", res.StatusCode)
		}
	})
}

func TestAuth_LoginFailuresSameDetailAndRateLimited(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t), func(c *config.Config) { c.Spec.Auth.LoginRateLimit.PerUser = 3 })
	u := newUser(t, a, "victim")
	anon := &client{t: t, base: u.base}
	res1, body1 := anon.do("POST", "/api/v1/auth/login", map[string]string{"username": "nobody-here", "password": "whatever1"})
	res2, body2 := anon.do("POST", "/api/v1/auth/login", map[string]string{"username": u.user.Username, "password": "wrong-password"})
	if res1.StatusCode != 401 || res2.StatusCode != 401 {
		t.Fatalf("statuses %d %d, want 401 401", res1.StatusCode, res2.StatusCode)
	}
	if decodeProblem(t, res1, body1).Detail != decodeProblem(t, res2, body2).Detail {
		t.Fatalf("unknown user and wrong password must read the same: %s vs %s", body1, body2)
	}
	for i := 0; i < 2; i++ {
		anon.do("POST", "/api/v1/auth/login", map[string]string{"username": u.user.Username, "password": "wrong-password"})
	}
	res, body := anon.do("POST", "/api/v1/auth/login", map[string]string{"username": u.user.Username, "password": u.password})
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures even the right password is refused with 429 + Retry-After: got %d %q %s", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	decodeProblem(t, res, body)
}

func TestAuth_CrossOriginCookieWriteIs403(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t), func(c *config.Config) { c.Spec.HTTP.AllowedOrigins = []string{"https://chat.example.com"} })
	u := newUser(t, a, "csrf")
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://evil.example", http.StatusForbidden},
		{"https://chat.example.com", http.StatusAccepted},
		{"http://" + a.Addr(), http.StatusAccepted},
		{"", http.StatusAccepted},
	} {
		req, _ := http.NewRequest("POST", u.base+"/api/v1/messages", strings.NewReader(`{"body":"hi"}`))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: "messager_session", Value: u.token})
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("origin %q: %d, want %d", tc.origin, res.StatusCode, tc.want)
		}
	}
}

type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (p problemBody) hasField(f string) bool {
	for _, e := range p.Errors {
		if e.Field == f {
			return true
		}
	}
	return false
}

// decodeProblem checks res is problem+json with a status matching the
// response and returns it.
func decodeProblem(t *testing.T, res *http.Response, body []byte) problemBody {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json: %s", ct, body)
	}
	var p problemBody
	mustJSON(t, body, &p)
	if p.Status != res.StatusCode || p.Title == "" || p.Type == "" {
		t.Fatalf("problem does not match response %d: %s", res.StatusCode, body)
	}
	return p
}

// A username no account can have — here with U+0000, which PostgreSQL
// refuses to compare — is an unknown user (401), never a 500.
func TestAuth_LoginWithImpossibleUsernameIs401(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	anon := &client{t: t, base: "http://" + a.Addr()}
	for _, name := range []string{"nul\x00name", "ab", "has space", strings.Repeat("x", 40)} {
		res, body := anon.do("POST", "/api/v1/auth/login", map[string]string{"username": name, "password": "whatever1"})
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("login as %q: %d %s, want 401", name, res.StatusCode, body)
		}
	}
}
