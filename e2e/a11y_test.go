package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeVersion is the axe-core vendored in testdata/axe-core (see its README).
const axeVersion = "4.14.1"

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

func axeScript(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		b, err := os.ReadFile("testdata/axe-core/axe.min.js")
		if err != nil {
			axeErr = err
			return
		}
		if first, _, _ := strings.Cut(string(b), "\n"); !strings.Contains(first, "axe v"+axeVersion) {
			axeErr = fmt.Errorf("testdata/axe-core/axe.min.js is %q, want axe v%s", first, axeVersion)
			return
		}
		axeSource = string(b)
	})
	if axeErr != nil {
		t.Fatal(axeErr)
	}
	return axeSource
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  string `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// axe runs axe-core's default rule set (WCAG 2.x A/AA and best practices) on
// the page as it is now, and fails the test on any serious or critical
// violation and on any landmark rule; lesser ones are logged.
func (p *browserPage) axe(view string) {
	p.t.Helper()
	if _, err := evalJS[bool](p, `typeof window.axe === 'object'`); err != nil {
		p.fail("axe %s: %v", view, err)
	}
	if ok, _ := evalJS[bool](p, `typeof window.axe === 'object'`); !ok {
		// Injected through the DevTools protocol, so the page's CSP does not apply.
		if _, err := evalJS[bool](p, axeScript(p.t)+"\n;true"); err != nil {
			p.fail("injecting axe-core for %s: %v", view, err)
		}
	}
	const run = `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations.map(v => ({
		id: v.id, impact: v.impact || '', help: v.help,
		nodes: v.nodes.slice(0, 6).map(n => ({target: n.target.join(' '), summary: n.failureSummary || ''}))}))))`
	s, err := evalJS[string](p, run, chromedp.EvalAwaitPromise)
	if err != nil {
		p.fail("running axe-core on %s: %v", view, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(s), &vs); err != nil {
		p.fail("decoding axe results for %s: %v", view, err)
	}
	var bad []string
	for _, v := range vs {
		line := fmt.Sprintf("%s [%s] %s", v.ID, v.Impact, v.Help)
		for _, n := range v.Nodes {
			line += fmt.Sprintf("\n      %s: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " "))
		}
		// Landmark rules are "moderate" to axe, but the issue names them:
		// a screen reader user navigates this app by its landmarks.
		if v.Impact == "serious" || v.Impact == "critical" || strings.HasPrefix(v.ID, "landmark-") {
			bad = append(bad, line)
		} else {
			p.t.Logf("axe %s (%s, not failing): %s", view, p.name, line)
		}
	}
	if len(bad) > 0 {
		p.t.Errorf("axe-core on %s (%s): %d serious or critical violation(s):\n  %s", view, p.name, len(bad), strings.Join(bad, "\n  "))
	} else {
		p.t.Logf("axe-core on %s (%s): no serious or critical violation", view, p.name)
	}
}

// colorScheme emulates prefers-color-scheme ("dark", "light", or "" for the
// browser's own).
func (p *browserPage) colorScheme(scheme string) {
	p.t.Helper()
	var features []*emulation.MediaFeature
	if scheme != "" {
		features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	p.must("emulating prefers-color-scheme: "+scheme, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features})
		return err
	}))
	want := scheme
	if want == "" {
		return
	}
	p.waitFor("the page to follow "+scheme, `matchMedia('(prefers-color-scheme: `+want+`)').matches`)
}

// windowState minimizes or restores the page's browser window: a minimized
// window is really hidden (visibilityState "hidden") and unfocused, even in
// headless Chromium, where every tab is otherwise visible and focused.
func (p *browserPage) windowState(state browser.WindowState) {
	p.t.Helper()
	p.must("window "+string(state), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		c := chromedp.FromContext(ctx)
		w, err := cdp.Call(ctx, c.Browser, browser.GetWindowForTarget, browser.GetWindowForTargetParams{TargetID: c.Target.TargetID})
		if err != nil {
			return err
		}
		_, err = cdp.Call(ctx, c.Browser, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: w.WindowID, Bounds: &browser.Bounds{WindowState: state}})
		return err
	}))
}

// TestA11y_AxeOnEveryView runs axe-core on each view of the app, in light
// and dark mode, at desktop and phone width, and saves a screenshot of each.
func TestA11y_AxeOnEveryView(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t)
	p := newPage(t, b, "ada")
	p.open(srv.URL)

	phone := func() {
		p.must("phone viewport", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(1), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	}
	check := func(name string, phoneToo bool) {
		p.must("desktop viewport", desktop())
		p.axe(name + " (desktop)")
		p.shoot("a11y-"+name+"-desktop", 1280, 800)
		if phoneToo {
			phone()
			p.axe(name + " (phone)")
			p.shoot("a11y-"+name+"-phone", 360, 740)
			p.must("desktop viewport", desktop())
		}
	}

	for _, scheme := range []string{"light", "dark"} {
		p.colorScheme(scheme)
		check("signin-"+scheme, true)
	}
	// A sign-up with field errors shown.
	p.fillRegister("x", "not-an-email", "short")
	p.waitFor("field errors", `!document.querySelector('[data-testid=register-username-error]').hidden || !document.querySelector('[data-testid=register-email-error]').hidden`)
	for _, scheme := range []string{"light", "dark"} {
		p.colorScheme(scheme)
		check("signup-errors-"+scheme, false)
	}
	p.colorScheme("light")

	code := p.register("ada", password)
	p.waitLive()
	bob := registerAPI(t, srv.URL, "bob", password)
	if c := bob.do(t, "POST", "/api/v1/presence/heartbeat", nil, nil); c != 204 {
		t.Fatalf("bob heartbeat: %d", c)
	}
	p.waitOnline(bob.user.Usercode)
	// The first broadcast asks for a confirmation.
	p.chooseRecipient("@all")
	p.compose("hello all, ada here")
	p.pressEnter()
	p.waitFor("the broadcast confirmation", `!document.querySelector('[data-testid=broadcast-confirm]').hidden`)
	for _, scheme := range []string{"light", "dark"} {
		p.colorScheme(scheme)
		check("broadcast-confirm-"+scheme, true)
	}
	p.colorScheme("light")
	p.must("confirming", clickCSS(`[data-testid=broadcast-confirm-send]`))
	p.waitMine("hello all, ada here")
	// ada's window loses focus (another window is in front), so what bob
	// sends stays unread and its "New" marker is on screen for the checks.
	p.eval(`(() => { document.hasFocus = () => false; window.dispatchEvent(new Event('blur')); return true; })()`)
	bob.send(t, "hi ada, a direct message", code)
	bob.send(t, "a broadcast from bob", "")
	p.waitMessage("a broadcast from bob")
	p.sendTo(bob.user.Usercode, "hi bob")
	p.waitFor("the New marker", `[...document.querySelectorAll('[data-testid=unread-mark]')].some(e => e.offsetParent !== null)`)

	for _, scheme := range []string{"light", "dark"} {
		p.colorScheme(scheme)
		check("chat-"+scheme, true)
		// The sidebar open on a phone.
		phone()
		p.must("opening the sidebar", clickCSS(`[data-testid=sidebar-toggle]`))
		p.waitFor("the sidebar to open", `document.getElementById('sidebar').getBoundingClientRect().left >= 0`)
		p.axe("chat-sidebar-" + scheme + " (phone)")
		p.shoot("a11y-chat-sidebar-"+scheme+"-phone", 360, 740)
		p.must("closing the sidebar", clickCSS(`[data-testid=sidebar-toggle]`))
		p.must("desktop viewport", desktop())
	}

	// A conversation, and the broadcast confirmation in it.
	p.colorScheme("light")
	p.must("opening the conversation with bob", clickCSS(userSel(bob.user.Usercode)))
	p.waitFor("the conversation", `document.querySelector('[data-testid=conv-title]').textContent.includes('bob')`)
	for _, scheme := range []string{"light", "dark"} {
		p.colorScheme(scheme)
		check("conversation-"+scheme, true)
	}
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", ex)
	}
}
