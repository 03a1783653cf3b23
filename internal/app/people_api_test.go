package app

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/messager/messager/internal/events"
)

// searchRow is one person in a search answer, decoded loosely so a field
// that must not be there (email) is seen.
type searchRow map[string]any

func (c *client) search(q string) (*http.Response, []searchRow, []byte) {
	c.t.Helper()
	res, body := c.do("GET", "/api/v1/users?q="+q, nil)
	var sr struct {
		Users []searchRow `json:"users"`
	}
	if res.StatusCode == http.StatusOK {
		mustJSON(c.t, body, &sr)
	}
	return res, sr.Users, body
}

// registerOnly makes an account that never signs in: offline, never seen.
func registerOnly(t *testing.T, a *App, name string) {
	t.Helper()
	c := &client{t: t, base: "http://" + a.Addr()}
	res, body := c.do("POST", "/api/v1/auth/register", map[string]string{"username": name, "email": name + "@example.com", "password": "correct horse battery"})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("register %s: %d %s", name, res.StatusCode, body)
	}
}

func usernames(rows []searchRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r["username"]))
	}
	return out
}

// People can be found whether online or not, by the start of their
// username (any case) or their exact usercode, without emails and
// without the caller.
func TestUsers_SearchFindsPeopleOnlineOrNotByUsernamePrefixOrUsercode(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	me := newUser(t, a, "Zara")     // matches "za": must not be listed
	online := newUser(t, a, "zack") // signed in: online
	registerOnly(t, a, "ZAPHOD")    // never signed in: offline, never seen
	registerOnly(t, a, "zebra")     // no match for "za"
	other := newUser(t, a, "other")

	res, rows, body := me.search("zA")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("search: %d %s", res.StatusCode, body)
	}
	if got := strings.Join(usernames(rows), ","); got != online.user.Username+",ZAPHOD" {
		t.Fatalf("search za: %s, want %s,ZAPHOD (by username, without the caller): %s", got, online.user.Username, body)
	}
	if strings.Contains(string(body), "@") {
		t.Fatalf("search answer shows an email: %s", body)
	}
	for _, r := range rows {
		for _, k := range []string{"usercode", "username", "online", "last_seen"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("row lacks %q: %v", k, r)
			}
		}
		if _, ok := r["email"]; ok {
			t.Fatalf("row has an email: %v", r)
		}
	}
	if rows[0]["online"] != true || rows[1]["online"] != false || rows[1]["last_seen"] != nil {
		t.Fatalf("presence of results: %s, want %s online and ZAPHOD offline, never seen", body, online.user.Username)
	}

	// The exact usercode, in any case, comes first.
	_, rows, body = me.search(strings.ToLower(other.user.Usercode))
	if len(rows) == 0 || rows[0]["usercode"] != other.user.Usercode {
		t.Fatalf("search by usercode %s: %s", other.user.Usercode, body)
	}
	// A prefix of nothing and the caller's own usercode find nobody.
	if _, rows, body = me.search(me.user.Usercode); len(rows) != 0 && rows[0]["usercode"] == me.user.Usercode {
		t.Fatalf("search by own usercode lists the caller: %s", body)
	}
	if _, rows, body = me.search("nobody-here"); len(rows) != 0 {
		t.Fatalf("search nobody-here: %s", body)
	}

	for _, q := range []string{"", "%20%20", strings.Repeat("a", 33)} {
		res, _, body := me.search(q)
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("q=%q: %d, want 422: %s", q, res.StatusCode, body)
		}
		if p := decodeProblem(t, res, body); len(p.Errors) == 0 || p.Errors[0].Field != "q" {
			t.Fatalf("q=%q: problem does not name q: %s", q, body)
		}
	}
	res, body = (&client{t: t, base: me.base}).do("GET", "/api/v1/users?q=za", nil)
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("signed out: %d, want 401: %s", res.StatusCode, body)
	}
}

// Finding people is rate limited per user.
func TestUsers_SearchIsRateLimitedPerUser(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	me := newUser(t, a, "searcher")
	limited := 0
	var last *http.Response
	var lastBody []byte
	for range 31 {
		res, _, body := me.search("abc")
		if res.StatusCode == http.StatusTooManyRequests {
			limited++
			last, lastBody = res, body
		} else if res.StatusCode != http.StatusOK {
			t.Fatalf("search: %d %s", res.StatusCode, body)
		}
	}
	if limited != 1 {
		t.Fatalf("%d of 31 searches in a minute limited, want 1 (30 a minute)", limited)
	}
	decodeProblem(t, last, lastBody)
	if last.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Another user has a count of their own.
	if res, _, body := newUser(t, a, "fresh").search("abc"); res.StatusCode != http.StatusOK {
		t.Fatalf("another user's search: %d %s", res.StatusCode, body)
	}
}

// One person by usercode: what Recent shows for someone offline.
func TestUsers_GetByUsercode(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	me := newUser(t, a, "getter")
	them := newUser(t, a, "gotten")
	res, body := me.do("GET", "/api/v1/users/"+strings.ToLower(them.user.Usercode), nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("get: %d %s", res.StatusCode, body)
	}
	var p map[string]any
	mustJSON(t, body, &p)
	if p["usercode"] != them.user.Usercode || p["username"] != them.user.Username || p["online"] != true || p["last_seen"] != nil || p["email"] != nil {
		t.Fatalf("get: %s", body)
	}
	for _, code := range []string{"ZZZZZZ", "nope"} {
		res, body := me.do("GET", "/api/v1/users/"+code, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("get %s: %d, want 404: %s", code, res.StatusCode, body)
		}
		decodeProblem(t, res, body)
	}
}

// Typing in a DM reaches the recipient's streams only, coalesced, and is
// never stored.
func TestTyping_ReachesOnlyTheRecipientAndIsCoalesced(t *testing.T) {
	b := newBackends(t)
	a := startApp(t, ModeAll, b)
	pod2 := startApp(t, ModeAPI, b)
	amy := newUser(t, a, "amy")
	ben := newUser(t, a, "ben")
	cat := newUser(t, a, "cat")
	benStream := ben.on(pod2).stream("") // the event crosses pods
	catStream := cat.stream("")
	time.Sleep(200 * time.Millisecond)

	if res, body := amy.do("POST", "/api/v1/typing", map[string]string{"to": strings.ToLower(ben.user.Usercode)}); res.StatusCode != http.StatusNoContent {
		t.Fatalf("typing: %d %s", res.StatusCode, body)
	}
	f, ok := benStream.next(events.TypeTyping, 5*time.Second)
	if !ok {
		t.Fatal("ben got no typing event")
	}
	if f.User.Usercode != amy.user.Usercode || f.User.Username != amy.user.Username {
		t.Fatalf("typing event names %+v, want amy: %s", f.User, f.Raw)
	}
	// Within the interval: still 204, nothing sent.
	if res, body := amy.do("POST", "/api/v1/typing", map[string]string{"to": ben.user.Usercode}); res.StatusCode != http.StatusNoContent {
		t.Fatalf("typing again: %d %s", res.StatusCode, body)
	}
	if f, ok := benStream.next(events.TypeTyping, 700*time.Millisecond); ok {
		t.Fatalf("a second typing event within 2 s: %s", f.Raw)
	}
	if f, ok := catStream.next(events.TypeTyping, 100*time.Millisecond); ok {
		t.Fatalf("a third user got the typing event: %s", f.Raw)
	}
	// Never stored: not in history, not replayed.
	if h := ben.history(); len(h) != 0 {
		t.Fatalf("history has %d entries after typing only", len(h))
	}

	for _, tc := range []struct {
		body any
		want int
	}{
		{map[string]string{"to": "ZZZZZZ"}, http.StatusNotFound},
		{map[string]string{"to": "bad"}, http.StatusUnprocessableEntity},
		{map[string]string{}, http.StatusUnprocessableEntity},
		{map[string]string{"to": amy.user.Usercode}, http.StatusUnprocessableEntity},
		{"{", http.StatusBadRequest},
	} {
		res, body := amy.do("POST", "/api/v1/typing", tc.body)
		if res.StatusCode != tc.want {
			t.Fatalf("typing %v: %d, want %d: %s", tc.body, res.StatusCode, tc.want, body)
		}
		decodeProblem(t, res, body)
	}
}
