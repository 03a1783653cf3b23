package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"

	"github.com/messager/messager/ent"
	"github.com/messager/messager/ent/message"
	"github.com/messager/messager/ent/messagerecipient"
	"github.com/messager/messager/pkg/events"
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

// recipientChunk keeps a multi-row insert well under SQLite's 32,766 and
// PostgreSQL's 65,535 bind parameters (4 per row).
const recipientChunk = 2000

// Save writes m and its recipient rows in one transaction, idempotently: a
// retry of the same message writes nothing new. It returns false when the
// sender already has a different message with the same client_id — a
// duplicate send that must not be delivered.
func (s *Messages) Save(ctx context.Context, m NewMessage) (bool, error) {
	fresh, err := s.SaveBatch(ctx, []NewMessage{m})
	if err != nil {
		return false, err
	}
	return fresh[0], nil
}

// messageChunk keeps a multi-row message insert well under the bind
// parameter limits (7 per row).
const messageChunk = 500

// SaveBatch writes several messages and all their recipients in one
// transaction (a group commit: one commit for many messages), with Save's
// idempotency per message. fresh[i] reports whether ms[i] is to be
// delivered: true when it was stored now or by an earlier attempt, false
// when its client_id belongs to another message of the same sender.
func (s *Messages) SaveBatch(ctx context.Context, ms []NewMessage) (fresh []bool, err error) {
	if s.db.Dialect == dialect.Postgres {
		return s.saveBatchPostgres(ctx, ms)
	}
	tx, err := s.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return nil, classify(err)
	}
	defer func() { _ = tx.Rollback() }()
	b := entsql.Dialect(s.db.Dialect)

	stored := make(map[string]bool, len(ms))
	for start := 0; start < len(ms); start += messageChunk {
		chunk := ms[start:min(start+messageChunk, len(ms))]
		ins := b.Insert(message.Table).
			Columns(message.FieldID, message.FieldSenderID, message.FieldToID, message.FieldBody, message.FieldBroadcast, message.FieldClientID, message.FieldCreatedAt)
		for _, m := range chunk {
			var clientID, toID any
			if m.ClientID != "" {
				clientID = m.ClientID
			}
			if m.ToID != nil {
				toID = *m.ToID
			}
			ins.Values(m.ID, m.SenderID, toID, m.Body, m.Broadcast, clientID, m.CreatedAt.UTC())
		}
		// RETURNING names the rows this statement inserted; the others
		// exist already (a retry) or clash on client_id (a duplicate).
		q, args := ins.OnConflict(entsql.DoNothing()).Returning(message.FieldID).Query()
		if err := collectIDs(ctx, tx, q, args, stored); err != nil {
			return nil, err
		}
	}
	var missing []any
	for _, m := range ms {
		if !stored[m.ID] {
			missing = append(missing, m.ID)
		}
	}
	if len(missing) > 0 {
		q, args := b.Select(message.FieldID).From(b.Table(message.Table)).Where(entsql.In(message.FieldID, missing...)).Query()
		if err := collectIDs(ctx, tx, q, args, stored); err != nil {
			return nil, err
		}
	}

	now := time.Now().UTC()
	ins, rows := b.Insert(messagerecipient.Table).Columns(messagerecipient.FieldMessageID, messagerecipient.FieldRecipientID, messagerecipient.FieldCreatedAt), 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		q, args := ins.OnConflict(entsql.DoNothing()).Query()
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return classify(err)
		}
		ins, rows = b.Insert(messagerecipient.Table).Columns(messagerecipient.FieldMessageID, messagerecipient.FieldRecipientID, messagerecipient.FieldCreatedAt), 0
		return nil
	}
	fresh = make([]bool, len(ms))
	for i, m := range ms {
		if !stored[m.ID] {
			continue
		}
		fresh[i] = true
		for _, rid := range m.Recipients {
			ins.Values(m.ID, rid, now)
			if rows++; rows == recipientChunk {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, classify(err)
	}
	return fresh, nil
}

// saveBatchPG is SaveBatch for PostgreSQL as one statement, so a batch costs
// one round trip (an implicit transaction) instead of five: BEGIN, insert
// messages, look up the ones that were there already, insert recipients,
// COMMIT. The rows travel as arrays, so the statement text never changes
// and pgx prepares it once per connection; PostgreSQL then runs it
// without planning it again (planning this statement took ~2 ms here,
// more than running it for a small batch). Its plan must therefore not
// depend on table sizes, which is why the lookup of messages stored by an
// earlier attempt is a separate query (saveBatchPGExisting): that one is
// only needed when a message was not inserted, which is rare.
//
// A message whose insert does nothing either exists already (a retry: its
// recipients were committed with it) or clashes on client_id (a duplicate:
// it must get none), so recipients are inserted only for messages inserted
// now. Those rows cannot exist yet, so the recipient insert needs no ON
// CONFLICT clause (its speculative insertion made each row ~60% dearer
// here); recipients are de-duplicated per message before the statement.
const saveBatchPG = `
WITH input AS (
	SELECT * FROM unnest($1::varchar[], $2::bigint[], $3::bigint[], $4::text[], $5::boolean[], $6::varchar[], $7::timestamptz[])
		AS t(id, sender_id, to_id, body, broadcast, client_id, created_at)
), inserted AS (
	INSERT INTO messages (id, sender_id, to_id, body, broadcast, client_id, created_at)
	SELECT id, sender_id, to_id, body, broadcast, client_id, created_at FROM input
	ON CONFLICT DO NOTHING
	RETURNING id
), recipients AS (
	INSERT INTO message_recipients (message_id, recipient_id, created_at)
	SELECT r.message_id, r.recipient_id, $10 FROM unnest($8::varchar[], $9::bigint[]) AS r(message_id, recipient_id)
	WHERE r.message_id IN (SELECT id FROM inserted)
)
SELECT id FROM inserted`

// saveBatchPGExisting finds which of the messages saveBatchPG did not
// insert were stored by an earlier attempt. Planned per execution
// (QueryExecModeExec), since a plan cached while the table was small
// would scan it whole once it is large.
const saveBatchPGExisting = `SELECT id FROM messages WHERE id = ANY($1::varchar[])`

func (s *Messages) saveBatchPostgres(ctx context.Context, ms []NewMessage) ([]bool, error) {
	var (
		ids, bodies = make([]string, len(ms)), make([]string, len(ms))
		senders     = make([]int64, len(ms))
		tos         = make([]*int64, len(ms))
		broadcasts  = make([]bool, len(ms))
		clientIDs   = make([]*string, len(ms))
		createdAt   = make([]time.Time, len(ms))
		rMessages   []string
		rUsers      []int64
	)
	for i, m := range ms {
		ids[i], bodies[i], senders[i], broadcasts[i], createdAt[i] = m.ID, m.Body, int64(m.SenderID), m.Broadcast, m.CreatedAt.UTC()
		if m.ToID != nil {
			to := int64(*m.ToID)
			tos[i] = &to
		}
		if m.ClientID != "" {
			clientIDs[i] = &m.ClientID
		}
		for _, r := range uniqueRecipients(m.Recipients) {
			rMessages = append(rMessages, m.ID)
			rUsers = append(rUsers, int64(r))
		}
	}
	stored := make(map[string]bool, len(ms))
	if err := collectIDs(ctx, s.db.SQL, saveBatchPG, []any{ids, senders, tos, bodies, broadcasts, clientIDs, createdAt, rMessages, rUsers, time.Now().UTC()}, stored); err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range ids {
		if !stored[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		if err := collectIDs(ctx, s.db.SQL, saveBatchPGExisting, []any{pgx.QueryExecModeExec, missing}, stored); err != nil {
			return nil, err
		}
	}
	fresh := make([]bool, len(ms))
	for i, m := range ms {
		fresh[i] = stored[m.ID]
	}
	return fresh, nil
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
func (s *Messages) History(ctx context.Context, userID int, before string, limit int) ([]events.Message, error) {
	return s.page(ctx, userID, before, limit, false)
}

// After returns up to limit of userID's messages with an id after `after`,
// oldest first: what a reconnecting client missed.
func (s *Messages) After(ctx context.Context, userID int, after string, limit int) ([]events.Message, error) {
	return s.page(ctx, userID, after, limit, true)
}

// page reads the ids of sent and received messages on their own indexes
// (two index range scans), merges them, then loads that one page.
func (s *Messages) page(ctx context.Context, userID int, cursor string, limit int, ascending bool) ([]events.Message, error) {
	sentQ := s.db.Ent.Message.Query().Where(message.SenderID(userID))
	recvQ := s.db.Ent.MessageRecipient.Query().Where(messagerecipient.RecipientID(userID))
	if ascending {
		sentQ = sentQ.Where(message.IDGT(cursor)).Order(ent.Asc(message.FieldID))
		recvQ = recvQ.Where(messagerecipient.MessageIDGT(cursor)).Order(ent.Asc(messagerecipient.FieldMessageID))
	} else {
		if cursor != "" {
			sentQ = sentQ.Where(message.IDLT(cursor))
			recvQ = recvQ.Where(messagerecipient.MessageIDLT(cursor))
		}
		sentQ = sentQ.Order(ent.Desc(message.FieldID))
		recvQ = recvQ.Order(ent.Desc(messagerecipient.FieldMessageID))
	}
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
	if ascending {
		ids = ids[:min(limit, len(ids))]
	} else {
		ids = ids[max(0, len(ids)-limit):]
	}
	if len(ids) == 0 {
		return []events.Message{}, nil
	}
	rows, err := s.db.Ent.Message.Query().Where(message.IDIn(ids...)).WithSender().WithTo().All(ctx)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]events.Message, 0, len(rows))
	for _, r := range rows {
		m := toEvent(r)
		_, m.Received = readAt[r.ID]
		if ra, ok := readAt[r.ID]; ok && ra != nil {
			t := ra.UTC()
			m.ReadAt = &t
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if ascending {
			return out[i].ID < out[j].ID
		}
		return out[i].ID > out[j].ID
	})
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

func toEvent(r *ent.Message) events.Message {
	m := events.Message{
		ID:        r.ID,
		Body:      r.Body,
		Broadcast: r.Broadcast,
		CreatedAt: r.CreatedAt.UTC(),
		Status:    events.StatusDelivered,
	}
	if s := r.Edges.Sender; s != nil {
		m.Sender = events.UserRef{Usercode: s.Usercode, Username: s.Username}
	}
	if t := r.Edges.To; t != nil {
		code := t.Usercode
		m.To = &code
	}
	return m
}

// MarkRead sets read_at on userID's delivery of messageID if unset. It
// returns the sender's id, whether the caller is a recipient at all, and
// whether this call changed anything (so a read receipt is sent once).
func (s *Messages) MarkRead(ctx context.Context, messageID string, userID int, at time.Time) (senderID int, found, changed bool, err error) {
	n, err := s.db.Ent.MessageRecipient.Update().
		Where(messagerecipient.MessageID(messageID), messagerecipient.RecipientID(userID), messagerecipient.ReadAtIsNil()).
		SetReadAt(at.UTC()).Save(ctx)
	if err != nil {
		return 0, false, false, classify(err)
	}
	if n == 0 {
		exists, err := s.db.Ent.MessageRecipient.Query().
			Where(messagerecipient.MessageID(messageID), messagerecipient.RecipientID(userID)).Exist(ctx)
		if err != nil {
			return 0, false, false, classify(err)
		}
		if !exists {
			return 0, false, false, nil
		}
	}
	m, err := s.db.Ent.Message.Query().Where(message.ID(messageID)).Select(message.FieldSenderID).Only(ctx)
	if err != nil {
		return 0, false, false, classify(err)
	}
	return m.SenderID, true, n > 0, nil
}

// Unread counts userID's received messages not yet read.
func (s *Messages) Unread(ctx context.Context, userID int) (int, error) {
	n, err := s.db.Ent.MessageRecipient.Query().
		Where(messagerecipient.RecipientID(userID), messagerecipient.ReadAtIsNil()).Count(ctx)
	if err != nil {
		return 0, classify(err)
	}
	return n, nil
}

// Count returns how many messages are stored (for tests and the load tool's checks).
func (s *Messages) Count(ctx context.Context) (int, error) {
	n, err := s.db.Ent.Message.Query().Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count messages: %w", classify(err))
	}
	return n, nil
}
