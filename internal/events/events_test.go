package events

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func decodeObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("frame %s is not a JSON object: %v", b, err)
	}
	return m
}

func sampleMessage() Message {
	to := "PAPER1"
	return Message{
		ID:        "01890a5d-ac96-774b-bcce-b302099a8057",
		Sender:    UserRef{Usercode: "LUIS01", Username: "luis"},
		Body:      "hello <b>paper</b>",
		To:        &to,
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600)).UTC(),
		Status:    StatusDelivered,
	}
}

func TestNewMessage_FrameShape(t *testing.T) {
	env, err := NewMessage(sampleMessage(), []int{2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != TypeMessage || env.ID != sampleMessage().ID || !reflect.DeepEqual(env.Users, []int{2, 3}) || env.All {
		t.Fatalf("envelope = %+v", env)
	}
	f := decodeObject(t, env.Frame)
	if got := keys(f); !reflect.DeepEqual(got, []string{"message", "type"}) || f["type"] != "message" {
		t.Fatalf("frame keys %v type %v", got, f["type"])
	}
	m := f["message"].(map[string]any)
	want := []string{"body", "broadcast", "created_at", "id", "sender", "status", "to"}
	if got := keys(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("message keys = %v, want %v (read_at omitted when unset)", got, want)
	}
	if got := keys(m["sender"].(map[string]any)); !reflect.DeepEqual(got, []string{"usercode", "username"}) {
		t.Fatalf("sender keys = %v", got)
	}
	if m["to"] != "PAPER1" || m["broadcast"] != false || m["status"] != "delivered" || m["body"] != "hello <b>paper</b>" {
		t.Fatalf("message = %v", m)
	}
	if m["created_at"] != "2026-01-02T02:04:05.000006Z" {
		t.Fatalf("created_at = %v, want RFC 3339 UTC", m["created_at"])
	}
}

func TestNewMessage_BroadcastHasNullTo(t *testing.T) {
	m := sampleMessage()
	m.To, m.Broadcast, m.Status = nil, true, StatusQueued
	env, err := NewMessage(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(env.Frame), `"to":null`) {
		t.Fatalf("broadcast frame %s must carry \"to\":null", env.Frame)
	}
	msg := decodeObject(t, env.Frame)["message"].(map[string]any)
	if msg["broadcast"] != true || msg["status"] != "queued" {
		t.Fatalf("message = %v", msg)
	}
}

func TestNewMessage_ReadAtShownWhenSet(t *testing.T) {
	m := sampleMessage()
	at := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	m.ReadAt = &at
	env, _ := NewMessage(m, nil)
	msg := decodeObject(t, env.Frame)["message"].(map[string]any)
	if msg["read_at"] != "2026-01-02T04:00:00Z" {
		t.Fatalf("read_at = %v", msg["read_at"])
	}
}

func TestNewPresence_FrameShapeAndAudience(t *testing.T) {
	for _, online := range []bool{true, false} {
		env, err := NewPresence(UserRef{Usercode: "LANA01", Username: "lanaro"}, online)
		if err != nil {
			t.Fatal(err)
		}
		if env.Type != TypePresence || !env.All || env.Users != nil || env.ID != "" {
			t.Fatalf("envelope = %+v, want to everyone", env)
		}
		f := decodeObject(t, env.Frame)
		if got := keys(f); !reflect.DeepEqual(got, []string{"online", "type", "user"}) {
			t.Fatalf("frame keys = %v", got)
		}
		u := f["user"].(map[string]any)
		if f["type"] != "presence" || f["online"] != online || u["usercode"] != "LANA01" || u["username"] != "lanaro" || len(u) != 2 {
			t.Fatalf("frame = %v", f)
		}
	}
}

func TestNewRead_FrameShapeAndAudience(t *testing.T) {
	env, err := NewRead("01890a5d-ac96-774b-bcce-b302099a8057", UserRef{Usercode: "PAPER1", Username: "paper"}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != TypeRead || env.ID != "01890a5d-ac96-774b-bcce-b302099a8057" || !reflect.DeepEqual(env.Users, []int{7}) || env.All {
		t.Fatalf("envelope = %+v, want only the sender", env)
	}
	f := decodeObject(t, env.Frame)
	if got := keys(f); !reflect.DeepEqual(got, []string{"message_id", "reader", "type"}) {
		t.Fatalf("frame keys = %v", got)
	}
	r := f["reader"].(map[string]any)
	if f["type"] != "read" || f["message_id"] != env.ID || r["usercode"] != "PAPER1" || r["username"] != "paper" || len(r) != 2 {
		t.Fatalf("frame = %v", f)
	}
}

func TestEnvelope_FrameTravelsByteForByte(t *testing.T) {
	env, _ := NewMessage(sampleMessage(), []int{1})
	env.Trace = map[string]string{"traceparent": "00-abc-def-01"}
	wire, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	var back Envelope
	if err := json.Unmarshal(wire, &back); err != nil {
		t.Fatal(err)
	}
	if string(back.Frame) != string(env.Frame) || back.ID != env.ID || back.Type != env.Type || !reflect.DeepEqual(back.Users, env.Users) || back.Trace["traceparent"] != "00-abc-def-01" {
		t.Fatalf("round trip changed the envelope:\n%+v\n%+v", env, back)
	}
}

func BenchmarkEncodeMessageEvent(b *testing.B) {
	for _, tc := range []struct {
		name string
		body string
	}{
		{"body=short", "hello paper, how are you?"},
		{"body=1000", strings.Repeat("héllo wörld ", 84)[:1000]},
		{"body=html", strings.Repeat(`<a href="x">&amp;</a>`, 20)},
	} {
		m := sampleMessage()
		m.Body = tc.body
		users := []int{42}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				env, err := NewMessage(m, users)
				if err != nil {
					b.Fatal(err)
				}
				n = len(env.Frame)
			}
			b.SetBytes(int64(n))
		})
	}
}

func TestMessage_ReadAtIsNullOnlyOnReceivedUnreadMessages(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	sent := sampleMessage()
	unread := sampleMessage()
	unread.Received = true
	read := unread
	read.ReadAt = &at
	for name, tc := range map[string]struct {
		m    Message
		want string // the read_at value as JSON; "" when absent
	}{
		"sent":            {sent, ""},
		"received unread": {unread, "null"},
		"received read":   {read, `"2026-01-02T03:04:06Z"`},
	} {
		for form, b := range map[string]func() ([]byte, error){
			"value":   func() ([]byte, error) { return json.Marshal(tc.m) },
			"pointer": func() ([]byte, error) { return json.Marshal(&tc.m) },
			"in a frame": func() ([]byte, error) {
				f, err := json.Marshal(MessageFrame{Type: TypeMessage, Message: tc.m})
				var outer struct{ Message json.RawMessage }
				if err == nil {
					err = json.Unmarshal(f, &outer)
				}
				return outer.Message, err
			},
		} {
			data, err := b()
			if err != nil {
				t.Fatalf("%s (%s): %v", name, form, err)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(data, &fields); err != nil {
				t.Fatalf("%s (%s): %v", name, form, err)
			}
			if got := string(fields["read_at"]); got != tc.want {
				t.Errorf("%s (%s): read_at %q, want %q in %s", name, form, got, tc.want, data)
			}
			if _, ok := fields["received"]; ok || len(fields) != 7+btoi(tc.want != "") {
				t.Errorf("%s (%s): unexpected fields in %s", name, form, data)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
