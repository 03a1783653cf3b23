package messaging

import (
	"context"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/storage"
)

// eventOf is a stored message as clients see it. A message is stored only
// once a worker has delivered it, so its status is delivered.
func eventOf(m storage.StoredMessage) events.Message {
	e := events.Message{
		ID:        m.ID,
		Sender:    events.UserRef{Usercode: m.SenderUsercode, Username: m.SenderUsername},
		Body:      m.Body,
		Broadcast: m.Broadcast,
		CreatedAt: m.CreatedAt,
		Status:    events.StatusDelivered,
		ReadAt:    m.ReadAt,
		Received:  m.Received,
	}
	if m.ToUsercode != "" {
		to := m.ToUsercode
		e.To = &to
	}
	return e
}

// eventsOf converts a page; never nil, so an empty page encodes as [].
func eventsOf(ms []storage.StoredMessage) []events.Message {
	out := make([]events.Message, len(ms))
	for i, m := range ms {
		out[i] = eventOf(m)
	}
	return out
}

// MailboxStore reads users' mailboxes by position; *storage.Messages.
type MailboxStore interface {
	Head(ctx context.Context, userID int) (int64, error)
	Resume(ctx context.Context, userID int, afterID string) (int64, error)
	Since(ctx context.Context, userID int, after, upto int64, limit int) ([]storage.MailboxEntry, error)
}

// Mailbox is what streams replay from (a stream.Replayer): the store's
// positions, with its messages as clients see them.
type Mailbox struct{ store MailboxStore }

// NewMailbox reads mailboxes from store.
func NewMailbox(store MailboxStore) *Mailbox { return &Mailbox{store: store} }

// Head returns the newest position of userID's mailbox.
func (m *Mailbox) Head(ctx context.Context, userID int) (int64, error) {
	return m.store.Head(ctx, userID)
}

// Resume turns a client's cursor, the id of the last message it got,
// into the position to resume after.
func (m *Mailbox) Resume(ctx context.Context, userID int, afterID string) (int64, error) {
	return m.store.Resume(ctx, userID, afterID)
}

// Since returns up to limit of userID's messages at positions after
// `after` and, when upto > 0, before upto, in position order.
func (m *Mailbox) Since(ctx context.Context, userID int, after, upto int64, limit int) ([]events.Positioned, error) {
	es, err := m.store.Since(ctx, userID, after, upto, limit)
	if err != nil {
		return nil, err
	}
	out := make([]events.Positioned, len(es))
	for i, e := range es {
		out[i] = events.Positioned{Seq: e.Seq, Message: eventOf(e.Message)}
	}
	return out, nil
}
