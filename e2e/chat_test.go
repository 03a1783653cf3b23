package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/messager/messager/internal/testsupport"
)

const password = "correct horse battery"

// TestChat_HappyPath is the original app's path in three separate browser
// contexts: luis, lanaro and paper sign up; luis broadcasts and both others
// see it live; luis writes to paper and only paper sees it; a reload keeps
// the history.
func TestChat_HappyPath(t *testing.T) {
	srv := startServer(t)
	browser := newBrowser(t)
	luis := newPage(t, browser, "luis")
	lanaro := newPage(t, browser, "lanaro")
	paper := newPage(t, browser, "paper")

	luis.open(srv.URL)
	luis.shoot("signin-desktop", 1280, 800)
	luis.shoot("signin-phone", 360, 740)
	luis.must("desktop viewport", desktop())

	codes := map[string]string{}
	for _, p := range []*browserPage{luis, lanaro, paper} {
		if p != luis {
			p.open(srv.URL)
		}
		codes[p.name] = p.register(p.name, password)
	}
	if codes["luis"] == codes["lanaro"] || codes["luis"] == codes["paper"] || codes["lanaro"] == codes["paper"] {
		t.Fatalf("usercodes are not unique: %v", codes)
	}
	for _, p := range []*browserPage{luis, lanaro, paper} {
		p.waitLive()
	}
	// Presence is live: luis sees both others without reloading.
	luis.waitOnline(codes["lanaro"])
	luis.waitOnline(codes["paper"])
	paper.waitOnline(codes["luis"])
	lanaro.waitOnline(codes["luis"])

	// A marker that a reload would wipe: the others must not reload to see it.
	for _, p := range []*browserPage{lanaro, paper} {
		p.eval(`window.__e2eNoReload = true`)
	}

	broadcast := "Hello everyone, this is luis"
	luis.sendTo("", broadcast)
	for _, p := range []*browserPage{lanaro, paper} {
		p.waitMessage(broadcast)
		m := p.message(broadcast)
		if m.Kind != "broadcast" || !strings.Contains(m.KindText, "Broadcast") {
			t.Errorf("%s: broadcast shown as kind %q (%q)", p.name, m.Kind, m.KindText)
		}
		if m.Sender != "luis" || m.Usercode != codes["luis"] || m.Time == "" {
			t.Errorf("%s: broadcast meta = sender %q usercode %q time %q; want luis %s and a time", p.name, m.Sender, m.Usercode, m.Time, codes["luis"])
		}
		if ok, _ := evalJS[bool](p, `window.__e2eNoReload === true`); !ok {
			t.Errorf("%s: the page reloaded to show the broadcast", p.name)
		}
	}

	// paper is reading her conversation with lanaro when luis writes to her,
	// so his message waits behind an unread badge.
	paper.must("opening the conversation with lanaro", clickCSS(userSel(codes["lanaro"])))
	paper.waitFor("the conversation title", `document.querySelector('[data-testid=conv-title]').textContent.includes('lanaro')`)

	// luis picks paper in the sidebar and writes to her only.
	direct := "Psst paper, this one is just for you"
	luis.must("clicking paper in the sidebar", clickCSS(userSel(codes["paper"])))
	luis.waitFor("the recipient to be paper", `document.querySelector('[data-testid=recipient-select]').value === `+jsString(codes["paper"]))
	luis.compose(direct)
	luis.pressEnter()
	luis.waitMine(direct)
	if m := luis.message(direct); m.Kind != "direct" || !strings.Contains(m.KindText, "paper") {
		t.Errorf("luis: own direct message shown as %q (%q), want direct to paper", m.Kind, m.KindText)
	}
	badge := userSel(codes["luis"]) + ` [data-testid=user-unread]`
	paper.waitFor("an unread badge on luis", `(() => { const b = document.querySelector(`+jsString(badge)+`); return b && !b.hidden && b.textContent === '1'; })()`)
	paper.waitFor("the total unread badge", `(() => { const b = document.querySelector('[data-testid=unread-total]'); return !b.hidden && Number(b.textContent) >= 1; })()`)
	if tick := luis.message(direct).Tick; tick == "read" {
		t.Errorf("luis: the direct message is marked read before paper opened it")
	}
	paper.must("opening the conversation with luis", clickCSS(userSel(codes["luis"])))
	paper.waitMessage(direct)
	paper.waitFor("luis's unread badge to clear", `document.querySelector(`+jsString(badge)+`).hidden`)
	if m := paper.message(direct); m.Kind != "direct" || m.Sender != "luis" {
		t.Errorf("paper: direct message shown as kind %q from %q", m.Kind, m.Sender)
	}
	// paper has the message on screen, so luis's tick turns to "read".
	luis.waitFor("the read tick on the direct message", `(() => { const li = [...document.querySelectorAll('[data-testid=message]')].find(li => li.querySelector('[data-testid=message-body]').textContent === `+jsString(direct)+`);
		return li && li.querySelector('[data-testid=read-tick]').dataset.state === 'read'; })()`)

	// lanaro must not see the direct message. A later broadcast proves that
	// lanaro's page has caught up past it.
	luis.must("back to all messages", clickCSS(`[data-testid=show-all]`))
	paper.must("back to all messages", clickCSS(`[data-testid=show-all]`))
	sentinel := "Second broadcast, after the direct message"
	luis.sendTo("", sentinel)
	lanaro.waitMessage(sentinel)
	paper.waitMessage(sentinel)
	if n := lanaro.messageCount(direct); n != 0 {
		t.Errorf("lanaro sees luis's direct message to paper (%d times)", n)
	}
	if n, _ := evalJS[int](lanaro, `document.body.textContent.includes(`+jsString(direct)+`) ? 1 : 0`); n != 0 {
		t.Errorf("lanaro's page contains the direct message text somewhere")
	}

	// Screenshots of a chat with content, at both widths.
	paper.shoot("chat-desktop", 1280, 800)
	paper.shoot("chat-phone", 360, 740)
	paper.must("opening the sidebar on a phone", clickCSS(`[data-testid=sidebar-toggle]`))
	paper.waitFor("the sidebar to open", `document.getElementById('layout').classList.contains('sidebar-open') && document.getElementById('sidebar').getBoundingClientRect().left >= 0`)
	paper.shoot("chat-phone-sidebar", 360, 740)
	paper.must("closing the sidebar", clickCSS(`[data-testid=sidebar-toggle]`))
	paper.must("desktop viewport", desktop())
	luis.shoot("chat-desktop-sender", 1280, 800)

	// Reloads keep the history, each message once.
	for _, p := range []*browserPage{paper, luis, lanaro} {
		p.reload()
		want := []string{broadcast, sentinel}
		if p != lanaro {
			want = append(want, direct)
		}
		for _, body := range want {
			p.waitMessage(body)
			if n := p.messageCount(body); n != 1 {
				t.Errorf("%s after reload: %q shown %d times, want 1", p.name, body, n)
			}
		}
		if p == lanaro && lanaro.messageCount(direct) != 0 {
			t.Errorf("lanaro sees the direct message after reload")
		}
	}

	for _, p := range []*browserPage{luis, lanaro, paper} {
		if ex := p.Exceptions(); len(ex) > 0 {
			t.Errorf("%s: uncaught exceptions in the page: %v", p.name, ex)
		}
	}
}

// TestChat_HTMLBodyIsText sends markup that would run script if it were
// rendered as HTML; it must show literally and run nothing.
func TestChat_HTMLBodyIsText(t *testing.T) {
	srv := startServer(t)
	browser := newBrowser(t)
	mallory := newPage(t, browser, "mallory")
	victim := newPage(t, browser, "victim")
	mallory.open(srv.URL)
	mallory.register("mallory", password)
	victim.open(srv.URL)
	victimCode := victim.register("victim", password)
	mallory.waitLive()
	victim.waitLive()
	mallory.waitOnline(victimCode)

	payloads := []string{
		`<img src=x onerror=alert(1)>`,
		`<script>alert(2)</script><b>bold?</b>`,
	}
	mallory.sendTo("", payloads[0])
	mallory.sendTo(victimCode, payloads[1])
	for _, p := range []*browserPage{mallory, victim} {
		for _, body := range payloads {
			p.waitMessage(body)
			if n := p.messageCount(body); n != 1 {
				t.Errorf("%s: %q shown %d times, want exactly once as text", p.name, body, n)
			}
		}
		if n, _ := evalJS[int](p, `document.querySelectorAll('[data-testid=message-list] img, [data-testid=message-list] script, [data-testid=message-list] b').length`); n != 0 {
			t.Errorf("%s: the message list holds %d elements made from a message body", p.name, n)
		}
	}
	// A later message proves the pages rendered past the payloads; an <img>
	// that had existed even briefly would have requested /x.
	after := "a harmless message after the markup"
	mallory.sendTo("", after)
	victim.waitMessage(after)
	victim.reload()
	for _, body := range payloads {
		victim.waitMessage(body)
	}
	for _, p := range []*browserPage{mallory, victim} {
		if n, _ := evalJS[int](p, `performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname === '/x').length`); n != 0 {
			t.Errorf("%s: the page requested /x: an <img> from a message body was created", p.name)
		}
		if d := p.Dialogs(); len(d) != 0 {
			t.Errorf("%s: a dialog opened: %v", p.name, d)
		}
	}
	victim.shoot("markup-as-text-desktop", 1280, 800)
}

// TestChat_ReconnectsAfterStreamCut puts a TCP proxy between the browsers and
// the server and cuts every connection: the page reconnects by itself and
// shows, once each, the messages sent while it was cut off.
func TestChat_ReconnectsAfterStreamCut(t *testing.T) {
	srv := startServer(t)
	px := testsupport.StartProxy(t, srv.addr)
	browser := newBrowser(t)
	paper := newPage(t, browser, "paper")
	paper.open(px.URL)
	paperCode := paper.register("paper", password)
	paper.waitLive()
	luis := registerAPI(t, srv.URL, "luis", password)

	first := "before the cut"
	luis.send(t, first, paperCode)
	paper.waitMessage(first)

	// 1. A plain cut: every connection drops, new ones are welcome at once.
	if n := px.Cut(); n == 0 {
		t.Fatal("the proxy had no connection to cut: is the page using it?")
	}
	paper.waitFor("a reconnect after the cut", `(() => { const s = document.querySelector('[data-testid=conn-status]'); return s.dataset.state === 'live' && Number(s.dataset.reconnects) >= 1; })()`)

	// 2. A longer outage: connections are cut and refused while luis sends.
	px.Block()
	paper.waitFor("the indicator to leave 'live'", `document.querySelector('[data-testid=conn-status]').dataset.state !== 'live'`)
	paper.shoot("reconnecting-phone", 360, 740)
	paper.must("desktop viewport", desktop())
	var missed []string
	for i := 1; i <= 3; i++ {
		body := fmt.Sprintf("sent while paper was cut off #%d", i)
		luis.send(t, body, paperCode)
		missed = append(missed, body)
	}
	broadcast := "broadcast while paper was cut off"
	luis.send(t, broadcast, "")
	missed = append(missed, broadcast)
	if state, _ := evalJS[string](paper, `document.querySelector('[data-testid=conn-status]').dataset.state`); state == "live" {
		t.Fatalf("the page says live while the proxy refuses every connection")
	}
	px.Unblock()

	paper.waitFor("the stream to come back", `(() => { const s = document.querySelector('[data-testid=conn-status]'); return s.dataset.state === 'live' && Number(s.dataset.reconnects) >= 2; })()`)
	for _, body := range missed {
		paper.waitMessage(body)
	}
	// Something sent after the reconnect proves the stream is live again, and
	// gives a duplicate delivery of the replayed messages time to show up.
	last := "after the reconnect"
	luis.send(t, last, paperCode)
	paper.waitMessage(last)
	for _, body := range append(missed, first, last) {
		if n := paper.messageCount(body); n != 1 {
			t.Errorf("paper: %q shown %d times, want 1", body, n)
		}
	}
	ordered, _ := evalJS[bool](paper, `(() => { const ids = [...document.querySelectorAll('[data-testid=message]')].map(li => li.dataset.id); return ids.every((id, i) => i === 0 || ids[i-1] < id); })()`)
	if !ordered {
		t.Errorf("paper: messages are not in id order after the reconnect")
	}
	if ex := paper.Exceptions(); len(ex) > 0 {
		t.Errorf("paper: uncaught exceptions in the page: %v", ex)
	}
}

// TestSignUp_ValidationErrorsShowNextToFields submits bad sign-ups and checks
// the API's messages appear next to the field they concern.
func TestSignUp_ValidationErrorsShowNextToFields(t *testing.T) {
	srv := startServer(t)
	registerAPI(t, srv.URL, "luis", password)
	browser := newBrowser(t)
	p := newPage(t, browser, "newcomer")
	p.open(srv.URL)

	cases := []struct {
		name                      string
		username, email, password string
		field                     string
	}{
		{"bad email", "dora", "not-an-email", password, "email"},
		{"short password", "dora", "dora@example.com", "short", "password"},
		{"taken username", "luis", "luis2@example.com", password, "username"},
	}
	for _, c := range cases {
		p.fillRegister(c.username, c.email, c.password)
		errSel := `[data-testid=register-` + c.field + `-error]`
		p.waitFor(c.name+": an error next to the "+c.field+" field",
			`(() => { const e = document.querySelector(`+jsString(errSel)+`); return e && !e.hidden && e.textContent.trim().length > 0; })()`)
		if inv, _ := evalJS[string](p, `document.querySelector('[data-testid=register-`+c.field+`]').getAttribute('aria-invalid') || ''`); inv != "true" {
			t.Errorf("%s: the %s input is not marked aria-invalid", c.name, c.field)
		}
		for _, other := range []string{"username", "email", "password"} {
			if other == c.field {
				continue
			}
			if txt := p.text(`[data-testid=register-` + other + `-error]`); txt != "" {
				t.Errorf("%s: unexpected error next to %s: %q", c.name, other, txt)
			}
		}
		if view, _ := evalJS[string](p, `document.getElementById('app').dataset.view`); view != "auth" {
			t.Fatalf("%s: the page left the sign-up form (view %q)", c.name, view)
		}
		t.Logf("%s: %s error shown: %q", c.name, c.field, p.text(errSel))
		if c.field == "email" {
			p.shoot("signup-error-phone", 360, 740)
			p.must("desktop viewport", desktop())
		}
	}
	p.shoot("signup-error-desktop", 1280, 800)
}

func userSel(usercode string) string {
	return `[data-testid=online-list] [data-testid=user][data-usercode="` + usercode + `"]`
}

// TestChat_OlderHistoryOnScroll signs in through the form of a user with more
// history than one page: scrolling to the top fetches the older page
// (before=), each message once, in order.
func TestChat_OlderHistoryOnScroll(t *testing.T) {
	// The setup sends 65 messages at once through the API, faster than the
	// per-user send limit lets a person.
	srv := startServer(t, "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: e2e}\nspec: {messaging: {sendRateLimit: {perSecond: 0}}}\n")
	sender := registerAPI(t, srv.URL, "chatty", password)
	reader := registerAPI(t, srv.URL, "reader", password)
	const total = 65
	for i := 1; i <= total; i++ {
		sender.send(t, fmt.Sprintf("history message %02d", i), reader.user.Usercode)
	}
	browser := newBrowser(t)
	p := newPage(t, browser, "reader")
	p.open(srv.URL)
	p.must("signing in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-username]`), "reader"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-password]`), password),
		clickCSS(`[data-testid=login-submit]`),
	)
	p.waitFor("the chat after sign-in", `document.getElementById('app').dataset.view === 'chat'`)
	if code := p.text(`[data-testid=me-usercode]`); code != reader.user.Usercode {
		t.Errorf("header usercode %q, want %q", code, reader.user.Usercode)
	}
	last := fmt.Sprintf("history message %02d", total)
	p.waitMessage(last)
	first := "history message 01"
	if n := p.messageCount(first); n != 0 {
		t.Fatalf("the first page already holds the oldest message: the test needs more than one page")
	}
	// Scroll to the top, as a reader would, until the oldest message is there.
	deadline := time.Now().Add(waitTimeout)
	for p.messageCount(first) == 0 {
		if time.Now().After(deadline) {
			p.fail("scrolling up never brought the oldest message")
		}
		p.eval(`(() => { const l = document.querySelector('[data-testid=message-list]'); l.scrollTop = 0; l.dispatchEvent(new Event('scroll')); return true; })()`)
		time.Sleep(300 * time.Millisecond)
	}
	p.waitFor("the beginning of history", `!document.querySelector('[data-testid=history-start]').hidden`)
	bodies, err := evalJS[[]string](p, `[...document.querySelectorAll('[data-testid=message-body]')].map(e => e.textContent)`)
	if err != nil {
		t.Fatal(err)
	}
	if len(bodies) != total {
		t.Errorf("%d messages shown after scrolling up, want %d", len(bodies), total)
	}
	for i, b := range bodies {
		if want := fmt.Sprintf("history message %02d", i+1); b != want {
			t.Errorf("message %d is %q, want %q (order or duplicates)", i, b, want)
			break
		}
	}
}
