package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/messager/messager/ent"
	"github.com/messager/messager/ent/message"
	"github.com/messager/messager/ent/messagerecipient"
)

// Messages stores messages and their recipients.
type Messages struct{ db *DB }

// Messages returns the message store.
func (d *DB) Messages() *Messages { return &Messages{db: d} }

// NewMessage is one accepted message as the worker persists it.
type NewMessage struct {
	ID         string
	SenderID   int
	ToID       *int
	Body       string
	Broadcast  bool
	ClientID   string
	CreatedAt  time.Time
	Recipients []int
}

// StoredMessage is a message as stored, read back for one reader (the
// user whose history or mailbox is read). It is storage's record, not
// what clients see: the services turn it into the JSON they send.
type StoredMessage struct {
	ID             string
	SenderUsercode string
	SenderUsername string
	// ToUsercode is the recipient of a direct message, empty for a broadcast.
	ToUsercode string
	Body       string
	Broadcast  bool
	CreatedAt  time.Time
	// Received is true when the reader is a recipient (not the sender);
	// ReadAt is when the reader read it, nil while unread.
	Received bool
	ReadAt   *time.Time
}

// MailboxEntry is a message at its position in one reader's mailbox (see
// Position).
type MailboxEntry struct {
	Seq     int64
	Message StoredMessage
}

// uniqueRecipients returns ids without repeats, in their first order; ids
// itself when it has none (the usual case), so no copy is made.
func uniqueRecipients(ids []int) []int {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[int]struct{}, len(ids))
	for i, id := range ids {
		if _, dup := seen[id]; dup {
			out := slices.Clone(ids[:i])
			for _, id := range ids[i:] {
				if _, dup := seen[id]; !dup {
					seen[id] = struct{}{}
					out = append(out, id)
				}
			}
			return out
		}
		seen[id] = struct{}{}
	}
	return ids
}

// querier runs a query: *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// collectIDs adds the ids q returns to into.
func collectIDs(ctx context.Context, db querier, q string, args []any, into map[string]bool) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return classify(err)
		}
		into[id] = true
	}
	return classify(rows.Err())
}

// History returns up to limit of userID's messages, sent or received, with
// an id before `before` (all when empty), newest first.
func (s *Messages) History(ctx context.Context, userID int, before string, limit int) ([]StoredMessage, error) {
	return s.page(ctx, userID, before, limit)
}

// After returns up to limit of userID's messages that came after the
// message with id `after`, in the order they became visible to the user
// (mailbox positions, see Resume and Since), not in id order: a message
// saved late, after newer ones, is still returned.
func (s *Messages) After(ctx context.Context, userID int, after string, limit int) ([]StoredMessage, error) {
	pos, err := s.Resume(ctx, userID, after)
	if err != nil {
		return nil, err
	}
	ps, err := s.Since(ctx, userID, pos, 0, limit)
	if err != nil {
		return nil, err
	}
	out := make([]StoredMessage, len(ps))
	for i, p := range ps {
		out[i] = p.Message
	}
	return out, nil
}

// page reads the ids of sent and received messages before `before` on
// their own indexes (two index range scans), merges them, then loads that
// one page, newest first.
func (s *Messages) page(ctx context.Context, userID int, before string, limit int) ([]StoredMessage, error) {
	sentQ := s.db.client.Message.Query().Where(message.SenderID(userID))
	recvQ := s.db.client.MessageRecipient.Query().Where(messagerecipient.RecipientID(userID))
	if before != "" {
		sentQ = sentQ.Where(message.IDLT(before))
		recvQ = recvQ.Where(messagerecipient.MessageIDLT(before))
	}
	sentQ = sentQ.Order(ent.Desc(message.FieldID))
	recvQ = recvQ.Order(ent.Desc(messagerecipient.FieldMessageID))
	sent, err := sentQ.Limit(limit).IDs(ctx)
	if err != nil {
		return nil, classify(err)
	}
	recv, err := recvQ.Limit(limit).Select(messagerecipient.FieldMessageID, messagerecipient.FieldReadAt).All(ctx)
	if err != nil {
		return nil, classify(err)
	}
	readAt := make(map[string]*time.Time, len(recv))
	ids := make([]string, 0, len(sent)+len(recv))
	ids = append(ids, sent...)
	for _, r := range recv {
		if _, dup := readAt[r.MessageID]; !dup {
			ids = append(ids, r.MessageID)
		}
		readAt[r.MessageID] = r.ReadAt
	}
	sort.Strings(ids)
	ids = dedupeSorted(ids)
	ids = ids[max(0, len(ids)-limit):]
	if len(ids) == 0 {
		return []StoredMessage{}, nil
	}
	rows, err := s.db.client.Message.Query().Where(message.IDIn(ids...)).WithSender().WithTo().All(ctx)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]StoredMessage, 0, len(rows))
	for _, r := range rows {
		m := toStored(r)
		_, m.Received = readAt[r.ID]
		if ra, ok := readAt[r.ID]; ok && ra != nil {
			t := ra.UTC()
			m.ReadAt = &t
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

func dedupeSorted(ids []string) []string {
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}

// toStored reads r, loaded with its sender and recipient (WithSender,
// WithTo), as sent; the reader's receipt is the caller's to add.
func toStored(r *ent.Message) StoredMessage {
	m := StoredMessage{
		ID:        r.ID,
		Body:      r.Body,
		Broadcast: r.Broadcast,
		CreatedAt: r.CreatedAt.UTC(),
	}
	if s := r.Edges.Sender; s != nil {
		m.SenderUsercode, m.SenderUsername = s.Usercode, s.Username
	}
	if t := r.Edges.To; t != nil {
		m.ToUsercode = t.Usercode
	}
	return m
}

// MarkRead sets read_at on userID's delivery of messageID if unset. It
// returns the sender's id, whether the caller is a recipient at all, and
// whether this call changed anything (so a read receipt is sent once).
func (s *Messages) MarkRead(ctx context.Context, messageID string, userID int, at time.Time) (senderID int, found, changed bool, err error) {
	n, err := s.db.client.MessageRecipient.Update().
		Where(messagerecipient.MessageID(messageID), messagerecipient.RecipientID(userID), messagerecipient.ReadAtIsNil()).
		SetReadAt(at.UTC()).Save(ctx)
	if err != nil {
		return 0, false, false, classify(err)
	}
	if n == 0 {
		exists, err := s.db.client.MessageRecipient.Query().
			Where(messagerecipient.MessageID(messageID), messagerecipient.RecipientID(userID)).Exist(ctx)
		if err != nil {
			return 0, false, false, classify(err)
		}
		if !exists {
			return 0, false, false, nil
		}
	}
	m, err := s.db.client.Message.Query().Where(message.ID(messageID)).Select(message.FieldSenderID).Only(ctx)
	if err != nil {
		return 0, false, false, classify(err)
	}
	return m.SenderID, true, n > 0, nil
}

// Unread counts userID's received messages not yet read.
func (s *Messages) Unread(ctx context.Context, userID int) (int, error) {
	n, err := s.db.client.MessageRecipient.Query().
		Where(messagerecipient.RecipientID(userID), messagerecipient.ReadAtIsNil()).Count(ctx)
	if err != nil {
		return 0, classify(err)
	}
	return n, nil
}

// Recipients returns the ids of the users who have a recipient row for
// message id, ascending: whom SaveBatch delivered it to. An id that is
// not stored is ErrNotFound. For checks of what a delivery wrote (tests,
// the worker's own tests), not for serving requests.
func (s *Messages) Recipients(ctx context.Context, id string) ([]int, error) {
	stored, err := s.db.client.Message.Query().Where(message.ID(id)).Exist(ctx)
	if err != nil {
		return nil, classify(err)
	}
	if !stored {
		return nil, fmt.Errorf("message %s: %w", id, ErrNotFound)
	}
	ids, err := s.db.client.MessageRecipient.Query().Where(messagerecipient.MessageID(id)).
		Order(ent.Asc(messagerecipient.FieldRecipientID)).Select(messagerecipient.FieldRecipientID).Ints(ctx)
	if err != nil {
		return nil, classify(err)
	}
	return ids, nil
}

// CountRecipients returns how many recipient rows are stored, over all
// messages (for tests' checks, as Count).
func (s *Messages) CountRecipients(ctx context.Context) (int, error) {
	n, err := s.db.client.MessageRecipient.Query().Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count recipient rows: %w", classify(err))
	}
	return n, nil
}

// Count returns how many messages are stored (for tests' checks).
func (s *Messages) Count(ctx context.Context) (int, error) {
	n, err := s.db.client.Message.Query().Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count messages: %w", classify(err))
	}
	return n, nil
}
