package e2e

import (
	"net/url"
	"testing"
)

// TestMonitoring_SignInAndBackForAdmins: a signed-out browser opening
// /monitoring/ is sent to sign in and, once signed in as an admin, back to
// /monitoring/; the admin's header has a Monitoring link, a non-admin's has
// none; ?next= never leads off the site or outside /monitoring/.
func TestMonitoring_SignInAndBackForAdmins(t *testing.T) {
	srv := startServer(t)
	registerAPI(t, srv.URL, "root", password) // the first account is the admin
	registerAPI(t, srv.URL, "plain", password)
	b := newBrowser(t)

	p := newPage(t, b, "root")
	p.open(srv.URL + "/monitoring/")
	p.waitFor("the sign-in page with next", `location.pathname === '/' && new URLSearchParams(location.search).get('next') === '/monitoring/'`)
	p.must("signing in", signIn("root", password)...)
	p.waitFor("the monitoring page", `location.pathname.startsWith('/monitoring/')`)
	p.open(srv.URL)
	p.waitFor("the chat", `document.getElementById('app').dataset.view === 'chat'`)
	p.waitFor("the Monitoring link", `!document.querySelector('[data-testid=monitoring-link]').hidden`)
	if href, _ := evalJS[string](p, `document.querySelector('[data-testid=monitoring-link]').getAttribute('href')`); href != "/monitoring/" {
		t.Errorf("Monitoring link goes to %q", href)
	}
	p.shoot("monitoring-link-desktop", 1280, 800)
	p.shoot("monitoring-link-phone", 360, 740)
	p.must("desktop viewport", desktop())

	// Anything but a /monitoring/ path of this site is ignored.
	for _, next := range []string{"https://evil.example/monitoring/", "//evil.example/monitoring/", "/\\evil.example/monitoring/", "/api/v1/auth/me", "javascript:alert(1)"} {
		q := newPage(t, b, "plain")
		q.open(srv.URL + "/?next=" + url.QueryEscape(next))
		q.must("signing in", signIn("plain", password)...)
		q.waitFor("the chat", `document.getElementById('app').dataset.view === 'chat'`)
		if host, _ := evalJS[string](q, `location.host + location.pathname`); host != srv.addr+"/" {
			t.Errorf("next=%q led to %s", next, host)
		}
		if !q.eval(`document.querySelector('[data-testid=monitoring-link]').hidden`).(bool) {
			t.Errorf("a non-admin sees the Monitoring link")
		}
	}
	// A non-admin sent to sign in for /monitoring/ stays in the chat, told why.
	q := newPage(t, b, "plain")
	q.open(srv.URL + "/?next=%2Fmonitoring%2F")
	q.must("signing in", signIn("plain", password)...)
	q.waitFor("the chat", `document.getElementById('app').dataset.view === 'chat'`)
	q.waitFor("the note", `document.querySelector('[data-testid=composer-error]').textContent.includes('admins')`)
	if p, _ := evalJS[string](q, `location.pathname + location.search`); p != "/" {
		t.Errorf("non-admin is at %q, want / with next= dropped", p)
	}
}
