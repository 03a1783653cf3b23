package messaging

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/delivery"
	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/validation"
)

// Send's rules, with every dependency faked: what it refuses, what it
// hands the workers, and how it uses admission.

var (
	sender = auth.Principal{UserID: 1, Username: "sam", Usercode: "SAM111"}
	bobRow = storage.User{ID: 2, Username: "bob", Usercode: "BOB222"}
	// sendTime is the service's clock; CreatedAt is it in UTC, to the µs.
	sendTime = time.Date(2026, 3, 1, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))
)

type fakeUsers struct {
	byCode map[string]storage.User
	err    error
}

func (u *fakeUsers) ByUsercode(_ context.Context, code string) (storage.User, error) {
	if u.err != nil {
		return storage.User{}, u.err
	}
	if usr, ok := u.byCode[code]; ok {
		return usr, nil
	}
	return storage.User{}, storage.ErrNotFound
}

type fakeAudience struct {
	ids []int
	err error
}

func (a *fakeAudience) OnlineIDs(context.Context) ([]int, error) { return slices.Clone(a.ids), a.err }

// fakeEnqueuer records the deliveries it accepts; while err is set it
// refuses them.
// fakeEnqueuer queues every delivery, or refuses each with err (as
// delivery.GroupEnqueuer's gate or a failed enqueue would).
type fakeEnqueuer struct {
	mu    sync.Mutex
	err   error
	sent  []delivery.Delivery
	calls int
}

func (q *fakeEnqueuer) Enqueue(_ context.Context, d delivery.Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if q.err != nil {
		return q.err
	}
	q.sent = append(q.sent, d)
	return nil
}

func (q *fakeEnqueuer) deliveries() []delivery.Delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.sent)
}

// fixture is a service over fakes; store and publisher are nil, which
// Send never touches.
type fixture struct {
	svc      Service
	users    *fakeUsers
	audience *fakeAudience
	queue    *fakeEnqueuer
}

func newFixture() *fixture {
	f := &fixture{
		users:    &fakeUsers{byCode: map[string]storage.User{bobRow.Usercode: bobRow}},
		audience: &fakeAudience{},
		queue:    &fakeEnqueuer{},
	}
	svc := NewService(f.users, f.audience, nil, f.queue, nil, Limits{MaxBodyLength: 10, HistoryPageSize: 50, MaxPageSize: 200})
	svc.(*service).now = func() time.Time { return sendTime }
	f.svc = svc
	return f
}

func (f *fixture) send(t *testing.T, in SendInput) (events.Message, bool) {
	t.Helper()
	m, created, err := f.svc.Send(context.Background(), sender, in)
	if err != nil {
		t.Fatalf("Send(%+v): %v", in, err)
	}
	return m, created
}

func TestSend_InvalidInputNamesEveryBadFieldAndQueuesNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     SendInput
		fields []string
	}{
		{"empty body", SendInput{Body: ""}, []string{"body"}},
		{"blank body", SendInput{Body: " \n\t\u200b"}, []string{"body"}},
		{"NUL in body", SendInput{Body: "a\x00b"}, []string{"body"}},
		{"body not UTF-8", SendInput{Body: "a\xffb"}, []string{"body"}},
		{"body over the limit in characters", SendInput{Body: strings.Repeat("é", 11)}, []string{"body"}},
		{"to not a usercode", SendInput{Body: "hi", To: "BOB22"}, []string{"to"}},
		{"to with a symbol", SendInput{Body: "hi", To: "BOB-22"}, []string{"to"}},
		{"client_id too long", SendInput{Body: "hi", ClientID: strings.Repeat("c", MaxClientIDLength+1)}, []string{"client_id"}},
		{"NUL in client_id", SendInput{Body: "hi", ClientID: "c\x001"}, []string{"client_id"}},
		{"all at once", SendInput{Body: "", To: "x", ClientID: "\x00"}, []string{"body", "to", "client_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			_, created, err := f.svc.Send(context.Background(), sender, tc.in)
			var fe validation.Errors
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want validation.Errors", err)
			}
			var fields []string
			for _, e := range fe {
				fields = append(fields, e.Field)
			}
			if !slices.Equal(fields, tc.fields) {
				t.Fatalf("fields %v, want %v (%v)", fields, tc.fields, err)
			}
			if created || f.queue.calls != 0 {
				t.Fatalf("an invalid send went on: created=%v enqueues=%d", created, f.queue.calls)
			}
		})
	}
}

// The limits are on characters, not bytes; to is trimmed and upper-cased.
func TestSend_AtTheLimitsIsAccepted(t *testing.T) {
	f := newFixture()
	m, created := f.send(t, SendInput{Body: strings.Repeat("é", 10), To: " bob222 ", ClientID: strings.Repeat("c", MaxClientIDLength)})
	if !created || m.To == nil || *m.To != bobRow.Usercode {
		t.Fatalf("Send = %+v, created=%v; want a new DM to %s", m, created, bobRow.Usercode)
	}
}

func TestSend_UnknownRecipientIsErrUnknownRecipient(t *testing.T) {
	f := newFixture()
	_, _, err := f.svc.Send(context.Background(), sender, SendInput{Body: "hi", To: "NOONE1", ClientID: "c-1"})
	if !errors.Is(err, ErrUnknownRecipient) {
		t.Fatalf("err = %v, want ErrUnknownRecipient", err)
	}
	if f.queue.calls != 0 {
		t.Fatalf("a send to nobody reached the queue (%d enqueues)", f.queue.calls)
	}

	// Any other failure to look the recipient up is not "unknown".
	down := errors.New("database down")
	f.users.err = down
	if _, _, err := f.svc.Send(context.Background(), sender, SendInput{Body: "hi", To: bobRow.Usercode}); !errors.Is(err, down) || errors.Is(err, ErrUnknownRecipient) {
		t.Fatalf("err = %v, want the lookup's own error", err)
	}
}

// A DM hands the workers one delivery to the recipient on the direct
// queue, carrying the message the sender gets back.
func TestSend_DirectMessageDelivery(t *testing.T) {
	f := newFixture()
	m, created := f.send(t, SendInput{Body: "hello", To: "bob222", ClientID: "c-1"})
	if !created {
		t.Fatal("created = false for a first send")
	}
	ds := f.queue.deliveries()
	if len(ds) != 1 {
		t.Fatalf("%d deliveries queued, want 1", len(ds))
	}
	d := ds[0]
	if !sameMessage(d.Message, m) {
		t.Fatalf("queued message %+v differs from the one returned %+v", d.Message, m)
	}
	if !events.ValidID(m.ID) {
		t.Fatalf("id %q is not a message id", m.ID)
	}
	wantCreated := sendTime.UTC().Truncate(time.Microsecond)
	if m.Sender != (events.UserRef{Usercode: sender.Usercode, Username: sender.Username}) || m.Body != "hello" ||
		m.Broadcast || m.To == nil || *m.To != bobRow.Usercode || m.Status != events.StatusQueued ||
		!m.CreatedAt.Equal(wantCreated) || m.CreatedAt.Location() != time.UTC {
		t.Fatalf("message %+v, want a queued DM from sam to BOB222 created %v (UTC)", m, wantCreated)
	}
	if d.SenderID != sender.UserID || d.ToID == nil || *d.ToID != bobRow.ID || !slices.Equal(d.Recipients, []int{bobRow.ID}) || d.ClientID != "c-1" {
		t.Fatalf("delivery %+v, want sender 1 to 2, recipients [2], client_id c-1", d)
	}
	if q := d.Queue(); q != delivery.QueueDirect {
		t.Fatalf("queue %q, want %q", q, delivery.QueueDirect)
	}
}

// Nothing forbids a DM to oneself: the sender is its recipient.
func TestSend_ToOneselfIsADirectMessageToTheSender(t *testing.T) {
	f := newFixture()
	f.users.byCode[sender.Usercode] = storage.User{ID: sender.UserID, Username: sender.Username, Usercode: sender.Usercode}
	m, created := f.send(t, SendInput{Body: "to myself", To: sender.Usercode})
	ds := f.queue.deliveries()
	if !created || len(ds) != 1 || !slices.Equal(ds[0].Recipients, []int{sender.UserID}) || *ds[0].ToID != sender.UserID || *m.To != sender.Usercode {
		t.Fatalf("Send to self = %+v created=%v, deliveries %+v; want one DM to the sender", m, created, ds)
	}
}

// A broadcast goes to everyone online when it is sent, but the sender, on
// the broadcast queue.
func TestSend_BroadcastGoesToEveryoneOnlineButTheSender(t *testing.T) {
	f := newFixture()
	f.audience.ids = []int{5, sender.UserID, 3, 9}
	m, created := f.send(t, SendInput{Body: "hello all"})
	ds := f.queue.deliveries()
	if !created || len(ds) != 1 {
		t.Fatalf("created=%v, %d deliveries; want one new", created, len(ds))
	}
	d := ds[0]
	if !m.Broadcast || m.To != nil || d.ToID != nil || !slices.Equal(d.Recipients, []int{5, 3, 9}) {
		t.Fatalf("delivery %+v, want a broadcast to [5 3 9]", d)
	}
	if q := d.Queue(); q != delivery.QueueBroadcast {
		t.Fatalf("queue %q, want %q", q, delivery.QueueBroadcast)
	}

	// Nobody else online: still a broadcast, to nobody.
	f.audience.ids = []int{sender.UserID}
	f.send(t, SendInput{Body: "anyone?"})
	if d := f.queue.deliveries()[1]; !d.Message.Broadcast || len(d.Recipients) != 0 {
		t.Fatalf("delivery %+v, want a broadcast to nobody", d)
	}

	down := errors.New("redis down")
	f.audience.err = down
	if _, _, err := f.svc.Send(context.Background(), sender, SendInput{Body: "x"}); !errors.Is(err, down) {
		t.Fatalf("err = %v, want the audience's error", err)
	}
	if n := len(f.queue.deliveries()); n != 2 {
		t.Fatalf("%d deliveries after the audience failed, want still 2", n)
	}
}

// The queue admits sends (delivery.GroupEnqueuer's gate): a repeat it
// refuses answers with the first message and created=false; a rate limit,
// or an enqueue that failed, is the send's error.
func TestSend_AnswersTheQueuesRefusals(t *testing.T) {
	f := newFixture()
	svc, queue := f.svc, f.queue
	first := events.Message{ID: "01a21a36-508b-74ad-98fe-2d0b06912795", Body: "once"}
	queue.err = fmt.Errorf("group: %w", &RepeatedSend{Prev: first})
	m, created, err := svc.Send(context.Background(), sender, SendInput{Body: "once", To: bobRow.Usercode, ClientID: "c-1"})
	if err != nil || created || !sameMessage(m, first) {
		t.Fatalf("repeat = %+v created=%v err=%v, want the first message with created=false", m, created, err)
	}
	queue.err = &RateLimitedError{RetryAfter: time.Second}
	var rl *RateLimitedError
	if _, created, err := svc.Send(context.Background(), sender, SendInput{Body: "spam", To: bobRow.Usercode, ClientID: "c-2"}); !errors.As(err, &rl) || created {
		t.Fatalf("err = %v created=%v, want the queue's *RateLimitedError", err, created)
	}
	full := errors.New("queue unavailable")
	queue.err = full
	if _, created, err := svc.Send(context.Background(), sender, SendInput{Body: "hi", To: bobRow.Usercode, ClientID: "c-3"}); !errors.Is(err, full) || created {
		t.Fatalf("err = %v created=%v, want the enqueue's error", err, created)
	}
	queue.err = nil
	m, created = f.send(t, SendInput{Body: "new", To: bobRow.Usercode, ClientID: "c-3"})
	if !created || len(queue.deliveries()) != 1 || queue.deliveries()[0].Message.ID != m.ID || queue.deliveries()[0].ClientID != "c-3" {
		t.Fatalf("an admitted send gave %+v created=%v, queued %+v", m, created, queue.deliveries())
	}
}

// sameMessage compares messages field by field (To is a pointer).
func sameMessage(a, b events.Message) bool {
	if (a.To == nil) != (b.To == nil) || (a.To != nil && *a.To != *b.To) {
		return false
	}
	a.To, b.To = nil, nil
	return a.ID == b.ID && a.Sender == b.Sender && a.Body == b.Body && a.Broadcast == b.Broadcast &&
		a.CreatedAt.Equal(b.CreatedAt) && a.Status == b.Status
}
