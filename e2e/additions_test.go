package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Tests of issue 13's additions: links, Reply, notifications and the title
// count, typing indicators, finding people and "last seen".

// bodyOf returns, from c's history, whether a message with this body exists
// and whether it was a broadcast.
func (c *apiClient) bodyOf(t *testing.T, body string) (found, broadcast bool) {
	t.Helper()
	broadcast, found = c.bodies(t)[body]
	return found, broadcast
}

// linkInfo is one rendered link of a message body.
type linkInfo struct {
	Href   string `json:"href"`
	Text   string `json:"text"`
	Rel    string `json:"rel"`
	Target string `json:"target"`
}

func (p *browserPage) links(body string) []linkInfo {
	p.t.Helper()
	js := `(() => { const li = [...document.querySelectorAll('[data-testid=message]')].find(li => li.querySelector('[data-testid=message-body]').textContent === ` + jsString(body) + `);
	  if (!li) return 'null';
	  return JSON.stringify([...li.querySelectorAll('[data-testid=message-body] a')].map(a => ({href: a.href, text: a.textContent, rel: a.rel, target: a.target}))); })()`
	s, err := evalJS[string](p, js)
	if err != nil {
		p.fail("reading the links of %q: %v", body, err)
	}
	var out []linkInfo
	if err := json.Unmarshal([]byte(s), &out); err != nil || out == nil {
		p.fail("no message %q to read links from (%s, %v)", body, s, err)
	}
	return out
}

// TestChat_LinksAreClickableOnlyForHTTP sends a body with http(s) URLs next to
// things that must stay text (javascript:, data:, markup around a URL, ftp:):
// only the http(s) URLs become links, each opening a new tab with
// rel="noopener noreferrer", and the body still reads exactly as sent.
func TestChat_LinksAreClickableOnlyForHTTP(t *testing.T) {
	srv := startServer(t)
	browser := newBrowser(t)
	amy := newPage(t, browser, "amy")
	amy.open(srv.URL)
	amyCode := amy.register("amy", password)
	amy.waitLive()
	ben := registerAPI(t, srv.URL, "ben", password)

	body := "docs: https://en.wikipedia.org/wiki/Go_(game), and HTTP://EXAMPLE.COM/x?y=1&z=2.\n" +
		"not links: javascript:alert(1) data:text/html,<script>alert(2)</script> ftp://files.example.com http://\n" +
		`markup: <a href="javascript:alert(3)">https://evil.example/p</a>` + "\n" +
		"in brackets (https://example.org/path) end"
	ben.send(t, body, amyCode)
	amy.waitMessage(body) // textContent is the body, character for character

	got := amy.links(body)
	want := []linkInfo{
		{Href: "https://en.wikipedia.org/wiki/Go_(game)", Text: "https://en.wikipedia.org/wiki/Go_(game)"},
		{Href: "http://example.com/x?y=1&z=2", Text: "HTTP://EXAMPLE.COM/x?y=1&z=2"},
		{Href: "https://evil.example/p", Text: "https://evil.example/p"},
		{Href: "https://example.org/path", Text: "https://example.org/path"},
	}
	if len(got) != len(want) {
		t.Fatalf("links = %+v, want %d links: %+v", got, len(want), want)
	}
	for i, l := range got {
		if l.Href != want[i].Href || l.Text != want[i].Text {
			t.Errorf("link %d = %q (text %q), want %q (text %q)", i, l.Href, l.Text, want[i].Href, want[i].Text)
		}
		if l.Rel != "noopener noreferrer" || l.Target != "_blank" {
			t.Errorf("link %d: rel %q target %q, want rel \"noopener noreferrer\" target _blank", i, l.Rel, l.Target)
		}
	}
	// Nothing but links and text spans is made from a body: no script, no
	// element from the markup, no attribute handlers.
	if n, _ := evalJS[int](amy, `[...document.querySelectorAll('[data-testid=message-body] *')].filter(e => !['A','SPAN'].includes(e.tagName) || [...e.attributes].some(a => a.name.startsWith('on'))).length`); n != 0 {
		t.Errorf("the body holds %d elements that are neither a link nor a text span", n)
	}
	if n, _ := evalJS[int](amy, `[...document.querySelectorAll('[data-testid=message-body] a')].filter(a => !/^https?:$/.test(new URL(a.href).protocol)).length`); n != 0 {
		t.Errorf("%d links with a scheme other than http(s)", n)
	}

	// Clicking a link opens it in a new tab and leaves the composer alone.
	before, _ := evalJS[string](amy, `document.querySelector('[data-testid=recipient-select]').value`)
	amy.eval(`(() => { window.__e2eOpened = []; document.addEventListener('click', (e) => { const a = e.target.closest('a'); if (a) { window.__e2eOpened.push(a.target); e.preventDefault(); } }); return true; })()`)
	amy.must("clicking the first link", clickCSS(`[data-testid=message-link]`))
	amy.waitFor("the click to reach the link", `window.__e2eOpened.length === 1 && window.__e2eOpened[0] === '_blank'`)
	if after, _ := evalJS[string](amy, `document.querySelector('[data-testid=recipient-select]').value`); after != before {
		t.Errorf("clicking a link changed the recipient from %q to %q", before, after)
	}
	amy.axeLightDark("links")
	amy.shoot("links-desktop", 1280, 800)
	amy.shoot("links-phone", 360, 740)
	amy.must("desktop viewport", desktop())
	if d := amy.Dialogs(); len(d) != 0 {
		t.Errorf("a dialog opened: %v", d)
	}
	if ex := amy.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", ex)
	}
}

// replyJS finds the Reply button of the message with this body.
func replyJS(body string) string {
	return `[...document.querySelectorAll('[data-testid=message]')].find(li => li.querySelector('[data-testid=message-body]').textContent === ` + jsString(body) + `).querySelector('[data-testid=reply]')`
}

// TestChat_ReplyQuotesAndGoesToTheSender: Reply on a received broadcast and
// on a direct message sets the recipient to its sender (privately, never to
// everyone) and starts the composer with a quote of the first line; the
// recipient then stays put when someone else writes, and the sent reply
// shows its quote.
func TestChat_ReplyQuotesAndGoesToTheSender(t *testing.T) {
	srv := startServer(t)
	browser := newBrowser(t)
	ben := newPage(t, browser, "ben")
	ben.open(srv.URL)
	benCode := ben.register("ben", password)
	ben.waitLive()
	amy := registerAPI(t, srv.URL, "amy", password)
	cat := registerAPI(t, srv.URL, "cat", password)
	ben.waitOnline(cat.user.Usercode)
	ben.waitOnline(amy.user.Usercode)

	announce := "cat here: the build is green\nsecond line of the broadcast"
	cat.send(t, announce, "")
	ben.waitMessage(announce)
	question := "can you review my change today?\nit is the one about presence"
	amy.send(t, question, benCode)
	ben.waitMessage(question)
	if n, _ := evalJS[int](ben, `[...document.querySelectorAll('[data-testid=message].mine [data-testid=reply]')].length`); n != 0 {
		t.Errorf("own messages have %d Reply buttons", n)
	}

	ben.chooseRecipient("@all") // a reply must override even an explicit broadcast choice
	ben.must("clicking Reply on cat's broadcast", chromedp.Click(chromedp.JSPath(replyJS(announce))))
	ben.waitFor("cat as recipient", `document.querySelector('[data-testid=recipient-select]').value === `+jsString(cat.user.Usercode))
	ben.waitFor("the quote of cat's first line", `document.querySelector('[data-testid=composer-input]').value === `+jsString("> cat here: the build is green\n"))
	if !ben.eval(`document.querySelector('[data-testid=broadcast-note]').hidden`).(bool) {
		t.Errorf("the composer still says everyone will see it after Reply")
	}
	if focused, _ := evalJS[bool](ben, `document.activeElement === document.querySelector('[data-testid=composer-input]')`); !focused {
		t.Errorf("the composer is not focused after Reply")
	}

	// Reply on amy's message replaces cat's quote rather than stacking both.
	ben.must("clicking Reply on amy's message", chromedp.Click(chromedp.JSPath(replyJS(question))))
	ben.waitFor("amy as recipient", `document.querySelector('[data-testid=recipient-select]').value === `+jsString(amy.user.Usercode))
	ben.waitFor("the quote of amy's first line", `document.querySelector('[data-testid=composer-input]').value === `+jsString("> can you review my change today?\n"))

	// Someone else writing does not move the recipient of a reply.
	interjection := "cat again, directly"
	cat.send(t, interjection, benCode)
	ben.waitMessage(interjection)
	if v, _ := evalJS[string](ben, `document.querySelector('[data-testid=recipient-select]').value`); v != amy.user.Usercode {
		t.Fatalf("the recipient moved to %q when cat wrote; want amy (%s)", v, amy.user.Usercode)
	}

	ben.must("typing the reply", chromedp.SendKeys(chromedp.CSS(`[data-testid=composer-input]`), "yes, after lunch"))
	ben.axeLightDark("reply composer")
	ben.shoot("reply-composer-desktop", 1280, 800)
	ben.shoot("reply-composer-phone", 360, 740)
	ben.must("desktop viewport", desktop())
	reply := "> can you review my change today?\nyes, after lunch"
	ben.waitFor("the composer to hold the reply", `document.querySelector('[data-testid=composer-input]').value === `+jsString(reply))
	ben.pressEnter()
	ben.waitMine(reply)
	if found, broadcast := amy.bodyOf(t, reply); !found || broadcast {
		t.Fatalf("amy: reply present %v broadcast %v; want a direct message", found, broadcast)
	}
	if found, _ := cat.bodyOf(t, reply); found {
		t.Fatalf("cat received ben's reply to amy")
	}
	quote := ben.eval(`[...document.querySelectorAll('[data-testid=message].mine [data-testid=message-quote]')].map(q => q.textContent).join('|')`).(string)
	if quote != "> can you review my change today?" {
		t.Errorf("the sent reply's quote reads %q", quote)
	}
	ben.axeLightDark("reply quote")
	ben.shoot("reply-quote-desktop", 1280, 800)
	// On a phone the sent reply is below the fold after the resize: show it.
	ben.must("phone viewport", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(1), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	ben.eval(`(() => { const q = [...document.querySelectorAll('[data-testid=message].mine [data-testid=message-quote]')].pop(); q.closest('[data-testid=message]').scrollIntoView({block: 'end'}); return true; })()`)
	ben.shoot("reply-quote-phone", 360, 740)
	ben.must("desktop viewport", desktop())
	if ex := ben.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", ex)
	}
}

// hiddenTabJS runs in the page before its own scripts. It lets a test hide
// and show the tab (document.visibilityState follows window.__e2eHidden) and
// replaces window.Notification with a recorder: headless chromium shows no
// notification a test could observe. requestPermission records whether it
// was called during a user gesture and grants.
const hiddenTabJS = `(() => {
  window.__e2eHidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get() { return window.__e2eHidden ? 'hidden' : 'visible'; } });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get() { return window.__e2eHidden; } });
  window.__e2eNotes = [];
  window.__e2eAsks = [];
  class RecordingNotification {
    constructor(title, opts) {
      opts = opts || {};
      this.title = title; this.body = opts.body || ''; this.tag = opts.tag || ''; this.closed = false;
      window.__e2eNotes.push(this);
    }
    close() { this.closed = true; if (this.onclose) this.onclose(); }
    static requestPermission() {
      window.__e2eAsks.push(navigator.userActivation ? navigator.userActivation.isActive : 'unknown');
      RecordingNotification.permission = 'granted';
      return Promise.resolve('granted');
    }
  }
  RecordingNotification.permission = 'default';
  window.Notification = RecordingNotification;
})()`

// stubHiddenTab installs hiddenTabJS for every document the page loads.
func (p *browserPage) stubHiddenTab() {
	p.t.Helper()
	p.must("installing the hidden-tab stubs", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: hiddenTabJS})
		return err
	}))
}

// setHidden hides or shows the tab as switching tabs would.
func (p *browserPage) setHidden(hidden bool) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { window.__e2eHidden = %t; document.dispatchEvent(new Event('visibilitychange')); return true; })()`, hidden))
}

type note struct {
	Title  string `json:"title"`
	Body   string `json:"body"`
	Closed bool   `json:"closed"`
}

func (p *browserPage) notes() []note {
	p.t.Helper()
	s, err := evalJS[string](p, `JSON.stringify(window.__e2eNotes.map(n => ({title: n.title, body: n.body, closed: n.closed})))`)
	if err != nil {
		p.fail("reading notifications: %v", err)
	}
	var out []note
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		p.fail("decoding notifications: %v", err)
	}
	return out
}

// titleMatchesBadgeJS: the tab title is "(N) messager" with N the header's
// unread count, and N is at least min.
func titleMatchesBadgeJS(min int) string {
	return fmt.Sprintf(`(() => { const b = document.querySelector('[data-testid=unread-total]'); const n = b.hidden ? 0 : Number(b.textContent);
	  return n >= %d && document.title === '(' + n + ') messager'; })()`, min)
}

// TestChat_HiddenTabTitleAndNotifications: while the tab is hidden the title
// carries the unread count; notifications are opt-in (the permission is asked
// only on the person's click), shown only while hidden, for direct messages
// and broadcasts, with the sender and the first line; showing the tab clears
// the title and closes them, and opting out stops them.
func TestChat_HiddenTabTitleAndNotifications(t *testing.T) {
	srv := startServer(t)
	browser := newBrowser(t)
	ben := newPage(t, browser, "ben")
	ben.stubHiddenTab()
	ben.open(srv.URL)
	benCode := ben.register("ben", password)
	ben.waitLive()
	amy := registerAPI(t, srv.URL, "amy", password)
	cat := registerAPI(t, srv.URL, "cat", password)
	ben.waitOnline(cat.user.Usercode)
	if title := ben.eval(`document.title`).(string); title != "messager" {
		t.Errorf("title %q while visible, want messager", title)
	}
	if ben.eval(`document.querySelector('[data-testid=notify-toggle]').checked || window.__e2eAsks.length > 0`).(bool) {
		t.Fatalf("notifications are on, or permission was asked, before ben opted in")
	}

	// Not opted in: a hidden tab counts in its title but shows no notification.
	ben.setHidden(true)
	first := "before you opted in"
	amy.send(t, first, benCode)
	ben.waitMessage(first)
	ben.waitFor("the unread count in the title", titleMatchesBadgeJS(1))
	if n := ben.notes(); len(n) != 0 {
		t.Fatalf("notified without opting in: %+v", n)
	}
	ben.setHidden(false)
	ben.waitFor("the plain title once visible", `document.title === 'messager'`)

	// Opting in asks for permission, during the click.
	ben.must("opting in to notifications", clickCSS(`[data-testid=notify-toggle]`))
	ben.waitFor("the toggle to be on", `document.querySelector('[data-testid=notify-toggle]').checked && window.__e2eAsks.length === 1`)
	if asks := ben.eval(`JSON.stringify(window.__e2eAsks)`).(string); asks != "[true]" {
		t.Errorf("permission asked with user activation %s, want [true] (only on the person's click)", asks)
	}
	ben.axeLightDark("notification toggle")
	ben.shoot("notify-toggle-desktop", 1280, 800)
	ben.must("desktop viewport", desktop())

	// Visible: no notification (the next one, hidden, must be the first).
	seen := "you are looking at this one"
	amy.send(t, seen, benCode)
	ben.waitMessage(seen)

	ben.setHidden(true)
	dm := "lunch at noon?\nthe place on the corner"
	amy.send(t, dm, benCode)
	ben.waitFor("a notification for amy's message", `window.__e2eNotes.length === 1`)
	broadcast := "fire drill at three\nplease leave by the stairs"
	cat.send(t, broadcast, "")
	ben.waitFor("a notification for cat's broadcast", `window.__e2eNotes.length === 2`)
	ben.waitMessage(broadcast)
	ben.waitFor("the title to count the hidden messages", titleMatchesBadgeJS(2))
	got := ben.notes()
	want := []note{{Title: "amy", Body: "lunch at noon?"}, {Title: "cat (to everyone)", Body: "fire drill at three"}}
	for i := range want {
		if got[i].Title != want[i].Title || got[i].Body != want[i].Body {
			t.Errorf("notification %d = %q / %q, want %q / %q", i, got[i].Title, got[i].Body, want[i].Title, want[i].Body)
		}
	}
	// Clicking amy's notification opens her conversation.
	ben.eval(`(() => { window.__e2eNotes[0].onclick(); return true; })()`)
	ben.waitFor("the conversation with amy", `document.querySelector('[data-testid=conv-title]').textContent.includes('amy')`)
	ben.setHidden(false)
	ben.waitFor("the plain title once visible", `document.title === 'messager'`)
	ben.waitFor("the notifications to close", `window.__e2eNotes.every(n => n.closed)`)

	// Opting out: hidden again, a message counts in the title, no notification.
	ben.must("opting out", clickCSS(`[data-testid=notify-toggle]`))
	ben.waitFor("the toggle to be off", `!document.querySelector('[data-testid=notify-toggle]').checked`)
	ben.setHidden(true)
	after := "after you opted out"
	amy.send(t, after, benCode)
	ben.waitMessage(after)
	ben.waitFor("the title to count it", titleMatchesBadgeJS(1))
	if n := ben.notes(); len(n) != 2 {
		t.Errorf("%d notifications after opting out, want still 2", len(n))
	}
	ben.setHidden(false)
	if ex := ben.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", ex)
	}
}

// recordFetchesJS makes the page note the path and query of every fetch it
// starts, at the moment it starts, in window.__e2eFetches.
const recordFetchesJS = `(() => {
  window.__e2eFetches = [];
  const orig = window.fetch.bind(window);
  window.fetch = (input, init) => {
    try { const u = new URL(typeof input === 'string' ? input : input.url, location.href); window.__e2eFetches.push(u.pathname + u.search); } catch (e) {}
    return orig(input, init);
  };
})()`

func (p *browserPage) recordFetches() {
	p.t.Helper()
	p.must("installing the fetch recorder", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordFetchesJS})
		return err
	}))
}

func (p *browserPage) fetchCount(prefix string) int {
	p.t.Helper()
	n, err := evalJS[int](p, `window.__e2eFetches.filter(u => u.startsWith(`+jsString(prefix)+`)).length`)
	if err != nil {
		p.fail("counting fetches of %s: %v", prefix, err)
	}
	return n
}

const typingJS = `(() => { const e = document.querySelector('[data-testid=typing]'); return e && !e.hidden ? e.textContent : ''; })()`

// TestChat_TypingIndicatorInDirectMessages: typing a direct message shows
// "amy is typing…" to its recipient, sent at most every few seconds; it goes
// away by itself a few seconds after the typing stops, and at once when the
// message arrives; typing a broadcast sends nothing.
func TestChat_TypingIndicatorInDirectMessages(t *testing.T) {
	srv := startServer(t)
	browser := newBrowser(t)
	amy := newPage(t, browser, "amy")
	amy.recordFetches()
	ben := newPage(t, browser, "ben")
	amy.open(srv.URL)
	amyCode := amy.register("amy", password)
	ben.open(srv.URL)
	benCode := ben.register("ben", password)
	amy.waitLive()
	ben.waitLive()
	amy.waitOnline(benCode)
	ben.waitOnline(amyCode)

	amy.must("opening the conversation with ben", clickCSS(userSel(benCode)))
	amy.waitFor("ben as recipient", `document.querySelector('[data-testid=recipient-select]').value === `+jsString(benCode))
	start := time.Now()
	amy.must("typing to ben", chromedp.SendKeys(chromedp.CSS(`[data-testid=composer-input]`), "hold on, I am writing you a long message"))
	typed := time.Since(start)
	ben.waitFor("amy is typing…", typingJS+` === 'amy is typing…'`)
	shownAt := time.Now()
	if n, limit := amy.fetchCount("/api/v1/typing"), 1+int(typed/(2*time.Second)); n < 1 || n > limit {
		t.Errorf("amy sent %d typing events while typing for %s, want 1..%d", n, typed.Round(time.Millisecond), limit)
	}
	ben.shoot("typing-desktop", 1280, 800)
	ben.shoot("typing-phone", 360, 740)
	ben.must("desktop viewport", desktop())
	ben.axe("typing indicator")

	// Nobody types any more: the indicator goes by itself, after a few seconds.
	ben.waitFor("the indicator to go away", typingJS+` === ''`)
	if gone := time.Since(shownAt); gone < 3*time.Second {
		t.Errorf("the indicator went away %s after it showed, want about 5 s after the last event", gone.Round(time.Millisecond))
	}

	// It comes back with more typing, and the message itself ends it.
	amy.must("typing more", chromedp.SendKeys(chromedp.CSS(`[data-testid=composer-input]`), "."))
	ben.waitFor("amy is typing… again", typingJS+` === 'amy is typing…'`)
	body := "hold on, I am writing you a long message."
	amy.waitFor("the composer to hold the message", `document.querySelector('[data-testid=composer-input]').value === `+jsString(body))
	amy.pressEnter()
	amy.waitMine(body)
	ben.waitMessage(body)
	if s, _ := evalJS[string](ben, typingJS); s != "" {
		t.Errorf("the indicator still says %q after amy's message arrived", s)
	}

	// Typing a broadcast tells nobody.
	before := amy.fetchCount("/api/v1/typing")
	amy.must("back to all messages", clickCSS(`[data-testid=show-all]`))
	amy.chooseRecipient("@all")
	amy.must("typing a broadcast", chromedp.SendKeys(chromedp.CSS(`[data-testid=composer-input]`), "this is for everyone"))
	amy.waitFor("the broadcast text", `document.querySelector('[data-testid=composer-input]').value === 'this is for everyone'`)
	if n := amy.fetchCount("/api/v1/typing"); n != before {
		t.Errorf("typing a broadcast sent %d typing events", n-before)
	}
	for _, p := range []*browserPage{amy, ben} {
		if ex := p.Exceptions(); len(ex) > 0 {
			t.Errorf("%s: uncaught exceptions in the page: %v", p.name, ex)
		}
	}
}

// axeLightDark runs axe-core (see a11y_test.go) on the view as it is, in light
// and in dark mode, at desktop width.
func (p *browserPage) axeLightDark(view string) {
	p.t.Helper()
	p.must("desktop viewport", desktop())
	for _, scheme := range []string{"light", "dark"} {
		p.colorScheme(scheme)
		p.axe(view + " (" + scheme + ")")
	}
	p.colorScheme("light")
}

// shootPhoneSidebar saves a phone-width screenshot with the sidebar drawer
// open, then closes it and goes back to the desktop viewport.
func (p *browserPage) shootPhoneSidebar(name string) {
	p.t.Helper()
	p.must("phone viewport", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(1), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	p.must("opening the sidebar", clickCSS(`[data-testid=sidebar-toggle]`))
	p.waitFor("the sidebar to open", `document.getElementById('layout').classList.contains('sidebar-open') && document.getElementById('sidebar').getBoundingClientRect().left >= 0`)
	p.shoot(name, 360, 740)
	p.must("closing the sidebar", clickCSS(`[data-testid=sidebar-toggle]`))
	p.waitFor("the sidebar to close", `!document.getElementById('layout').classList.contains('sidebar-open')`)
	p.must("desktop viewport", desktop())
}

func findResultSel(usercode string) string {
	return `[data-testid=find-results] [data-testid=user][data-usercode="` + usercode + `"]`
}

func recentSel(usercode string) string {
	return `[data-testid=recent-list] [data-testid=user][data-usercode="` + usercode + `"]`
}

const lastSeenRecentRE = `/^last seen (just now|[1-9] min ago)$/`

// TestChat_FindPeopleWhoAreOffline: "Find people" searches by username prefix
// or usercode as one types, shows who is online and when the others were last
// seen; clicking a result opens the conversation, so a person who has never
// been online can be written to. Recent then says when each offline person
// was last seen, live (presence events) and after a reload (a lookup).
func TestChat_FindPeopleWhoAreOffline(t *testing.T) {
	srv := startServer(t)
	// dora has an account but has never signed in; eve was here and signed out.
	dora := &apiClient{base: srv.URL}
	if code := dora.do(t, "POST", "/api/v1/auth/register", map[string]string{"username": "dora", "email": "dora@example.com", "password": password}, nil); code != http.StatusCreated {
		t.Fatalf("register dora: %d", code)
	}
	doris := registerAPI(t, srv.URL, "doris", password)
	eve := registerAPI(t, srv.URL, "eve", password)

	browser := newBrowser(t)
	ben := newPage(t, browser, "ben")
	ben.recordFetches()
	ben.open(srv.URL)
	ben.register("ben", password)
	ben.waitLive()
	ben.waitOnline(eve.user.Usercode)
	if n := ben.fetchCount("/api/v1/users?"); n != 0 {
		t.Errorf("%d searches before anything was typed", n)
	}

	ben.must("typing in Find people", chromedp.SendKeys(chromedp.CSS(`[data-testid=find-input]`), "Dor"))
	ben.waitFor("dora and doris in the results", `document.querySelectorAll('[data-testid=find-results] [data-testid=user]').length === 2`)
	var doraCode string
	doraCode = ben.eval(`[...document.querySelectorAll('[data-testid=find-results] [data-testid=user]')].find(b => b.querySelector('[data-testid=user-name]').textContent === 'dora').dataset.usercode`).(string)
	if got := ben.text(findResultSel(doraCode) + ` [data-testid=last-seen]`); got != "offline" {
		t.Errorf("dora, never online, is shown as %q, want offline", got)
	}
	if got := ben.text(findResultSel(doris.user.Usercode) + ` [data-testid=last-seen]`); got != "online" {
		t.Errorf("doris, online, is shown as %q", got)
	}
	if n := ben.fetchCount("/api/v1/users?"); n > 3 {
		t.Errorf("%d searches for 3 typed characters: the box is not debounced", n)
	}
	if s := ben.eval(`document.body.textContent`).(string); strings.Contains(s, "dora@example.com") {
		t.Errorf("the page shows dora's email")
	}
	ben.axeLightDark("find people")
	ben.shoot("find-people-desktop", 1280, 800)
	ben.colorScheme("dark")
	ben.shoot("find-people-dark-desktop", 1280, 800)
	ben.colorScheme("light")
	ben.shootPhoneSidebar("find-people-phone")

	// Clicking dora opens her conversation; a message reaches her though she
	// has never been online.
	ben.must("clicking dora", clickCSS(findResultSel(doraCode)))
	ben.waitFor("the conversation with dora", `document.querySelector('[data-testid=conv-title]').textContent.includes('dora')`)
	ben.waitFor("dora as recipient", `document.querySelector('[data-testid=recipient-select]').value === `+jsString(doraCode))
	hello := "hi dora, found you in the search"
	ben.compose(hello)
	ben.pressEnter()
	ben.waitMine(hello)
	ben.waitFor("dora in Recent", `document.querySelector(`+jsString(recentSel(doraCode))+`)`)
	if got := ben.text(recentSel(doraCode) + ` [data-testid=last-seen]`); got != "offline" {
		t.Errorf("dora in Recent shows %q, want offline (never seen)", got)
	}
	var login struct{ Token string }
	if code := dora.do(t, "POST", "/api/v1/auth/login", map[string]string{"username": "dora", "password": password}, &login); code != http.StatusOK {
		t.Fatalf("dora login: %d", code)
	}
	dora.token = login.Token
	if found, broadcast := dora.bodyOf(t, hello); !found || broadcast {
		t.Fatalf("dora: message present %v broadcast %v; want a direct message", found, broadcast)
	}

	// Searching by usercode (in any case) finds eve exactly.
	ben.clear(`[data-testid=find-input]`)
	ben.must("typing eve's usercode", chromedp.SendKeys(chromedp.CSS(`[data-testid=find-input]`), strings.ToLower(eve.user.Usercode)))
	ben.waitFor("eve as the first result", `(() => { const b = document.querySelector('[data-testid=find-results] [data-testid=user]'); return b && b.dataset.usercode === `+jsString(eve.user.Usercode)+`; })()`)
	if got := ben.text(findResultSel(eve.user.Usercode) + ` [data-testid=last-seen]`); got != "online" {
		t.Errorf("eve, online, is shown as %q", got)
	}
	// Clearing the box clears the results.
	ben.clear(`[data-testid=find-input]`)
	ben.waitFor("no results", `document.querySelectorAll('[data-testid=find-results] > *').length === 0 && document.querySelector('[data-testid=find-status]').hidden`)
	if ex := ben.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", ex)
	}
}

// TestChat_RecentShowsLastSeen: when a person ben has written to signs out,
// they move to Recent with "last seen just now" at once (presence event), and
// after a reload the page looks the time up.
func TestChat_RecentShowsLastSeen(t *testing.T) {
	srv := startServer(t)
	eve := registerAPI(t, srv.URL, "eve", password)
	browser := newBrowser(t)
	ben := newPage(t, browser, "ben")
	ben.open(srv.URL)
	ben.register("ben", password)
	ben.waitLive()
	ben.waitOnline(eve.user.Usercode)
	ben.must("clicking eve", clickCSS(userSel(eve.user.Usercode)))
	ben.waitFor("eve as recipient", `document.querySelector('[data-testid=recipient-select]').value === `+jsString(eve.user.Usercode))
	bye := "see you tomorrow eve"
	ben.compose(bye)
	ben.pressEnter()
	ben.waitMine(bye)
	if code := eve.do(t, "POST", "/api/v1/auth/logout", nil, nil); code >= 300 {
		t.Fatalf("eve logout: %d", code)
	}
	ben.waitFor("eve in Recent with last seen", `(() => { const e = document.querySelector(`+jsString(recentSel(eve.user.Usercode)+` [data-testid=last-seen]`)+`); return e && `+lastSeenRecentRE+`.test(e.textContent); })()`)
	ben.must("back to all messages", clickCSS(`[data-testid=show-all]`))
	ben.axeLightDark("recent with last seen")
	ben.shoot("recent-last-seen-desktop", 1280, 800)
	ben.shootPhoneSidebar("recent-last-seen-phone")

	// After a reload the page looks last seen up.
	ben.reload()
	ben.waitFor("eve's last seen after a reload", `(() => { const e = document.querySelector(`+jsString(recentSel(eve.user.Usercode)+` [data-testid=last-seen]`)+`); return e && `+lastSeenRecentRE+`.test(e.textContent); })()`)

	// Five minutes later (the page's clock moved on) it reads "5 min ago".
	ben.eval(`(() => { const now = Date.now; Date.now = () => now() + 5 * 60 * 1000; return true; })()`)
	ben.must("opening the conversation with eve", clickCSS(recentSel(eve.user.Usercode)))
	ben.waitFor("last seen 5 min ago", `/^last seen [5-9] min ago$/.test(document.querySelector(`+jsString(recentSel(eve.user.Usercode)+` [data-testid=last-seen]`)+`).textContent)`)
	if ex := ben.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", ex)
	}
}
