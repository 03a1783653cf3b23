package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/messager/messager/internal/testsupport"
)

// Timeouts are generous: the suite runs on small shared CI machines where a
// cold chromium and a cold server can each take many seconds.
const (
	readyTimeout = 90 * time.Second
	waitTimeout  = 45 * time.Second
	stepTimeout  = 60 * time.Second
	// stopGrace is how long a server has to shut down at the end of a test.
	stopGrace = 15 * time.Second
)

// TestMain removes the messager binary the suite builds once for all tests.
func TestMain(m *testing.M) { testsupport.Main(m) }

// chromiumPath returns the browser to drive, or skips the test when the suite
// is not switched on (MESSAGER_E2E=1) or no browser is installed, so a plain
// `go test ./...` on a fresh machine passes without one.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if os.Getenv("MESSAGER_E2E") != "1" {
		t.Skip("browser end-to-end tests are off: set MESSAGER_E2E=1 (needs chromium: apt-get install chromium)")
	}
	p := os.Getenv("MESSAGER_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no browser at %s: apt-get install chromium, or point MESSAGER_CHROMIUM at one", p)
	}
	return p
}

// messagerBinary builds ./cmd/messager once per run (or uses
// MESSAGER_E2E_BINARY, to test a binary built elsewhere).
func messagerBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MESSAGER_E2E_BINARY"); p != "" {
		return p
	}
	return testsupport.MessagerBinary(t)
}

// server is one `messager all` process on a fresh data dir.
type server struct {
	URL     string
	addr    string
	logPath string
}

// startServer runs `messager all` on its embedded defaults; config, when
// given, is a MessagerConfig document to run it with instead.
func startServer(t *testing.T, config ...string) *server {
	t.Helper()
	chromiumPath(t) // skips before the expensive build when the suite is off
	bin := messagerBinary(t)
	dir := t.TempDir()
	cfgPath := ""
	if len(config) > 0 {
		cfgPath = filepath.Join(dir, "messager.yaml")
		if err := os.WriteFile(cfgPath, []byte(config[0]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := testsupport.StartMessager(t, bin, testsupport.Options{
		Name:         "messager",
		Args:         []string{"all", "--data-dir", filepath.Join(dir, "data")},
		Env:          []string{"MESSAGER_CONFIG=" + cfgPath},
		ReadyTimeout: readyTimeout,
		StopGrace:    stopGrace,
	})
	return &server{URL: p.URL, addr: p.Addr, logPath: p.LogPath}
}

// apiClient talks to the API directly with a bearer token, for the steps that
// are not what the test is about (setting up a taken username, sending while a
// browser is cut off).
type apiClient struct {
	base  string
	token string
	user  struct {
		Username string `json:"username"`
		Usercode string `json:"usercode"`
	}
}

func (c *apiClient) do(t *testing.T, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// registerAPI registers and logs in a user through the API.
func registerAPI(t *testing.T, base, username, password string) *apiClient {
	t.Helper()
	c := &apiClient{base: base}
	if code := c.do(t, "POST", "/api/v1/auth/register", map[string]string{
		"username": username, "email": username + "@example.com", "password": password,
	}, nil); code != http.StatusCreated {
		t.Fatalf("register %s: status %d, want 201", username, code)
	}
	var login struct {
		Token string `json:"token"`
		User  json.RawMessage
	}
	if code := c.do(t, "POST", "/api/v1/auth/login", map[string]string{"username": username, "password": password}, &login); code != http.StatusOK {
		t.Fatalf("login %s: status %d, want 200", username, code)
	}
	c.token = login.Token
	if err := json.Unmarshal(login.User, &c.user); err != nil {
		t.Fatalf("login %s: user: %v", username, err)
	}
	return c
}

func (c *apiClient) send(t *testing.T, body, to string) string {
	t.Helper()
	req := map[string]string{"body": body, "client_id": fmt.Sprintf("e2e-%d", time.Now().UnixNano())}
	if to != "" {
		req["to"] = to
	}
	var res struct {
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	if code := c.do(t, "POST", "/api/v1/messages", req, &res); code != http.StatusAccepted && code != http.StatusOK {
		t.Fatalf("send %q: status %d, want 202", body, code)
	}
	return res.Message.ID
}

// newBrowser starts one headless chromium for the test. Users get their own
// browser contexts in it (see newPage): separate cookie jars and storage, as
// separate people on separate machines would have.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first run starts the browser and binds it to the context it is
	// given, so it must be bctx itself: a derived context with a timeout
	// would take the browser down when it is cancelled.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return bctx
}

// browserPage is one person's tab, in its own browser context.
type browserPage struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu      sync.Mutex
	dialogs []string
	errs    []string
}

func newPage(t *testing.T, browser context.Context, name string) *browserPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &browserPage{t: t, name: name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // see newBrowser: not a derived context
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	// A dialog would block the page, so note it and dismiss it at once.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.dialogs = append(p.dialogs, string(ev.Type)+": "+ev.Message)
			p.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	exceptions := chromedp.Events(ctx, cdpruntime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil && ev.ExceptionDetails.Exception.Description != "" {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			p.mu.Lock()
			p.errs = append(p.errs, msg)
			p.mu.Unlock()
		}
	}()
	if err := p.run(chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("%s: viewport: %v", name, err)
	}
	return p
}

func (p *browserPage) run(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// must runs actions and fails the test with a screenshot when one fails.
func (p *browserPage) must(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := p.run(actions...); err != nil {
		p.fail("%s: %v", what, err)
	}
}

func evalJS[T any](p *browserPage, expr string, opts ...chromedp.EvaluateOption) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
}

func (p *browserPage) eval(expr string) any {
	p.t.Helper()
	v, err := evalJS[any](p, expr)
	if err != nil {
		p.fail("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true: the page is
// asynchronous, so tests wait for what a person would wait for.
func (p *browserPage) waitFor(what, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var lastErr error
	for {
		ok, err := evalJS[bool](p, "!!("+cond+")")
		if err == nil && ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			p.fail("timed out after %s waiting for %s (last error: %v)", waitTimeout, what, lastErr)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func (p *browserPage) fail(format string, args ...any) {
	p.t.Helper()
	msg := fmt.Sprintf("%s: %s", p.name, fmt.Sprintf(format, args...))
	if b, err := p.screenshot(); err == nil {
		path := filepath.Join(screenshotDir(p.t), fmt.Sprintf("FAIL-%s-%s.png", safeName(p.t.Name()), p.name))
		if os.WriteFile(path, b, 0o644) == nil {
			msg += "\nscreenshot: " + path
		}
	}
	if state, err := evalJS[string](p, debugStateJS); err == nil {
		msg += "\npage state: " + state
	}
	p.mu.Lock()
	if len(p.errs) > 0 {
		msg += "\npage exceptions: " + strings.Join(p.errs, " | ")
	}
	p.mu.Unlock()
	p.t.Fatal(msg)
}

const debugStateJS = `JSON.stringify({
  view: document.getElementById('app').dataset.view,
  conn: document.querySelector('[data-testid=conn-status]').dataset.state,
  errors: [...document.querySelectorAll('.field-error:not([hidden]), .form-error:not([hidden])')].map(e => e.id + ': ' + e.textContent),
  online: [...document.querySelectorAll('[data-testid=online-list] [data-testid=user]')].map(e => e.textContent),
  messages: [...document.querySelectorAll('[data-testid=message]')].map(e => (e.hidden ? '(hidden) ' : '') + e.dataset.kind + ' ' + e.dataset.sender + ': ' + e.querySelector('[data-testid=message-body]').textContent)
})`

func (p *browserPage) screenshot() ([]byte, error) {
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

var shotDirOnce sync.Once

// screenshotDir is MESSAGER_E2E_SCREENSHOTS, or else a temporary directory
// that disappears with the test (set the variable to keep the pictures).
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("MESSAGER_E2E_SCREENSHOTS"); d != "" {
		shotDirOnce.Do(func() { _ = os.MkdirAll(d, 0o755) })
		return d
	}
	return t.TempDir()
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// shoot saves a screenshot of the page at the given viewport size.
func (p *browserPage) shoot(name string, width, height int64) {
	p.t.Helper()
	mobile := width < 600
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	p.must("resizing for "+name, chromedp.EmulateViewport(width, height, opts...))
	// Let layout settle on the new size: wait for two animation frames.
	if _, err := evalJS[bool](p, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise); err != nil {
		p.fail("waiting for layout at %s: %v", name, err)
	}
	b, err := p.screenshot()
	if err != nil {
		p.fail("screenshot %s: %v", name, err)
	}
	path := filepath.Join(screenshotDir(p.t), name+".png")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// desktop restores the desktop viewport after a phone screenshot.
func desktop() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(1280, 800)
}

func clickCSS(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel))
}

func (p *browserPage) Dialogs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.dialogs...)
}

func (p *browserPage) Exceptions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// ---------------------------------------------------------------- UI steps

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (p *browserPage) open(url string) {
	p.t.Helper()
	p.must("opening "+url, chromedp.Navigate(url))
	p.waitFor("the app to start", `['auth','chat'].includes(document.getElementById('app').dataset.view)`)
}

func (p *browserPage) fillRegister(username, email, password string) {
	p.t.Helper()
	for field, v := range map[string]string{"username": username, "email": email, "password": password} {
		sel := `[data-testid=register-` + field + `]`
		p.clear(sel)
		p.must("typing the "+field, chromedp.SendKeys(chromedp.CSS(sel), v))
	}
	p.must("submitting the sign-up form", clickCSS(`[data-testid=register-submit]`))
}

// clear empties an input as a person selecting all and deleting would.
// (chromedp.Clear resets the value attribute, which a typed-in field ignores.)
func (p *browserPage) clear(sel string) {
	p.t.Helper()
	if _, err := evalJS[bool](p, `(() => { const e = document.querySelector(`+jsString(sel)+`); e.value = ''; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`); err != nil {
		p.fail("clearing %s: %v", sel, err)
	}
}

// register signs a new user up through the form and returns the usercode the
// page shows for them.
func (p *browserPage) register(username, password string) string {
	p.t.Helper()
	p.fillRegister(username, username+"@example.com", password)
	p.waitFor("the chat after sign-up", `document.getElementById('app').dataset.view === 'chat'`)
	p.waitFor("the usercode in the header", `/^[A-Z0-9]{6}$/.test(document.querySelector('[data-testid=me-usercode]').textContent)`)
	code := p.text(`[data-testid=me-usercode]`)
	if welcome := p.text(`[data-testid=welcome-usercode]`); welcome != code {
		p.fail("welcome notice shows usercode %q, header %q", welcome, code)
	}
	if name := p.text(`[data-testid=me-name]`); name != username {
		p.fail("header shows name %q, want %q", name, username)
	}
	return code
}

func (p *browserPage) text(sel string) string {
	p.t.Helper()
	v, err := evalJS[string](p, `(document.querySelector(`+jsString(sel)+`) || {}).textContent || ''`)
	if err != nil {
		p.fail("reading %s: %v", sel, err)
	}
	return strings.TrimSpace(v)
}

func (p *browserPage) waitLive() {
	p.t.Helper()
	p.waitFor("the stream to be live", `document.querySelector('[data-testid=conn-status]').dataset.state === 'live'`)
}

func (p *browserPage) waitOnline(usercode string) {
	p.t.Helper()
	p.waitFor(usercode+" in the online list", `document.querySelector('[data-testid=online-list] [data-usercode=`+jsString(usercode)+`]')`)
}

// compose types a message into the composer and checks the counter follows.
func (p *browserPage) compose(body string) {
	p.t.Helper()
	p.must("typing a message", chromedp.SendKeys(chromedp.CSS(`[data-testid=composer-input]`), body))
	want := fmt.Sprintf("%d/1000", len([]rune(body)))
	p.waitFor("the counter to show "+want, `document.querySelector('[data-testid=char-counter]').textContent === `+jsString(want))
}

// sendTo picks a recipient ("" for everyone) in the composer's select, types
// the body and presses Enter; a broadcast is confirmed when the page asks.
func (p *browserPage) sendTo(usercode, body string) {
	p.t.Helper()
	value := usercode
	if value == "" {
		value = "@all"
	}
	p.chooseRecipient(value)
	p.compose(body)
	p.pressEnter()
	if usercode == "" {
		if asked, _ := evalJS[bool](p, `!document.querySelector('[data-testid=broadcast-confirm]').hidden`); asked {
			p.must("confirming the broadcast", clickCSS(`[data-testid=broadcast-confirm-send]`))
		}
	}
	p.waitMine(body)
}

// chooseRecipient picks an option of the composer's To select as a person
// would: a usercode, "@all" (everyone online) or "@code".
func (p *browserPage) chooseRecipient(value string) {
	p.t.Helper()
	ok, err := evalJS[bool](p, `(() => { const s = document.querySelector('[data-testid=recipient-select]');
		s.value = `+jsString(value)+`; s.dispatchEvent(new Event('change')); return s.value === `+jsString(value)+`; })()`)
	if err != nil || !ok {
		p.fail("choosing recipient %q: %v", value, err)
	}
}

// pressEnter presses Enter in the composer the way a keyboard does: one
// keydown that carries the text. (chromedp's SendKeys sends a separate "char"
// event, which inserts a newline even when the page prevents the keydown's
// default, as no real keyboard would.)
func (p *browserPage) pressEnter() {
	p.t.Helper()
	p.must("pressing Enter", chromedp.Focus(chromedp.CSS(`[data-testid=composer-input]`)), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	}))
}

// waitMine waits for the sent message to show in the sender's own list, and
// for the composer to be empty again.
func (p *browserPage) waitMine(body string) {
	p.t.Helper()
	p.waitFor("own message "+jsString(body)+" in the list", messageCountJS(body)+` === 1`)
	p.waitFor("the composer to clear", `document.querySelector('[data-testid=composer-input]').value === '' && document.querySelector('[data-testid=char-counter]').textContent === '0/1000'`)
}

// messageCountJS counts visible messages whose body is exactly body.
func messageCountJS(body string) string {
	return `[...document.querySelectorAll('[data-testid=message-list] [data-testid=message]')].filter(li => !li.hidden && li.querySelector('[data-testid=message-body]').textContent === ` + jsString(body) + `).length`
}

func (p *browserPage) waitMessage(body string) {
	p.t.Helper()
	p.waitFor("message "+jsString(body), messageCountJS(body)+` >= 1`)
}

func (p *browserPage) messageCount(body string) int {
	p.t.Helper()
	v, err := evalJS[int](p, messageCountJS(body))
	if err != nil {
		p.fail("counting %q: %v", body, err)
	}
	return v
}

// messageInfo describes the rendered message with this body.
type messageInfo struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Sender   string `json:"sender"`
	Usercode string `json:"usercode"`
	KindText string `json:"kindText"`
	Time     string `json:"time"`
	Tick     string `json:"tick"`
}

func (p *browserPage) message(body string) messageInfo {
	p.t.Helper()
	js := `(() => { const li = [...document.querySelectorAll('[data-testid=message]')].find(li => li.querySelector('[data-testid=message-body]').textContent === ` + jsString(body) + `);
	  if (!li) return '';
	  const q = (s) => (li.querySelector(s) || {}).textContent || '';
	  const tick = li.querySelector('[data-testid=read-tick]');
	  return JSON.stringify({id: li.dataset.id, kind: li.dataset.kind, sender: q('[data-testid=message-sender]'), usercode: q('[data-testid=message-usercode]'),
	    kindText: q('[data-testid=message-kind]'), time: q('[data-testid=message-time]'), tick: tick ? tick.dataset.state : ''}); })()`
	s, err := evalJS[string](p, js)
	if err != nil || s == "" {
		p.fail("no message %q (%v)", body, err)
	}
	var m messageInfo
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		p.fail("decoding message info: %v", err)
	}
	return m
}

func (p *browserPage) reload() {
	p.t.Helper()
	p.must("reloading", chromedp.Reload())
	p.waitFor("the chat after reload", `document.getElementById('app').dataset.view === 'chat'`)
}
