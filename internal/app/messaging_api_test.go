package app

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messager/messager/internal/events"
)

// The original app's happy path: three users; a broadcast reaches the two
// others live; a DM reaches only its recipient; history survives new sessions.
func TestMessaging_OriginalHappyPath(t *testing.T) {
	forEachTopology(t, testOriginalHappyPath)
}

// forEachTopology runs test against `messager all`, and against two api
// processes and a separate worker sharing the backends, where each user
// streams from a different pod than the one it posts to.
func forEachTopology(t *testing.T, test func(t *testing.T, post, stream1, stream2 *App)) {
	t.Run("all", func(t *testing.T) {
		a := startApp(t, ModeAll, newBackends(t))
		test(t, a, a, a)
	})
	t.Run("two apis and a worker", func(t *testing.T) {
		b := newBackends(t)
		apiA, apiB := startApp(t, ModeAPI, b), startApp(t, ModeAPI, b)
		startApp(t, ModeWorker, b)
		test(t, apiA, apiB, apiA)
	})
}

func testOriginalHappyPath(t *testing.T, a, podB, podC *App) {
	luis, lanaro, paper := newUser(t, a, "luis"), newUser(t, a, "lanaro"), newUser(t, a, "paper")
	// Each streams from its own pod; luis posts through a.
	sLuis, sLanaro, sPaper := luis.stream(""), lanaro.on(podB).stream(""), paper.on(podC).stream("")

	hello := luis.send("", "hello everyone")
	if !hello.Broadcast || hello.To != nil || hello.Status != events.StatusQueued {
		t.Fatalf("broadcast accepted as %+v", hello)
	}
	for name, s := range map[string]*wsStream{"lanaro": sLanaro, "paper": sPaper, "luis (own stream)": sLuis} {
		m, ok := s.nextMessage(deliveryTimeout)
		if !ok || m.ID != hello.ID || m.Body != "hello everyone" || m.Status != events.StatusDelivered || m.Sender.Usercode != luis.user.Usercode {
			t.Fatalf("%s did not receive the broadcast live: %+v %v", name, m, ok)
		}
	}

	dm := luis.send(paper.user.Usercode, "just for you")
	if m, ok := sPaper.nextMessage(deliveryTimeout); !ok || m.ID != dm.ID || m.Broadcast || m.To == nil || *m.To != paper.user.Usercode {
		t.Fatalf("paper did not receive the DM: %+v %v", m, ok)
	}
	if m, ok := sLuis.nextMessage(deliveryTimeout); !ok || m.ID != dm.ID {
		t.Fatalf("the sender's own stream did not get the DM: %+v %v", m, ok)
	}
	sLanaro.quiet(500 * time.Millisecond)

	// New sessions: the history is there, and lanaro never sees the DM.
	paper.login(paper.user.Username)
	if ids := messageIDs(paper.history()); !slices.Equal(ids, []string{dm.ID, hello.ID}) {
		t.Fatalf("paper's history %v, want [dm broadcast]", ids)
	}
	lanaro.login(lanaro.user.Username)
	if ids := messageIDs(lanaro.history()); !slices.Equal(ids, []string{hello.ID}) {
		t.Fatalf("lanaro's history %v, want only the broadcast", ids)
	}
	if ids := messageIDs(luis.history()); !slices.Equal(ids, []string{dm.ID, hello.ID}) {
		t.Fatalf("luis's history %v, want both", ids)
	}
}

func messageIDs(ms []events.Message) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

func TestMessaging_SameClientIDReturnsTheSameMessage(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u, v := newUser(t, a, "idem"), newUser(t, a, "idemrcpt")
	req := map[string]any{"body": "once", "to": v.user.Usercode, "client_id": "c-123"}
	res1, b1 := u.do("POST", "/api/v1/messages", req)
	res2, b2 := u.do("POST", "/api/v1/messages", req)
	// A retry within spec.messaging.clientIDWindow is answered with the
	// first message: 200, not 202, since nothing new was queued.
	if res1.StatusCode != 202 || res2.StatusCode != 200 {
		t.Fatalf("statuses %d %d, want 202 then 200", res1.StatusCode, res2.StatusCode)
	}
	var m1, m2 struct{ Message events.Message }
	mustJSON(t, b1, &m1)
	mustJSON(t, b2, &m2)
	if m1.Message.ID != m2.Message.ID {
		t.Fatalf("second send made a new message: %s vs %s", m1.Message.ID, m2.Message.ID)
	}
	waitFor(t, func() bool { return len(v.history()) == 1 }, "the message in history")
	time.Sleep(200 * time.Millisecond)
	if n := len(v.history()); n != 1 {
		t.Fatalf("recipient has %d messages, want 1", n)
	}
}

func TestMessaging_BadInputIsAClearProblem(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u := newUser(t, a, "bad")
	anon := &client{t: t, base: u.base}
	for _, tc := range []struct {
		name, method, path string
		body               any
		who                *client
		status             int
		field              string
	}{
		{"empty body", "POST", "/api/v1/messages", `{"body":""}`, u, 422, "body"},
		{"blank body", "POST", "/api/v1/messages", `{"body":" \n\t "}`, u, 422, "body"},
		{"over-long body", "POST", "/api/v1/messages", map[string]string{"body": strings.Repeat("é", 1001)}, u, 422, "body"},
		{"bad usercode", "POST", "/api/v1/messages", `{"body":"x","to":"nope"}`, u, 422, "to"},
		{"unknown recipient", "POST", "/api/v1/messages", `{"body":"x","to":"ZZZZZZ"}`, u, 404, ""},
		{"malformed json", "POST", "/api/v1/messages", `{"body":`, u, 400, ""},
		{"not an object", "POST", "/api/v1/messages", `[1,2]`, u, 400, ""},
		{"trailing garbage", "POST", "/api/v1/messages", `{"body":"x"} {}`, u, 400, ""},
		{"body over 64 KiB", "POST", "/api/v1/messages", `{"body":"` + strings.Repeat("a", 70000) + `"}`, u, 413, ""},
		{"non-numeric limit", "GET", "/api/v1/messages?limit=ten", nil, u, 422, "limit"},
		{"limit over 200", "GET", "/api/v1/messages?limit=201", nil, u, 422, "limit"},
		{"cursor not an id", "GET", "/api/v1/messages?before=abc", nil, u, 422, "before"},
		{"cursor not one of yours", "GET", "/api/v1/messages?before=01a21a36-508b-74ad-98fe-2d0b06912795", nil, u, 422, "before"},
		{"after not an id", "GET", "/api/v1/messages?after=abc", nil, u, 422, "after"},
		{"stream after not an id", "GET", "/api/v1/stream?after=abc", nil, u, 422, "after"},
		{"unauthenticated send", "POST", "/api/v1/messages", `{"body":"x"}`, anon, 401, ""},
		{"unauthenticated history", "GET", "/api/v1/messages", nil, anon, 401, ""},
		{"unauthenticated stream", "GET", "/api/v1/stream", nil, anon, 401, ""},
		{"bad token", "GET", "/api/v1/presence", nil, &client{t: t, base: u.base, token: "forged"}, 401, ""},
		{"unknown route", "GET", "/api/v1/nothing", nil, u, 404, ""},
		{"wrong method", "DELETE", "/api/v1/messages", nil, u, 405, ""},
		{"read of unknown message", "POST", "/api/v1/messages/01a21a36-508b-74ad-98fe-2d0b06912795/read", nil, u, 404, ""},
		{"read of a non-id", "POST", "/api/v1/messages/xyz/read", nil, u, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.who.t = t
			res, body := tc.who.do(tc.method, tc.path, tc.body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			p := decodeProblem(t, res, body)
			if tc.field != "" && !p.hasField(tc.field) {
				t.Fatalf("no error naming %q: %s", tc.field, body)
			}
		})
	}
	// The body limit counts code points, not bytes: 1000 'é' are fine.
	u.t = t
	u.send("", strings.Repeat("é", 1000))
}

func TestMessaging_HistoryPagesAndPrivacy(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	x, y, z := newUser(t, a, "histx"), newUser(t, a, "histy"), newUser(t, a, "histz")
	var sent []string
	// One at a time, each saved before the next is sent, so the order they
	// reach y (which after= follows) is their id order.
	for i := 0; i < 7; i++ {
		sent = append(sent, x.send(y.user.Usercode, fmt.Sprintf("m%d", i)).ID)
		waitFor(t, func() bool { return len(y.history()) == i+1 }, "the message saved")
	}
	secret := y.send(z.user.Usercode, "between y and z").ID
	waitFor(t, func() bool { return len(y.history()) == 8 }, "8 messages in y's history")

	res, body := x.do("GET", "/api/v1/messages?limit=3", nil)
	var page struct {
		Messages   []events.Message `json:"messages"`
		NextBefore *string          `json:"next_before"`
	}
	mustJSON(t, body, &page)
	if res.StatusCode != 200 || len(page.Messages) != 3 || page.NextBefore == nil || page.Messages[0].ID != sent[6] {
		t.Fatalf("first page: %d %s", res.StatusCode, body)
	}
	all := x.history()
	want := slices.Clone(sent)
	slices.Reverse(want)
	if got := messageIDs(all); !slices.Equal(got, want) {
		t.Fatalf("x's paged history %v, want %v", got, want)
	}
	if slices.Contains(messageIDs(x.history()), secret) {
		t.Fatal("x sees a DM between y and z")
	}
	// after= returns what reached y later, in that order.
	_, body = y.do("GET", "/api/v1/messages?after="+sent[4], nil)
	var after struct{ Messages []events.Message }
	mustJSON(t, body, &after)
	if got := messageIDs(after.Messages); !slices.Equal(got, []string{sent[5], sent[6], secret}) {
		t.Fatalf("after: %v", got)
	}
}

func TestMessaging_ReadReceiptsAndUnread(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	s, r, other := newUser(t, a, "reads"), newUser(t, a, "readr"), newUser(t, a, "reado")
	senderStream := s.stream("")
	// A read receipt is pushed, never replayed: wait until the stream is
	// registered (see waitStreams).
	waitStreams(t, a, 1)
	m := s.send(r.user.Usercode, "did you read this?")
	waitFor(t, func() bool { return len(r.history()) == 1 }, "delivery")

	unread := func(c *client) int {
		_, body := c.do("GET", "/api/v1/messages/unread", nil)
		var u struct{ Unread int }
		mustJSON(t, body, &u)
		return u.Unread
	}
	if n := unread(r); n != 1 {
		t.Fatalf("unread %d, want 1", n)
	}
	if res, _ := other.do("POST", "/api/v1/messages/"+m.ID+"/read", nil); res.StatusCode != 404 {
		t.Fatalf("a non-recipient marking read: %d, want 404", res.StatusCode)
	}
	if res, _ := s.do("POST", "/api/v1/messages/"+m.ID+"/read", nil); res.StatusCode != 404 {
		t.Fatalf("the sender marking its own message read: %d, want 404", res.StatusCode)
	}
	if res, body := r.do("POST", "/api/v1/messages/"+m.ID+"/read", nil); res.StatusCode != 204 {
		t.Fatalf("mark read: %d %s", res.StatusCode, body)
	}
	f, ok := senderStream.next(events.TypeRead, deliveryTimeout)
	if !ok || f.MessageID != m.ID || f.Reader.Usercode != r.user.Usercode {
		t.Fatalf("sender got no read event: %+v", f)
	}
	if n := unread(r); n != 0 {
		t.Fatalf("unread after reading %d, want 0", n)
	}
	if h := r.history(); h[0].ReadAt == nil {
		t.Fatal("history does not carry read_at")
	}
}

// A client that reconnects with after= receives everything it missed, once,
// in the order it was saved (which two workers may make differ from id
// order; see TestResume_*); then it is live again.
func TestStream_ReconnectWithAfterMissesNothing(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	s, r := newUser(t, a, "gaps"), newUser(t, a, "gapr")
	live := r.stream("")
	first := s.send(r.user.Usercode, "before the gap")
	if m, ok := live.nextMessage(deliveryTimeout); !ok || m.ID != first.ID {
		t.Fatalf("first message: %+v", m)
	}
	live.close()
	var missed []string
	for i := 0; i < 20; i++ {
		missed = append(missed, s.send(r.user.Usercode, fmt.Sprintf("while away %d", i)).ID)
	}
	waitFor(t, func() bool { return len(r.history()) == 21 }, "all persisted")
	back := r.stream(first.ID)
	order, counts := back.collect(20, deliveryTimeout)
	if got, want := slices.Sorted(slices.Values(order)), slices.Sorted(slices.Values(missed)); !slices.Equal(got, want) {
		t.Fatalf("replayed %v, want %v in some order", order, missed)
	}
	after := s.send(r.user.Usercode, "live again")
	o2, c2 := back.collect(1, deliveryTimeout)
	if len(o2) != 1 || o2[0] != after.ID {
		t.Fatalf("not live after the replay: %v", o2)
	}
	back.quiet(300 * time.Millisecond)
	for id, n := range counts {
		if n != 1 || c2[id] != 0 {
			t.Fatalf("%s arrived %d times", id, n+c2[id])
		}
	}
}

// Messages sent while the replay runs arrive once, whichever side of the
// seam they fall on.
func TestStream_NoGapNoDuplicateAtTheSeam(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	s, r := newUser(t, a, "seams"), newUser(t, a, "seamr")
	first := s.send(r.user.Usercode, "anchor")
	waitFor(t, func() bool { return len(r.history()) == 1 }, "anchor persisted")
	var ids []string
	var mu sync.Mutex
	done := make(chan struct{})
	var sendErr error // set before done closes
	go func() {
		defer close(done)
		for i := 0; i < 60; i++ {
			m, err := s.trySend(r.user.Usercode, fmt.Sprintf("seam %d", i))
			if err != nil {
				sendErr = err
				return
			}
			mu.Lock()
			ids = append(ids, m.ID)
			mu.Unlock()
		}
	}()
	time.Sleep(20 * time.Millisecond)
	st := r.stream(first.ID)
	<-done
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	_, counts := st.collect(60, deliveryTimeout)
	st.quiet(300 * time.Millisecond)
	for _, id := range ids {
		if counts[id] != 1 {
			t.Fatalf("message %s arrived %d times", id, counts[id])
		}
	}
}

func TestStream_SSEDeliversAndResumesFromLastEventID(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	s, r := newUser(t, a, "sses"), newUser(t, a, "sser")
	open := func(lastID string) (*http.Response, *bufio.Reader) {
		req, _ := http.NewRequest("GET", r.base+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+r.token)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		return res, bufio.NewReader(res.Body)
	}
	// nextEvent reads one "message" event and returns its id line and data.
	nextEvent := func(br *bufio.Reader) (id, data string) {
		var typ string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read sse: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				typ = line[7:]
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && typ == events.TypeMessage:
				return id, data
			case line == "":
				typ, id, data = "", "", ""
			}
		}
	}
	res, br := open("")
	m1 := s.send(r.user.Usercode, "over sse")
	id, data := nextEvent(br)
	if id != m1.ID || !strings.Contains(data, `"body":"over sse"`) || !strings.Contains(data, `"type":"message"`) {
		t.Fatalf("sse event id %q data %s", id, data)
	}
	res.Body.Close()
	m2 := s.send(r.user.Usercode, "missed over sse")
	waitFor(t, func() bool { return len(r.history()) == 2 }, "m2 persisted")
	res, br = open(m1.ID)
	defer res.Body.Close()
	if id, _ := nextEvent(br); id != m2.ID {
		t.Fatalf("resumed with %q, want %s", id, m2.ID)
	}
}

func TestPresence_OnlineListAndLiveTransitions(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	watcher := newUser(t, a, "watch")
	ws := watcher.stream("")
	other := newUser(t, a, "comes")
	f, ok := ws.next(events.TypePresence, deliveryTimeout)
	for ok && f.User.Usercode != other.user.Usercode {
		f, ok = ws.next(events.TypePresence, deliveryTimeout)
	}
	if !ok || !f.Online {
		t.Fatalf("no online event for a user who logged in: %+v", f)
	}
	_, body := watcher.do("GET", "/api/v1/presence", nil)
	var list struct {
		Online []struct {
			Usercode, Username string
			Since              time.Time
		}
	}
	mustJSON(t, body, &list)
	found := false
	for _, u := range list.Online {
		if u.Usercode == watcher.user.Usercode {
			t.Fatal("the presence list includes the caller")
		}
		found = found || (u.Usercode == other.user.Usercode && u.Username == other.user.Username && !u.Since.IsZero())
	}
	if !found {
		t.Fatalf("presence list lacks the new user: %s", body)
	}
	if res, _ := other.do("POST", "/api/v1/presence/heartbeat", nil); res.StatusCode != 204 {
		t.Fatalf("heartbeat: %d", res.StatusCode)
	}
}

func TestPresence_OfflineAfterTTL(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t), func(c *configT) { c.Spec.Presence.TTL = durationT(time.Second) })
	watcher := newUser(t, a, "ttlw")
	ws := watcher.stream("")
	leaver := newUser(t, a, "ttll")
	deadline := time.After(deliveryTimeout)
	for {
		select {
		case f := <-ws.frames:
			if f.Type == events.TypePresence && f.User.Usercode == leaver.user.Usercode && !f.Online {
				return
			}
		case <-deadline:
			t.Fatal("no offline event for a user whose heartbeat lapsed")
		}
	}
}

// waitFor polls cond until it holds or the delivery timeout passes.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
