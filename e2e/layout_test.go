package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

type rect struct{ Top, Bottom, Left, Right, Width float64 }

func (p *browserPage) rect(sel string) rect {
	p.t.Helper()
	s, err := evalJS[string](p, `JSON.stringify(document.querySelector(`+jsString(sel)+`).getBoundingClientRect())`)
	var r rect
	if err == nil {
		err = json.Unmarshal([]byte(s), &r)
	}
	if err != nil {
		p.fail("measuring %s: %v", sel, err)
	}
	return r
}

func phoneViewport() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(1), chromedp.EmulateMobile, chromedp.EmulatePortrait)
}

// TestLayout_PhoneTitlePillPasteAndDirection: on a 360 px phone the
// conversation title shows the person's whole name; the "New messages" pill
// never covers the composer (also when the composer grows); a paste over the
// limit is kept whole, said to be too long and not sent; bodies get dir=auto.
func TestLayout_PhoneTitlePillPasteAndDirection(t *testing.T) {
	srv := startServer(t, "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: e2e}\nspec: {messaging: {sendRateLimit: {perSecond: 0}}}\n")
	b := newBrowser(t)
	p := newPage(t, b, "rita")
	p.open(srv.URL)
	code := p.register("rita", password)
	p.waitLive()
	const longName = "alexandra.wellington"
	alex := registerAPI(t, srv.URL, longName, password)
	if c := alex.do(t, "POST", "/api/v1/presence/heartbeat", nil, nil); c != http.StatusNoContent {
		t.Fatalf("heartbeat: %d", c)
	}
	p.waitOnline(alex.user.Usercode)
	p.must("dismissing the welcome", clickCSS(`[data-testid=welcome-close]`))

	// dir=auto: a right-to-left body reads right to left.
	rtl := "שלום, מה שלומך?"
	alex.send(t, rtl, code)
	p.waitMessage(rtl)
	if ok, _ := evalJS[bool](p, `(() => { const li = [...document.querySelectorAll('[data-testid=message-body]')].find(e => e.textContent === `+jsString(rtl)+`); return li.getAttribute('dir') === 'auto' && li.matches(':dir(rtl)'); })()`); !ok {
		t.Errorf("a Hebrew message body is not dir=auto / right to left")
	}

	// The title on a phone: the name, whole.
	p.must("phone viewport", phoneViewport())
	p.must("opening the sidebar", clickCSS(`[data-testid=sidebar-toggle]`))
	p.waitFor("the sidebar to open", `document.getElementById('sidebar').getBoundingClientRect().left >= 0`)
	p.must("opening the conversation", clickCSS(userSel(alex.user.Usercode)))
	p.waitFor("the conversation title", `!!document.querySelector('[data-testid=conv-name]')`)
	if name := p.text(`[data-testid=conv-name]`); name != longName {
		t.Errorf("title name %q, want %q", name, longName)
	}
	if cut, _ := evalJS[bool](p, `(() => { const n = document.querySelector('[data-testid=conv-name]'); const h = document.querySelector('[data-testid=conv-title]').getBoundingClientRect(); const r = n.getBoundingClientRect(); return n.scrollWidth > n.clientWidth + 1 || r.right > h.right + 1 || r.width < 40; })()`); cut {
		t.Errorf("the name in the conversation title is cut on a 360 px phone")
	}
	p.shoot("conversation-title-phone", 360, 740)
	p.must("desktop viewport", desktop())
	p.shoot("conversation-title-desktop", 1280, 800)

	// The pill: enough messages to scroll, the reader scrolled up, one more.
	for i := 0; i < 25; i++ {
		alex.send(t, "filler message to make the list scroll", code)
	}
	p.waitFor("the fillers", messageCountJS("filler message to make the list scroll")+` === 25`)
	for _, w := range []struct {
		name string
		vp   chromedp.Action[chromedp.Void]
		wd   int64
		ht   int64
	}{{"phone", phoneViewport(), 360, 740}, {"desktop", desktop(), 1280, 800}} {
		p.must(w.name+" viewport", w.vp)
		for _, mode := range []string{"", "@all"} {
			p.chooseRecipient(map[string]string{"": alex.user.Usercode, "@all": "@all"}[mode])
			p.eval(`(() => { const l = document.querySelector('[data-testid=message-list]'); l.scrollTop = l.scrollHeight - l.clientHeight - 400; l.dispatchEvent(new Event('scroll')); return true; })()`)
			p.waitFor("scrolled up", `document.querySelector('[data-testid=message-list]').scrollHeight - document.querySelector('[data-testid=message-list]').scrollTop - document.querySelector('[data-testid=message-list]').clientHeight > 300`)
			alex.send(t, "one more while scrolled up "+w.name+mode, code)
			p.waitFor("the pill", `!document.querySelector('[data-testid=jump-new]').hidden`)
			pill, comp, list := p.rect(`[data-testid=jump-new]`), p.rect(`[data-testid=composer]`), p.rect(`[data-testid=message-list]`)
			if pill.Bottom > comp.Top || pill.Bottom > list.Bottom {
				t.Errorf("%s%s: the pill (bottom %.0f) overlaps the composer (top %.0f)", w.name, mode, pill.Bottom, comp.Top)
			}
			if mode == "@all" {
				p.shoot("new-messages-pill-"+w.name, w.wd, w.ht)
			}
			p.must("jumping down", clickCSS(`[data-testid=jump-new]`))
		}
	}
	p.chooseRecipient(alex.user.Usercode)

	// A paste over the limit: kept whole, said, not sent.
	long := strings.Repeat("0123456789", 120) // 1,200 characters
	p.must("pasting", chromedp.Focus(chromedp.CSS(`[data-testid=composer-input]`)), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: long})
		return err
	}))
	if n, _ := evalJS[int](p, `document.querySelector('[data-testid=composer-input]').value.length`); n != 1200 {
		t.Fatalf("after pasting 1,200 characters the composer holds %d", n)
	}
	p.waitFor("the counter over the limit", `document.querySelector('[data-testid=char-counter]').textContent === '1200/1000'`)
	p.waitFor("the too-long error", `!document.querySelector('[data-testid=composer-length-error]').hidden`)
	if msg := p.text(`[data-testid=composer-length-error]`); !strings.Contains(msg, "200") {
		t.Errorf("the too-long error %q does not say how much to remove", msg)
	}
	p.pressEnter()
	p.shoot("paste-too-long-desktop", 1280, 800)
	p.shoot("paste-too-long-phone", 360, 740)
	p.must("desktop viewport", desktop())
	if n, _ := evalJS[int](p, `document.querySelector('[data-testid=composer-input]').value.length`); n != 1200 {
		t.Errorf("pressing Enter on a too-long message changed the text to %d characters", n)
	}
	if _, sent := alex.bodies(t)[long]; sent {
		t.Fatalf("a message over the limit was sent")
	}
	// Shortened to the limit, it goes.
	p.eval(`(() => { const ta = document.querySelector('[data-testid=composer-input]'); ta.value = ta.value.slice(0, 1000); ta.dispatchEvent(new Event('input')); return true; })()`)
	p.waitFor("the error to go", `document.querySelector('[data-testid=composer-length-error]').hidden`)
	p.pressEnter()
	p.waitFor("the composer to clear", `document.querySelector('[data-testid=composer-input]').value === ''`)
	waitServer(t, func() bool { _, ok := alex.bodies(t)[long[:1000]]; return ok }, "the shortened message to arrive")
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", ex)
	}
}
