package e2e

import (
	"os"
	"regexp"
	"testing"
	"time"
)

// The first thing `messager all` tells a new user is where to open the
// chat, and that address opens it in a browser; the log also says how to
// become an admin (issue 13, item 7).
func TestFirstRun_PrintedAddressOpensTheChat(t *testing.T) {
	srv := startServer(t)
	urlRE := regexp.MustCompile(`open the chat in a browser"? url=(\S+)`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; time.Sleep(100 * time.Millisecond) {
		log, err := os.ReadFile(srv.logPath)
		if err != nil {
			t.Fatal(err)
		}
		if m := urlRE.FindSubmatch(log); m != nil {
			url = string(m[1])
			if !regexp.MustCompile("becomes the admin|messager admin grant").Match(log) {
				t.Errorf("the start-up log does not say how to become an admin:\n%s", log)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("messager all never said where to open the chat:\n%s", log)
		}
	}
	if url != srv.URL {
		t.Errorf("printed %s, but the server listens on %s", url, srv.URL)
	}
	p := newPage(t, newBrowser(t), "newcomer")
	p.open(url)
	p.waitFor("the sign-up form", `!!document.querySelector('[data-testid=register-username]')`)
	p.shoot("first-run-desktop", 1280, 800)
}
