package auth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/messager/messager/internal/httpapi"
)

func newTestHandler() (http.Handler, *memUsers) {
	users := newMemUsers()
	svc := NewService(users, newMemSessions(), newMemLimiter(), NewFastArgon2id(), testOptions())
	errs := &httpapi.Classifier{}
	RegisterErrors(errs)
	return MakeHandler(svc, NewAuthenticator(svc, nil, errs), HandlerOptions{Errors: errs}), users
}

// post sends body to path and checks the invariants every answer keeps:
// never a 5xx, and every error is problem+json naming its own status.
func post(t *testing.T, h http.Handler, path string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code >= 500 {
		t.Fatalf("POST %s %q: status %d: %s", path, body, w.Code, w.Body)
	}
	if w.Code >= 400 {
		if ct := w.Header().Get("Content-Type"); ct != httpapi.ContentTypeProblem {
			t.Fatalf("POST %s %q: status %d with Content-Type %q", path, body, w.Code, ct)
		}
		var p struct {
			Status int    `json:"status"`
			Title  string `json:"title"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Title == "" {
			t.Fatalf("POST %s %q: bad problem body %q (%v)", path, body, w.Body, err)
		}
	}
	return w
}

func FuzzAuthDecoding(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"username":1}`, `{"password":["a"]}`,
		`{"username":"luis","email":"luis@example.com","password":"correct horse"}`,
		`{"username":"LUIS","email":"luis@example.com","password":"correct horse"}`,
		`{"username":"lu","email":"x","password":"short"}`,
		`{"username":"luis","password":"correct horse"}`,
		`{"username":"luis","password":"wrong password"}`,
		`{"username":"luis","email":"Luis <luis@example.com>","password":"12345678"}`,
		`{"username":"\u0000\u0000\u0000","email":"a@b.c","password":"\ud800\ud800\ud800\ud800\ud800\ud800\ud800\ud800"}`,
		`{} trailing`,
	} {
		f.Add(uint8(0), []byte(s))
		f.Add(uint8(1), []byte(s))
	}
	h, _ := newTestHandler()
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := "/register"
		if route%2 == 1 {
			path = "/login"
		}
		w := post(t, h, path, body)
		switch {
		case path == "/register" && w.Code == http.StatusCreated:
			var res struct {
				User UserJSON `json:"user"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || !ValidUsercode(res.User.Usercode) {
				t.Fatalf("201 with body %q", w.Body)
			}
		case path == "/login" && w.Code == http.StatusOK:
			var res loginResponse
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.Token == "" {
				t.Fatalf("200 with body %q", w.Body)
			}
		case w.Code < 400:
			t.Fatalf("POST %s %q: unexpected status %d", path, body, w.Code)
		}
	})
}

func TestAuthTransport_StatusByInput(t *testing.T) {
	h, _ := newTestHandler()
	reg := `{"username":"luis","email":"luis@example.com","password":"correct horse"}`
	for _, tc := range []struct {
		name, path, body string
		want             int
	}{
		{"register", "/register", reg, 201},
		{"same name other case is a conflict", "/register", `{"username":"LUIS","email":"l@example.com","password":"correct horse"}`, 409},
		{"invalid fields", "/register", `{"username":"l","email":"x","password":"short"}`, 422},
		{"wrongly typed field", "/register", `{"username":1}`, 422},
		{"malformed", "/register", `{"username":`, 400},
		{"empty", "/login", ``, 400},
		{"login", "/login", `{"username":"Luis","password":"correct horse"}`, 200},
		{"wrong password", "/login", `{"username":"luis","password":"wrong horse"}`, 401},
		{"unknown user", "/login", `{"username":"nobody","password":"correct horse"}`, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w := post(t, h, tc.path, []byte(tc.body)); w.Code != tc.want {
				t.Fatalf("status = %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
}
