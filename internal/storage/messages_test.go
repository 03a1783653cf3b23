package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/messager/messager/ent"
	"github.com/messager/messager/ent/messagerecipient"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/testenv"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// msgID is a UUID-shaped id that sorts by n, as UUIDv7 ids sort by time.
func msgID(n int) string { return fmt.Sprintf("01900000-0000-7000-8000-%012d", n) }

func usercode(i int) string {
	s := strings.ToUpper(strconv.FormatInt(int64(i), 36))
	return strings.Repeat("0", 6-len(s)) + s
}

// makeUsers inserts n users in bulk and returns them in order.
func makeUsers(t testing.TB, db *storage.DB, n int) []storage.User {
	t.Helper()
	ctx := context.Background()
	var out []storage.User
	for start := 0; start < n; start += 500 {
		end := min(start+500, n)
		builders := make([]*ent.UserCreate, 0, end-start)
		for i := start; i < end; i++ {
			name := fmt.Sprintf("user%d", i)
			builders = append(builders, db.Ent().User.Create().SetUsername(name).SetUsernameKey(name).
				SetEmail(name+"@example.com").SetPasswordHash("x").SetUsercode(usercode(i)))
		}
		rows, err := db.Ent().User.CreateBulk(builders...).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out = append(out, storage.User{ID: r.ID, Username: r.Username, Usercode: r.Usercode})
		}
	}
	return out
}

func dm(n int, from, to storage.User) storage.NewMessage {
	id := to.ID
	return storage.NewMessage{ID: msgID(n), SenderID: from.ID, ToID: &id, Body: fmt.Sprintf("dm %d", n), CreatedAt: epoch.Add(time.Duration(n) * time.Second), Recipients: []int{to.ID}}
}

func broadcast(n int, from storage.User, to ...storage.User) storage.NewMessage {
	m := storage.NewMessage{ID: msgID(n), SenderID: from.ID, Body: fmt.Sprintf("broadcast %d", n), Broadcast: true, CreatedAt: epoch.Add(time.Duration(n) * time.Second)}
	for _, u := range to {
		m.Recipients = append(m.Recipients, u.ID)
	}
	return m
}

func mustSave(t testing.TB, s *storage.Messages, m storage.NewMessage) {
	t.Helper()
	saved, err := s.Save(context.Background(), m)
	if err != nil || !saved.Fresh {
		t.Fatalf("Save(%s) = %+v, %v", m.ID, saved, err)
	}
}

func countRows(t *testing.T, db *storage.DB, messageID string) (messages, recipients int) {
	t.Helper()
	ctx := context.Background()
	var err error
	if messages, err = db.Messages().Count(ctx); err != nil {
		t.Fatal(err)
	}
	ids, err := db.Messages().Recipients(ctx, messageID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	return messages, len(ids)
}

// Recipients and CountRecipients say what deliveries wrote, for checks
// outside storage (the worker's tests) that have no SQL of their own.
func TestRecipients_SayWhomAMessageWasStoredFor(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 4)
	ctx := context.Background()
	mustSave(t, db.Messages(), broadcast(1, u[0], u[3], u[1], u[2]))
	mustSave(t, db.Messages(), dm(2, u[1], u[0]))
	got, err := db.Messages().Recipients(ctx, msgID(1))
	if want := []int{u[1].ID, u[2].ID, u[3].ID}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Recipients(broadcast) = %v, %v; want %v, ascending, without the sender", got, err, want)
	}
	if _, err := db.Messages().Recipients(ctx, msgID(3)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Recipients(not stored) = %v; want ErrNotFound", err)
	}
	if n, err := db.Messages().CountRecipients(ctx); err != nil || n != 4 {
		t.Fatalf("CountRecipients = %d, %v; want 4", n, err)
	}
}

func TestSave_IsIdempotent(t *testing.T) {
	t.Logf("backends: %s", testenv.Backends())
	db := testenv.DB(t)
	u := makeUsers(t, db, 4)
	s := db.Messages()
	for _, tc := range []struct {
		name       string
		m          storage.NewMessage
		recipients int
	}{
		{"direct message", dm(1, u[0], u[1]), 1},
		{"broadcast", broadcast(2, u[0], u[1], u[2], u[3]), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := s.Count(context.Background())
			mustSave(t, s, tc.m)
			mustSave(t, s, tc.m) // a retried task
			msgs, recips := countRows(t, db, tc.m.ID)
			if msgs != before+1 || recips != tc.recipients {
				t.Fatalf("after two saves: %d new messages, %d recipient rows; want 1 and %d", msgs-before, recips, tc.recipients)
			}
		})
	}
}

func TestSave_BroadcastTo5000RecipientsIsStoredExactly(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 5001)
	sender, audience := u[0], u[1:]
	m := broadcast(1, sender, audience...)
	mustSave(t, db.Messages(), m)
	ctx := context.Background()
	got, err := db.Ent().MessageRecipient.Query().Where(messagerecipient.MessageID(m.ID)).
		Select(messagerecipient.FieldRecipientID).Ints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]int(nil), m.Recipients...)
	sort.Ints(got)
	sort.Ints(want)
	if !slices.Equal(got, want) {
		t.Fatalf("stored %d recipients, want exactly the %d sent to", len(got), len(want))
	}
	for _, r := range []storage.User{audience[0], audience[2500], audience[4999]} {
		if n, err := db.Messages().Unread(ctx, r.ID); err != nil || n != 1 {
			t.Fatalf("Unread(%s) = %d, %v; want 1", r.Username, n, err)
		}
	}
	if n, _ := db.Messages().Unread(ctx, sender.ID); n != 0 {
		t.Fatalf("sender has %d unread of its own broadcast", n)
	}
}

func TestSave_ReusedClientIDReturnsFalseAndWritesNothing(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 3)
	s := db.Messages()
	ctx := context.Background()
	first := dm(1, u[0], u[1])
	first.ClientID = "c-1"
	mustSave(t, s, first)

	dup := dm(2, u[0], u[2])
	dup.ClientID = "c-1"
	saved, err := s.Save(ctx, dup)
	if err != nil || saved.Fresh {
		t.Fatalf("Save with a used client_id = %+v, %v; want not fresh, nil", saved, err)
	}
	msgs, recips := countRows(t, db, dup.ID)
	if msgs != 1 || recips != 0 {
		t.Fatalf("after the duplicate: %d messages, %d recipient rows of it; want 1 and 0", msgs, recips)
	}
	if n, _ := s.Unread(ctx, u[2].ID); n != 0 {
		t.Fatalf("the duplicate's recipient has %d unread", n)
	}

	// The retry of the original is still accepted.
	if saved, err := s.Save(ctx, first); err != nil || !saved.Fresh {
		t.Fatalf("retry of the original = %+v, %v; want fresh", saved, err)
	}
	// client_id is unique per sender only.
	other := dm(3, u[1], u[0])
	other.ClientID = "c-1"
	if saved, err := s.Save(ctx, other); err != nil || !saved.Fresh {
		t.Fatalf("another sender's c-1 = %+v, %v; want fresh", saved, err)
	}
}

// One batch mixing every case the worker meets stores each message as Save
// would alone: fresh ones with their recipients, a retried one again
// without new rows, and of the messages sharing a sender's client_id only
// the one stored first (earlier in the database, or earlier in the batch).
func TestSaveBatch_MixedBatch(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 4)
	s := db.Messages()
	ctx := context.Background()
	stored := dm(1, u[0], u[1])
	stored.ClientID = "c-1"
	mustSave(t, s, stored)

	clash := dm(2, u[0], u[2]) // reuses a stored client_id
	clash.ClientID = "c-1"
	first, second := dm(3, u[1], u[0]), dm(4, u[1], u[2]) // share a client_id in the batch
	first.ClientID, second.ClientID = "c-2", "c-2"
	// The broadcast names a recipient twice: it is stored once.
	batch := []storage.NewMessage{stored, clash, first, second, broadcast(5, u[3], u[0], u[1], u[2], u[1]), dm(6, u[2], u[3])}
	saved, err := s.SaveBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	fresh := freshOf(saved)
	if want := []bool{true, false, true, false, true, true}; !slices.Equal(fresh, want) {
		t.Fatalf("fresh = %v, want %v", fresh, want)
	}
	for i, want := range []int{1, 0, 1, 0, 3, 1} {
		if _, recips := countRows(t, db, batch[i].ID); recips != want {
			t.Errorf("message %d has %d recipient rows, want %d", i+1, recips, want)
		}
	}
	if n, _ := s.Count(ctx); n != 4 {
		t.Fatalf("%d messages stored, want 4", n)
	}
	// The whole batch again (a retried task) changes nothing.
	again, err := s.SaveBatch(ctx, batch)
	if err != nil || !slices.Equal(freshOf(again), fresh) {
		t.Fatalf("retry: fresh = %v, %v; want %v", freshOf(again), err, fresh)
	}
	// ... and gives every message the positions its first save gave it.
	for i := range batch {
		if !slices.Equal(again[i].Audience, saved[i].Audience) {
			t.Errorf("message %d: retry audience %v, first %v", i+1, again[i].Audience, saved[i].Audience)
		}
	}
	if n, _ := db.Ent().MessageRecipient.Query().Count(ctx); n != 6 {
		t.Fatalf("%d recipient rows after the retry, want 6", n)
	}
}

func freshOf(saved []storage.Saved) []bool {
	out := make([]bool, len(saved))
	for i, s := range saved {
		out[i] = s.Fresh
	}
	return out
}

// conversation stores messages among four users and returns, per user,
// the ids each may see, oldest first.
func conversation(t *testing.T, db *storage.DB) ([]storage.User, map[int][]string) {
	u := makeUsers(t, db, 4)
	a, b, c, d := u[0], u[1], u[2], u[3]
	s := db.Messages()
	for _, m := range []storage.NewMessage{
		dm(1, a, b),
		dm(2, b, a),
		dm(3, c, b), // a must never see it
		broadcast(4, c, a, b, d),
		broadcast(5, a, b, c),
		dm(6, d, c),
		dm(7, b, a),
		dm(8, c, d),
		broadcast(9, d), // nobody else online
	} {
		mustSave(t, s, m)
	}
	ids := func(ns ...int) []string {
		var out []string
		for _, n := range ns {
			out = append(out, msgID(n))
		}
		return out
	}
	return u, map[int][]string{
		a.ID: ids(1, 2, 4, 5, 7),
		b.ID: ids(1, 2, 3, 4, 5, 7),
		c.ID: ids(3, 4, 5, 6, 8),
		d.ID: ids(4, 6, 8, 9),
	}
}

func idsOf(ms []storage.StoredMessage) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestHistory_PagesNewestFirstOverSentAndReceivedOnly(t *testing.T) {
	db := testenv.DB(t)
	users, visible := conversation(t, db)
	s := db.Messages()
	ctx := context.Background()
	for _, u := range users {
		want := slices.Clone(visible[u.ID])
		slices.Reverse(want)
		for limit := 1; limit <= 7; limit++ {
			var got []string
			before := ""
			for page := 0; ; page++ {
				ms, err := s.History(ctx, u.ID, before, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) > limit {
					t.Fatalf("%s limit %d: page of %d", u.Username, limit, len(ms))
				}
				if len(ms) == 0 {
					break
				}
				got = append(got, idsOf(ms)...)
				before = ms[len(ms)-1].ID
				if page > 20 {
					t.Fatal("paging does not end")
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s History limit %d = %v, want %v", u.Username, limit, got, want)
			}
		}
	}
}

func TestAfter_PagesOldestFirstOverSentAndReceivedOnly(t *testing.T) {
	db := testenv.DB(t)
	users, visible := conversation(t, db)
	s := db.Messages()
	ctx := context.Background()
	for _, u := range users {
		want := visible[u.ID]
		for limit := 1; limit <= 7; limit++ {
			var got []string
			after := ""
			for page := 0; ; page++ {
				ms, err := s.After(ctx, u.ID, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) > limit {
					t.Fatalf("%s limit %d: page of %d", u.Username, limit, len(ms))
				}
				if len(ms) == 0 {
					break
				}
				got = append(got, idsOf(ms)...)
				after = ms[len(ms)-1].ID
				if page > 20 {
					t.Fatal("paging does not end")
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s After limit %d = %v, want %v", u.Username, limit, got, want)
			}
		}
	}
	// A cursor in the middle: everything strictly after it.
	a := users[0]
	ms, err := s.After(ctx, a.ID, msgID(4), 50)
	if err != nil {
		t.Fatal(err)
	}
	if got := idsOf(ms); !slices.Equal(got, []string{msgID(5), msgID(7)}) {
		t.Fatalf("After(m4) = %v", got)
	}
}

func TestHistory_ItemsCarrySenderRecipientAndKind(t *testing.T) {
	db := testenv.DB(t)
	users, _ := conversation(t, db)
	a, b := users[0], users[1]
	ms, err := db.Messages().History(context.Background(), a.ID, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]storage.StoredMessage{}
	for _, m := range ms {
		byID[m.ID] = m
	}
	m1 := byID[msgID(1)]
	// Storage says what is stored; the status clients see ("delivered")
	// is messaging's (messaging.TestEventOf_StoredMessagesAreDelivered).
	if m1.SenderUsercode != a.Usercode || m1.SenderUsername != a.Username || m1.ToUsercode != b.Usercode || m1.Broadcast || m1.Body != "dm 1" {
		t.Fatalf("m1 = %+v", m1)
	}
	if !m1.CreatedAt.Equal(epoch.Add(time.Second)) || m1.CreatedAt.Location() != time.UTC {
		t.Fatalf("m1 created_at = %v", m1.CreatedAt)
	}
	m4 := byID[msgID(4)]
	if !m4.Broadcast || m4.ToUsercode != "" || m4.SenderUsername != users[2].Username {
		t.Fatalf("m4 = %+v", m4)
	}
}

func TestMarkRead_FoundAndChangedSemantics(t *testing.T) {
	db := testenv.DB(t)
	users, _ := conversation(t, db)
	a, b, c := users[0], users[1], users[2]
	s := db.Messages()
	ctx := context.Background()
	at := epoch.Add(time.Hour)

	unreadB, _ := s.Unread(ctx, b.ID)
	if unreadB != 4 { // m1, m3, m4, m5
		t.Fatalf("b unread = %d, want 4", unreadB)
	}
	for _, tc := range []struct {
		name             string
		id               string
		reader           storage.User
		sender           int
		found, changed   bool
		unreadAfter      int
		unreadAfterOwner storage.User
	}{
		{"recipient marks once", msgID(1), b, a.ID, true, true, 3, b},
		{"again changes nothing", msgID(1), b, a.ID, true, false, 3, b},
		{"sender is not a recipient", msgID(1), a, 0, false, false, 3, b},
		{"stranger is not a recipient", msgID(1), c, 0, false, false, 3, b},
		{"unknown message", msgID(999), b, 0, false, false, 3, b},
		{"broadcast recipient", msgID(5), b, a.ID, true, true, 2, b},
		{"broadcast recipient elsewhere unaffected", msgID(5), c, a.ID, true, true, 2, b},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sender, found, changed, err := s.MarkRead(ctx, tc.id, tc.reader.ID, at)
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found || changed != tc.changed || (tc.found && sender != tc.sender) {
				t.Fatalf("MarkRead = sender %d found %v changed %v; want %d %v %v", sender, found, changed, tc.sender, tc.found, tc.changed)
			}
			if n, _ := s.Unread(ctx, tc.unreadAfterOwner.ID); n != tc.unreadAfter {
				t.Fatalf("unread = %d, want %d", n, tc.unreadAfter)
			}
		})
	}
	// History shows read_at on the reader's received messages only.
	ms, _ := s.History(ctx, b.ID, "", 50)
	for _, m := range ms {
		read := m.ID == msgID(1) || m.ID == msgID(5)
		if read != (m.ReadAt != nil) {
			t.Fatalf("b's %s read_at = %v", m.ID, m.ReadAt)
		}
		if read && !m.ReadAt.Equal(at) {
			t.Fatalf("read_at = %v, want %v", m.ReadAt, at)
		}
	}
	ms, _ = s.History(ctx, a.ID, "", 50)
	for _, m := range ms {
		if m.ReadAt != nil {
			t.Fatalf("a read nothing, yet %s has read_at", m.ID)
		}
	}
}

// PostgreSQL cannot store U+0000 in text: such a save is ErrRejected (no
// retry can succeed), not an outage to wait out.
func TestSave_TextThePostgresCannotStoreIsRejected(t *testing.T) {
	db := testenv.DB(t)
	if db.Dialect() != "postgres" {
		t.Skip("SQLite stores U+0000; the refusal is PostgreSQL's (set MESSAGER_TEST_DATABASE_URL)")
	}
	u := makeUsers(t, db, 2)
	m := dm(1, u[0], u[1])
	m.Body = "nul \x00 inside"
	_, err := db.Messages().Save(context.Background(), m)
	if !errors.Is(err, storage.ErrRejected) {
		t.Fatalf("Save with U+0000 = %v, want ErrRejected", err)
	}
}

// A commit naming a user that does not exist is refused whole
// (ErrRejected, so the worker saves its messages one by one to find the
// bad one) and leaves nothing behind: no message, no recipient row, and
// no position taken in anyone's mailbox.
func TestSaveBatch_AnUnknownRecipientRejectsTheCommitAndChangesNothing(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 2)
	s := db.Messages()
	ctx := context.Background()
	ghost := u[1]
	ghost.ID = 1 << 40
	batch := []storage.NewMessage{dm(1, u[0], u[1]), dm(2, u[0], ghost)}
	if _, err := s.SaveBatch(ctx, batch); !errors.Is(err, storage.ErrRejected) {
		t.Fatalf("SaveBatch naming an unknown user = %v, want ErrRejected", err)
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Errorf("%d messages stored, want 0", n)
	}
	if n, _ := s.CountRecipients(ctx); n != 0 {
		t.Errorf("%d recipient rows stored, want 0", n)
	}
	for _, user := range u {
		if head, err := s.Head(ctx, user.ID); err != nil || head != 0 {
			t.Errorf("user %d's mailbox head = %d, %v; want 0", user.ID, head, err)
		}
	}
	// The good message alone is stored, at the first position of each.
	saved, err := s.SaveBatch(ctx, batch[:1])
	if err != nil || !saved[0].Fresh {
		t.Fatalf("SaveBatch(good message) = %+v, %v", saved, err)
	}
	want := []storage.Position{{UserID: u[1].ID, Seq: 1}, {UserID: u[0].ID, Seq: 1}}
	if !slices.Equal(saved[0].Audience, want) {
		t.Errorf("audience %v, want %v", saved[0].Audience, want)
	}
}

// An empty commit writes nothing and is not an error (messager_save_batch
// would answer it with no positions at all).
func TestSaveBatch_NothingToSave(t *testing.T) {
	db := testenv.DB(t)
	saved, err := db.Messages().SaveBatch(context.Background(), nil)
	if err != nil || len(saved) != 0 {
		t.Fatalf("SaveBatch(nil) = %v, %v; want nothing, no error", saved, err)
	}
}
