package messaging

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
)

var created = time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC)

// What storage reads back is, to clients, a delivered message: the same
// JSON the API and streams sent when storage built it.
func TestEventOf_StoredMessagesAreDelivered(t *testing.T) {
	read := created.Add(time.Minute)
	for _, c := range []struct {
		name string
		in   storage.StoredMessage
		want string
	}{
		{"a direct message the reader received, unread",
			storage.StoredMessage{ID: "m1", SenderUsercode: "AAAAAA", SenderUsername: "ann", ToUsercode: "BBBBBB", Body: "hi", CreatedAt: created, Received: true},
			`{"id":"m1","sender":{"usercode":"AAAAAA","username":"ann"},"body":"hi","broadcast":false,"to":"BBBBBB","created_at":"2026-03-01T12:00:01Z","status":"delivered","read_at":null}`},
		{"a direct message the reader received and read",
			storage.StoredMessage{ID: "m2", SenderUsercode: "AAAAAA", SenderUsername: "ann", ToUsercode: "BBBBBB", Body: "hi", CreatedAt: created, Received: true, ReadAt: &read},
			`{"id":"m2","sender":{"usercode":"AAAAAA","username":"ann"},"body":"hi","broadcast":false,"to":"BBBBBB","created_at":"2026-03-01T12:00:01Z","status":"delivered","read_at":"2026-03-01T12:01:01Z"}`},
		{"a broadcast the reader sent",
			storage.StoredMessage{ID: "m3", SenderUsercode: "AAAAAA", SenderUsername: "ann", Body: "all", Broadcast: true, CreatedAt: created},
			`{"id":"m3","sender":{"usercode":"AAAAAA","username":"ann"},"body":"all","broadcast":true,"to":null,"created_at":"2026-03-01T12:00:01Z","status":"delivered"}`},
	} {
		e := eventOf(c.in)
		if e.Status != events.StatusDelivered {
			t.Errorf("%s: status %q", c.name, e.Status)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, b, c.want)
		}
	}
	if b, _ := json.Marshal(eventsOf(nil)); string(b) != "[]" {
		t.Errorf("an empty page encodes as %s, want []", b)
	}
}

type fakeMailbox struct{ entries []storage.MailboxEntry }

func (f fakeMailbox) Head(context.Context, int) (int64, error)           { return 9, nil }
func (f fakeMailbox) Resume(context.Context, int, string) (int64, error) { return 4, nil }
func (f fakeMailbox) Since(context.Context, int, int64, int64, int) ([]storage.MailboxEntry, error) {
	return f.entries, nil
}

// Streams replay positions as stored and messages as clients see them.
func TestMailbox_ReplaysPositionsWithDeliveredMessages(t *testing.T) {
	m := NewMailbox(fakeMailbox{entries: []storage.MailboxEntry{
		{Seq: 5, Message: storage.StoredMessage{ID: "a", ToUsercode: "BBBBBB", Received: true}},
		{Seq: 7, Message: storage.StoredMessage{ID: "b", Broadcast: true}},
	}})
	ctx := context.Background()
	if head, _ := m.Head(ctx, 1); head != 9 {
		t.Errorf("head %d", head)
	}
	if pos, _ := m.Resume(ctx, 1, "x"); pos != 4 {
		t.Errorf("resume %d", pos)
	}
	got, err := m.Since(ctx, 1, 4, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Seq != 5 || got[0].Message.ID != "a" || *got[0].Message.To != "BBBBBB" || !got[0].Message.Received ||
		got[1].Seq != 7 || got[1].Message.ID != "b" || got[1].Message.To != nil || got[1].Message.Status != events.StatusDelivered {
		t.Fatalf("Since = %+v", got)
	}
}
