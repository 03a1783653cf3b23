package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/messager/messager/internal/config"
)

// PostgreSQL cannot store U+0000 in text: a message holding one was
// accepted, then retried until archived. It must be refused up front, on
// every database, naming the field.
func TestSend_NULInBodyOrClientIDIs422NamingTheField(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u, v := newUser(t, a, "nuls"), newUser(t, a, "nulr")
	for _, tc := range []struct {
		name  string
		req   map[string]any
		field string
	}{
		{"NUL in body", map[string]any{"body": "hi\x00there", "to": v.user.Usercode}, "body"},
		{"body of NUL alone", map[string]any{"body": "\x00", "to": v.user.Usercode}, "body"},
		{"NUL in client_id", map[string]any{"body": "hi", "to": v.user.Usercode, "client_id": "c\x001"}, "client_id"},
		{"NUL in a broadcast", map[string]any{"body": "\x00all"}, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u.t = t
			res, body := u.do("POST", "/api/v1/messages", tc.req)
			if res.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", res.StatusCode, body)
			}
			if p := decodeProblem(t, res, body); !p.hasField(tc.field) {
				t.Fatalf("no error naming %q: %s", tc.field, body)
			}
		})
	}
	u.t = t
	// Nothing was queued: the next message is the only one delivered.
	ok := u.send(v.user.Usercode, "clean")
	waitFor(t, func() bool { return len(v.history()) == 1 }, "the clean message")
	if h := v.history(); h[0].ID != ok.ID {
		t.Fatalf("history %v, want only the clean message", messageIDs(h))
	}
}

// A body that shows nothing — zero-width and other format characters,
// invisible fillers, with or without whitespace — is blank; a visible
// body that contains them (an emoji sequence) is not.
func TestSend_InvisibleOnlyBodyIsBlank(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	u, v := newUser(t, a, "zws"), newUser(t, a, "zwr")
	for name, body := range map[string]string{
		"zero width space":         "\u200b",
		"ZWNJ and ZWJ":             "\u200c\u200d",
		"word joiner":              "\u2060\u2060",
		"byte order mark":          "\ufeff",
		"mixed with whitespace":    " \u200b\u00a0\n\u2060\t",
		"soft hyphen":              "\u00ad",
		"bidi override":            "\u202e\u202c",
		"Hangul filler":            "\u3164",
		"Braille blank":            "\u2800",
		"variation selector alone": "\ufe0f",
		"tag characters":           "\U000e0041\U000e007f",
		"control characters":       "\x01\x7f",
	} {
		t.Run(name, func(t *testing.T) {
			u.t = t
			res, data := u.do("POST", "/api/v1/messages", map[string]any{"body": body, "to": v.user.Usercode})
			if res.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", res.StatusCode, data)
			}
			if p := decodeProblem(t, res, data); !p.hasField("body") {
				t.Fatalf("no error naming body: %s", data)
			}
		})
	}
	u.t = t
	for _, body := range []string{"👨\u200d👩\u200d👧", "a\u200b", "\u200bx\u200b", "❤\ufe0f"} {
		u.send(v.user.Usercode, body)
	}
}

// GET /api/v1/messages promises "read_at" on every message the caller
// received: null while unread, a time once read. Messages the caller
// sent (and did not receive) leave it out.
func TestHistory_ReceivedUnreadCarriesReadAtNull(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	s, r := newUser(t, a, "ras"), newUser(t, a, "rar")
	dm := s.send(r.user.Usercode, "unread dm")
	waitFor(t, func() bool { return len(r.history()) == 1 }, "delivery")

	// raw returns the history's messages as generic JSON objects by id.
	raw := func(c *client) map[string]map[string]json.RawMessage {
		t.Helper()
		res, body := c.do("GET", "/api/v1/messages", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("history: %d %s", res.StatusCode, body)
		}
		var page struct {
			Messages []map[string]json.RawMessage `json:"messages"`
		}
		mustJSON(t, body, &page)
		out := map[string]map[string]json.RawMessage{}
		for _, m := range page.Messages {
			var id string
			mustJSON(t, m["id"], &id)
			out[id] = m
		}
		return out
	}
	if v, ok := raw(r)[dm.ID]["read_at"]; !ok || string(v) != "null" {
		t.Fatalf("the recipient's unread message has read_at %q (present %v), want null", v, ok)
	}
	if v, ok := raw(s)[dm.ID]["read_at"]; ok {
		t.Fatalf("the sender's copy carries read_at %s; a sent message has none", v)
	}

	if res, body := r.do("POST", "/api/v1/messages/"+dm.ID+"/read", nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("mark read: %d %s", res.StatusCode, body)
	}
	if v := raw(r)[dm.ID]["read_at"]; len(v) < 3 || v[0] != '"' {
		t.Fatalf("read message has read_at %s, want a time", v)
	}
}

// withSendLimit turns the per-user send limit on (the harness turns it off
// so other tests may send as fast as they like).
func withSendLimit(perSecond, burst int) func(*config.Config) {
	return func(c *config.Config) {
		c.Spec.Messaging.SendRateLimit = config.SendRateLimit{PerSecond: perSecond, Burst: burst}
	}
}

// sendRaw posts a message and returns the status, Retry-After and body.
func (c *client) sendRaw(to, body, clientID string) (int, string, []byte) {
	c.t.Helper()
	req := map[string]any{"body": body, "to": to}
	if clientID != "" {
		req["client_id"] = clientID
	}
	res, data := c.do("POST", "/api/v1/messages", req)
	return res.StatusCode, res.Header.Get("Retry-After"), data
}

// One account once sent 2,283 DMs in 10 s. Each user has a token bucket of
// sends, kept in Redis so it holds across api pods: past the burst a send
// is refused with 429 problem+json and a Retry-After in whole seconds,
// rounded up; other users are not affected.
func TestSend_OverThePerUserLimitIs429WithRetryAfterAcrossPods(t *testing.T) {
	const burst = 4
	b := newBackends(t)
	limit := withSendLimit(1, burst)
	podA, podB := startApp(t, ModeAPI, b, limit), startApp(t, ModeAPI, b, limit)
	startApp(t, ModeWorker, b, limit)
	spammer, victim, bystander := newUser(t, podA, "spam"), newUser(t, podA, "victim"), newUser(t, podA, "bystand")
	onB := spammer.on(podB)

	// Half the burst through each pod; the next send, on either pod, is refused.
	accepted := 0
	for i := 0; i < burst+2; i++ {
		c := spammer
		if i%2 == 1 {
			c = onB
		}
		status, retry, body := c.sendRaw(victim.user.Usercode, fmt.Sprintf("spam %d", i), "")
		if status == http.StatusAccepted {
			accepted++
			continue
		}
		if status != http.StatusTooManyRequests {
			t.Fatalf("send %d: %d %s, want 202 or 429", i, status, body)
		}
		res := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/problem+json"}}}
		decodeProblem(t, res, body)
		if retry != "1" {
			t.Fatalf("Retry-After %q, want \"1\" (one send a second, rounded up to whole seconds)", retry)
		}
	}
	// A slow machine may earn one send back during the loop, never more.
	if accepted < burst || accepted > burst+1 {
		t.Fatalf("%d of %d sends accepted across two pods, want the burst of %d", accepted, burst+2, burst)
	}
	if status, _, body := bystander.sendRaw(victim.user.Usercode, "not me", ""); status != http.StatusAccepted {
		t.Fatalf("another user's send: %d %s, want 202", status, body)
	}

	// The bucket refills: after Retry-After the user sends again.
	time.Sleep(1100 * time.Millisecond)
	if status, _, body := onB.sendRaw(victim.user.Usercode, "later", ""); status != http.StatusAccepted {
		t.Fatalf("send after waiting: %d %s, want 202", status, body)
	}
}

// A refused send reserves nothing: retried with the same client_id after
// Retry-After it is accepted as new (not answered with a message that was
// never queued). A repeat of an accepted client_id is answered from the
// reservation and does not spend the allowance.
func TestSend_RateLimitAndClientIDs(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t), withSendLimit(1, 2))
	s, r := newUser(t, a, "rlids"), newUser(t, a, "rlidr")
	if status, _, body := s.sendRaw(r.user.Usercode, "one", "c-1"); status != http.StatusAccepted {
		t.Fatalf("first: %d %s", status, body)
	}
	for i := 0; i < 5; i++ {
		if status, _, body := s.sendRaw(r.user.Usercode, "one", "c-1"); status != http.StatusOK {
			t.Fatalf("repeat %d of an accepted client_id: %d %s, want 200", i, status, body)
		}
	}
	if status, _, body := s.sendRaw(r.user.Usercode, "two", "c-2"); status != http.StatusAccepted {
		t.Fatalf("second new send (repeats must not spend the burst): %d %s", status, body)
	}
	status, retry, _ := s.sendRaw(r.user.Usercode, "three", "c-3")
	if status != http.StatusTooManyRequests {
		t.Fatalf("third new send: %d, want 429", status)
	}
	wait, err := strconv.Atoi(retry)
	if err != nil || wait < 1 {
		t.Fatalf("Retry-After %q", retry)
	}
	time.Sleep(time.Duration(wait)*time.Second + 100*time.Millisecond)
	status, _, body := s.sendRaw(r.user.Usercode, "three", "c-3")
	if status != http.StatusAccepted {
		t.Fatalf("c-3 retried after Retry-After: %d %s, want 202 (a new message)", status, body)
	}
	waitFor(t, func() bool { return len(r.history()) == 3 }, "three messages")
	time.Sleep(200 * time.Millisecond)
	if n := len(r.history()); n != 3 {
		t.Fatalf("recipient has %d messages, want 3", n)
	}
}
