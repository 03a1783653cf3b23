package storage

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
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

// History returns up to limit of userID's messages, sent or received,
// newest first in the user's mailbox (position) order: the order the
// user's stream delivered them, which is id order except where a message
// was saved after a newer one. A non-empty `before` is the id of one of the
// user's messages, and the page holds what came before it; an id that is
// not the user's is ErrNotFound. Messages saved before positions existed
// (position 0) are the oldest, in id order.
func (s *Messages) History(ctx context.Context, userID int, before string, limit int) ([]StoredMessage, error) {
	from := place{}
	if before != "" {
		p, err := s.placeOf(ctx, userID, before)
		if err != nil {
			return nil, err
		}
		from = p
	}
	return s.page(ctx, userID, from, limit)
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

// place is a message's place in one reader's mailbox, newest first by
// (seq, id): its position, and its id to order messages without one
// (seq 0, saved before positions existed). The zero place is "from the
// newest".
type place struct {
	seq int64
	id  string
}

// newerFirst orders places newest first.
func newerFirst(p, q place) int {
	if c := cmp.Compare(q.seq, p.seq); c != 0 {
		return c
	}
	return strings.Compare(q.id, p.id)
}

// placeOf returns where message id is in userID's mailbox: its recipient
// row's position, or, for a message the user sent to others, the sender's
// position on the message row. ErrNotFound when it is neither.
func (s *Messages) placeOf(ctx context.Context, userID int, id string) (place, error) {
	r, err := s.db.client.MessageRecipient.Query().
		Where(messagerecipient.MessageID(id), messagerecipient.RecipientID(userID)).
		Select(messagerecipient.FieldSeq).Only(ctx)
	if err == nil {
		return place{r.Seq, id}, nil
	}
	if !ent.IsNotFound(err) {
		return place{}, classify(err)
	}
	m, err := s.db.client.Message.Query().
		Where(message.ID(id), message.SenderID(userID)).
		Select(message.FieldSenderSeq).Only(ctx)
	if ent.IsNotFound(err) {
		return place{}, fmt.Errorf("message %s in the mailbox of user %d: %w", id, userID, ErrNotFound)
	}
	if err != nil {
		return place{}, classify(err)
	}
	return place{m.SenderSeq, id}, nil
}

// page reads the newest limit messages of userID's mailbox before `from`
// (all when it is zero), newest first. Received and sent messages are read
// on their own indexes in position order ((recipient_id, seq) and
// (sender_id, sender_seq): two index range scans), merged, and that one
// page loaded. Messages without a position (saved before positions
// existed) are read only once those with one run out: by id, then. A
// message the user sent to themself is read as received: its position is
// on the recipient row.
func (s *Messages) page(ctx context.Context, userID int, from place, limit int) ([]StoredMessage, error) {
	recvQ := func() *ent.MessageRecipientQuery {
		return s.db.client.MessageRecipient.Query().Where(messagerecipient.RecipientID(userID))
	}
	sentQ := func() *ent.MessageQuery {
		return s.db.client.Message.Query().Where(message.SenderID(userID), message.Or(message.ToIDIsNil(), message.ToIDNEQ(userID)))
	}
	var entries []mailboxEntry
	if from.seq > 0 || from.id == "" {
		recv, sent := recvQ().Where(messagerecipient.SeqGT(0)), sentQ().Where(message.SenderSeqGT(0))
		if from.seq > 0 {
			recv, sent = recv.Where(messagerecipient.SeqLT(from.seq)), sent.Where(message.SenderSeqLT(from.seq))
		}
		var err error
		entries, err = readEntries(ctx, recv.Order(ent.Desc(messagerecipient.FieldSeq)), sent.Order(ent.Desc(message.FieldSenderSeq)), limit)
		if err != nil {
			return nil, err
		}
	}
	if len(entries) < limit {
		recv, sent := recvQ().Where(messagerecipient.Seq(0)), sentQ().Where(message.SenderSeq(0))
		if from.seq == 0 && from.id != "" {
			recv, sent = recv.Where(messagerecipient.MessageIDLT(from.id)), sent.Where(message.IDLT(from.id))
		}
		older, err := readEntries(ctx, recv.Order(ent.Desc(messagerecipient.FieldMessageID)), sent.Order(ent.Desc(message.FieldID)), limit-len(entries))
		if err != nil {
			return nil, err
		}
		entries = append(entries, older...)
	}
	if len(entries) == 0 {
		return []StoredMessage{}, nil
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.at.id
	}
	rows, err := s.db.client.Message.Query().Where(message.IDIn(ids...)).WithSender().WithTo().All(ctx)
	if err != nil {
		return nil, classify(err)
	}
	byID := make(map[string]*ent.Message, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	out := make([]StoredMessage, 0, len(entries))
	for _, e := range entries {
		r, ok := byID[e.at.id]
		if !ok {
			return nil, fmt.Errorf("history: message %s has a place in user %d's mailbox but no row", e.at.id, userID)
		}
		m := toStored(r)
		m.Received = e.received
		if e.readAt != nil {
			t := e.readAt.UTC()
			m.ReadAt = &t
		}
		out = append(out, m)
	}
	return out, nil
}

// mailboxEntry is one message of a history page as its reader sees it.
type mailboxEntry struct {
	at       place
	received bool
	readAt   *time.Time
}

// readEntries reads up to limit messages from recv and sent, each already
// ordered newest first, and merges them newest first.
func readEntries(ctx context.Context, recv *ent.MessageRecipientQuery, sent *ent.MessageQuery, limit int) ([]mailboxEntry, error) {
	rs, err := recv.Limit(limit).Select(messagerecipient.FieldMessageID, messagerecipient.FieldSeq, messagerecipient.FieldReadAt).All(ctx)
	if err != nil {
		return nil, classify(err)
	}
	ss, err := sent.Limit(limit).Select(message.FieldID, message.FieldSenderSeq).All(ctx)
	if err != nil {
		return nil, classify(err)
	}
	entries := make([]mailboxEntry, 0, len(rs)+len(ss))
	for _, r := range rs {
		entries = append(entries, mailboxEntry{at: place{r.Seq, r.MessageID}, received: true, readAt: r.ReadAt})
	}
	for _, m := range ss {
		entries = append(entries, mailboxEntry{at: place{m.SenderSeq, m.ID}})
	}
	slices.SortFunc(entries, func(a, b mailboxEntry) int { return newerFirst(a.at, b.at) })
	return entries[:min(limit, len(entries))], nil
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
