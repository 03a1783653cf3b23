package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// signIn fills and submits the sign-in form.
func signIn(username, pw string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-username]`), username),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-password]`), pw),
		clickCSS(`[data-testid=login-submit]`),
	}
}

// unreadOnServer is the server's count of c's unread messages, and which of
// the given bodies are still unread.
func (c *apiClient) unreadOnServer(t *testing.T, bodies ...string) (int, map[string]bool) {
	t.Helper()
	var n struct {
		Unread int `json:"unread"`
	}
	if code := c.do(t, "GET", "/api/v1/messages/unread", nil, &n); code != http.StatusOK {
		t.Fatalf("unread of %s: %d", c.user.Username, code)
	}
	var page struct {
		Messages []struct {
			Body   string  `json:"body"`
			ReadAt *string `json:"read_at"`
		} `json:"messages"`
	}
	if code := c.do(t, "GET", "/api/v1/messages?limit=200", nil, &page); code != http.StatusOK {
		t.Fatalf("history of %s: %d", c.user.Username, code)
	}
	want := map[string]bool{}
	for _, b := range bodies {
		want[b] = true
	}
	unread := map[string]bool{}
	for _, m := range page.Messages {
		if want[m.Body] {
			unread[m.Body] = m.ReadAt == nil
		}
	}
	return n.Unread, unread
}

// badgeCountsJS reads the header total and the sum of the sidebar's badges
// (people online and recent, Everyone, and the "earlier" line).
const badgeCountsJS = `(() => {
  const num = (e) => (e && !e.hidden) ? Number(e.textContent) || 0 : 0;
  let side = 0;
  for (const b of document.querySelectorAll('[data-testid=online-list] [data-testid=user-unread], [data-testid=recent-list] [data-testid=user-unread]')) side += num(b);
  side += num(document.querySelector('[data-testid=everyone-unread]'));
  const e = document.querySelector('[data-testid=unread-earlier]');
  if (e && !e.hidden) side += parseInt(e.textContent, 10) || 0;
  return JSON.stringify({header: num(document.querySelector('[data-testid=unread-total]')), side, toggle: num(document.querySelector('[data-testid=toggle-unread]'))});
})()`

type badgeCounts struct{ Header, Side, Toggle int }

// waitCountsAgree waits until the header total, the sidebar's badges and the
// server's unread count are one number, and returns it.
func waitCountsAgree(t *testing.T, p *browserPage, c *apiClient) int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		s, err := evalJS[string](p, badgeCountsJS)
		var b badgeCounts
		if err == nil {
			err = json.Unmarshal([]byte(s), &b)
		}
		server, _ := c.unreadOnServer(t)
		if err == nil && b.Header == b.Side && b.Header == b.Toggle && b.Header == server {
			return server
		}
		if time.Now().After(deadline) {
			p.fail("unread counts disagree: page %+v (err %v), server %d", b, err, server)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestUnread_CountsAgreeAndReadOnlyWhenSeen: rita has more unread messages
// than one history page, from two people and a broadcast. The header total,
// the sidebar's badges and the server's count agree throughout; messages
// that arrive while her window is hidden, unfocused or scrolled away stay
// unread, and are read once they are on screen in a focused window.
func TestUnread_CountsAgreeAndReadOnlyWhenSeen(t *testing.T) {
	srv := startServer(t, "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: e2e}\nspec: {messaging: {sendRateLimit: {perSecond: 0}}}\n")
	rita := registerAPI(t, srv.URL, "rita", password)
	sam := registerAPI(t, srv.URL, "sam", password)
	tom := registerAPI(t, srv.URL, "tom", password)
	// Broadcasts reach who is online when they are sent.
	if code := rita.do(t, "POST", "/api/v1/presence/heartbeat", nil, nil); code != http.StatusNoContent {
		t.Fatalf("rita heartbeat: %d", code)
	}
	for i := 1; i <= 3; i++ {
		tom.send(t, fmt.Sprintf("old broadcast from tom #%d", i), "")
	}
	for i := 1; i <= 20; i++ {
		tom.send(t, fmt.Sprintf("old dm from tom #%02d", i), rita.user.Usercode)
	}
	for i := 1; i <= 60; i++ {
		sam.send(t, fmt.Sprintf("old dm from sam #%02d", i), rita.user.Usercode)
	}
	waitServer(t, func() bool { n, _ := rita.unreadOnServer(t); return n == 83 }, "83 unread on the server")

	b := newBrowser(t)
	p := newPage(t, b, "rita")
	p.open(srv.URL)
	p.must("signing in", signIn("rita", password)...)
	p.waitFor("the chat", `document.getElementById('app').dataset.view === 'chat'`)
	p.waitLive()
	p.waitMessage("old dm from sam #60")
	// What is on screen at the bottom gets read; the rest, older pages
	// included, is counted under its person.
	waitServer(t, func() bool { n, _ := rita.unreadOnServer(t); return n < 83 }, "the messages on screen to be read")
	time.Sleep(1500 * time.Millisecond)
	n0 := waitCountsAgree(t, p, rita)
	if n0 >= 83 || n0 < 60 {
		t.Errorf("after sign-in %d unread, want the few on screen read and the rest (60+) unread", n0)
	}
	if s := p.text(userSel(sam.user.Usercode) + ` [data-testid=user-unread]`); s == "" {
		// sam is offline: his badge is in Recent.
		if s = p.text(`[data-testid=recent-list] [data-usercode="` + sam.user.Usercode + `"] [data-testid=user-unread]`); s == "" {
			t.Errorf("no unread badge for sam in the sidebar")
		}
	}
	p.shoot("unread-desktop", 1280, 800)
	p.shoot("unread-phone", 360, 740)
	p.must("desktop viewport", desktop())

	// 1. Hidden: rita's window is minimized (hidden and unfocused).
	p.windowState(browser.WindowStateMinimized)
	p.waitFor("the tab to be hidden", `document.visibilityState === 'hidden'`)
	hidden := []string{"sent while rita's window was hidden #1", "sent while rita's window was hidden #2"}
	for _, body := range hidden {
		sam.send(t, body, rita.user.Usercode)
	}
	for _, body := range hidden {
		p.waitMessage(body)
	}
	time.Sleep(2 * time.Second) // well past the read dwell time
	if _, unread := rita.unreadOnServer(t, hidden...); !unread[hidden[0]] || !unread[hidden[1]] {
		t.Errorf("messages that arrived in a hidden tab were marked read: %v", unread)
	}
	waitCountsAgree(t, p, rita)
	p.windowState(browser.WindowStateNormal)
	p.waitFor("the tab to be visible", `document.visibilityState === 'visible'`)
	waitServer(t, func() bool { _, u := rita.unreadOnServer(t, hidden...); return !u[hidden[0]] && !u[hidden[1]] }, "the hidden-tab messages to be read once the window is back")
	waitCountsAgree(t, p, rita)

	// 2. Unfocused: the window stays visible but another window has focus.
	p.eval(`(() => { window.__realHasFocus = document.hasFocus; document.hasFocus = () => false; window.dispatchEvent(new Event('blur')); return true; })()`)
	unfocused := "sent while rita's window was unfocused"
	sam.send(t, unfocused, rita.user.Usercode)
	p.waitMessage(unfocused)
	time.Sleep(2 * time.Second)
	if _, u := rita.unreadOnServer(t, unfocused); !u[unfocused] {
		t.Errorf("a message that arrived while the window was unfocused was marked read")
	}
	p.shoot("unread-unfocused-desktop", 1280, 800)
	p.eval(`(() => { document.hasFocus = window.__realHasFocus; window.dispatchEvent(new Event('focus')); return true; })()`)
	waitServer(t, func() bool { _, u := rita.unreadOnServer(t, unfocused); return !u[unfocused] }, "the unfocused-window message to be read on focus")

	// 3. Off screen: rita scrolled up to read older messages.
	p.eval(`(() => { const l = document.querySelector('[data-testid=message-list]'); l.scrollTop = 0; return true; })()`)
	time.Sleep(500 * time.Millisecond)
	p.eval(`(() => { const l = document.querySelector('[data-testid=message-list]'); l.scrollTop = Math.min(l.scrollTop, 200); return true; })()`)
	offscreen := []string{"sent while rita was scrolled up #1", "sent while rita was scrolled up #2"}
	for _, body := range offscreen {
		sam.send(t, body, rita.user.Usercode)
	}
	for _, body := range offscreen {
		p.waitMessage(body)
	}
	p.waitFor("the new-messages pill", `!document.querySelector('[data-testid=jump-new]').hidden`)
	time.Sleep(2 * time.Second)
	if _, u := rita.unreadOnServer(t, offscreen...); !u[offscreen[0]] || !u[offscreen[1]] {
		t.Errorf("messages rendered off screen were marked read: %v", u)
	}
	waitCountsAgree(t, p, rita)
	p.must("jumping to the new messages", clickCSS(`[data-testid=jump-new]`))
	waitServer(t, func() bool { _, u := rita.unreadOnServer(t, offscreen...); return !u[offscreen[0]] && !u[offscreen[1]] }, "the scrolled-to messages to be read")
	waitCountsAgree(t, p, rita)

	// 4. A live broadcast counts in the header and under Everyone alike.
	if code := sam.do(t, "POST", "/api/v1/presence/heartbeat", nil, nil); code != http.StatusNoContent {
		t.Fatalf("sam heartbeat: %d", code)
	}
	p.waitOnline(sam.user.Usercode)
	p.must("opening the conversation with sam", clickCSS(userSel(sam.user.Usercode)))
	sam.send(t, "a live broadcast while rita reads sam", "")
	p.waitFor("the Everyone badge", `!document.querySelector('[data-testid=everyone-unread]').hidden`)
	waitCountsAgree(t, p, rita)
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", ex)
	}
}

func waitServer(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
