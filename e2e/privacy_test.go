package e2e

import (
	"net/http"
	"testing"
)

type historyPage struct {
	Messages []struct {
		Body      string `json:"body"`
		Broadcast bool   `json:"broadcast"`
		To        *string
	} `json:"messages"`
}

func (c *apiClient) bodies(t *testing.T) map[string]bool {
	t.Helper()
	var page historyPage
	if code := c.do(t, "GET", "/api/v1/messages?limit=200", nil, &page); code != http.StatusOK {
		t.Fatalf("history of %s: %d", c.user.Username, code)
	}
	out := map[string]bool{}
	for _, m := range page.Messages {
		out[m.Body] = m.Broadcast
	}
	return out
}

// Amy writes Ben her door code; Ben, on the default "All messages" view,
// types a reply and presses Enter. The reply goes to Amy only: the
// recipient follows whoever wrote, and sending to everyone takes an
// explicit choice and, the first time, a confirmation.
func TestChat_ReplyFromAllMessagesNeverBroadcasts(t *testing.T) {
	srv := startServer(t)
	browser := newBrowser(t)
	ben := newPage(t, browser, "ben")
	ben.open(srv.URL)
	ben.must("desktop viewport", desktop())
	benCode := ben.register("ben", password)
	ben.waitLive()
	amy := registerAPI(t, srv.URL, "amy", password)
	cat := registerAPI(t, srv.URL, "cat", password)
	if code := cat.do(t, "POST", "/api/v1/presence/heartbeat", nil, nil); code != http.StatusNoContent {
		t.Fatalf("cat heartbeat: %d", code)
	}
	ben.waitOnline(cat.user.Usercode)

	// Nobody has written and Ben chose nobody: Enter sends nothing.
	ben.compose("who gets this?")
	ben.pressEnter()
	ben.waitFor("the recipient error", `!document.querySelector('[data-testid=recipient-error]').hidden`)
	if n := ben.messageCount("who gets this?"); n != 0 {
		t.Fatalf("a message with no recipient was sent (%d)", n)
	}
	ben.clear(`[data-testid=composer-input]`)

	secret := "my door code is 4711"
	amy.send(t, secret, benCode)
	ben.waitMessage(secret)
	if title := ben.text(`[data-testid=conv-title]`); title != "All messages" {
		t.Fatalf("ben is on %q, want the default All messages view", title)
	}
	ben.waitFor("the recipient to follow amy", `document.querySelector('[data-testid=recipient-select]').value === `+jsString(amy.user.Usercode))
	reply := "thanks amy, the code 4711 works"
	ben.compose(reply)
	ben.pressEnter()
	ben.waitMine(reply)
	if broadcast, ok := amy.bodies(t)[reply]; !ok || broadcast {
		t.Fatalf("amy: reply present %v, broadcast %v; want a direct message", ok, broadcast)
	}
	if _, leaked := cat.bodies(t)[reply]; leaked {
		t.Fatalf("cat, a third user online, received ben's private reply")
	}

	// Everyone is a visible, explicit choice, confirmed the first time.
	announce := "lunch is here, everyone"
	ben.chooseRecipient("@all")
	ben.waitFor("the broadcast note", `!document.querySelector('[data-testid=broadcast-note]').hidden`)
	ben.compose(announce)
	ben.pressEnter()
	ben.waitFor("the broadcast confirmation", `!document.querySelector('[data-testid=broadcast-confirm]').hidden`)
	ben.shoot("broadcast-confirm-desktop", 1280, 800)
	ben.shoot("broadcast-confirm-phone", 360, 740)
	ben.must("desktop viewport", desktop())
	if _, sent := cat.bodies(t)[announce]; sent {
		t.Fatalf("the broadcast went out before ben confirmed it")
	}
	ben.must("confirming", clickCSS(`[data-testid=broadcast-confirm-send]`))
	ben.waitMine(announce)
	if broadcast, ok := cat.bodies(t)[announce]; !ok || !broadcast {
		t.Fatalf("cat: confirmed broadcast present %v, broadcast %v", ok, broadcast)
	}
	// A broadcast does not stick: the recipient follows amy again.
	ben.waitFor("the recipient to leave everyone", `document.querySelector('[data-testid=recipient-select]').value === `+jsString(amy.user.Usercode))
	if !ben.eval(`document.querySelector('[data-testid=broadcast-note]').hidden`).(bool) {
		t.Fatalf("the broadcast note is still shown after the broadcast")
	}
	if ex := ben.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", ex)
	}
}
