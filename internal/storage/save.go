package storage

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/messager/messager/ent/message"
	"github.com/messager/messager/ent/messagerecipient"
)

// Position is a message's place in one user's mailbox: every message a
// user sends or receives takes the next number of that user's sequence in
// the transaction that saves it, while holding the user's row lock. A
// position therefore becomes visible only once every smaller one of the
// same user is committed (or was never used), whatever the message ids
// say; streams resume and fill gaps by position.
type Position struct {
	UserID int
	Seq    int64
}

// Saved is what SaveBatch did with one message.
type Saved struct {
	// Fresh is true when the message is stored, now or by an earlier
	// attempt, and is to be delivered; false when its client_id belongs to
	// another message of the same sender (a duplicate send).
	Fresh bool
	// Audience is everyone who sees the message with its position in
	// their mailbox: the recipients, then the sender (unless the sender is
	// also a recipient). Empty when not Fresh.
	Audience []Position
}

// Chunks keep multi-row statements well under SQLite's 32,766 and
// PostgreSQL's 65,535 bind parameters.
const (
	recipientChunk = 2000 // 4 parameters a row
	messageChunk   = 500  // 8 parameters a row
	idChunk        = 1000 // 2 parameters an id at most
)

// SaveBatch writes several messages and all their recipients in one
// transaction (a group commit: one commit for many messages) and gives
// each message a position in the mailbox of everyone who sees it.
//
// It is idempotent per message: a message stored by an earlier attempt is
// not written again and keeps the positions it was given then, so a retried
// delivery republishes exactly what the first attempt did, and streams drop
// it as already seen. Positions are taken under the users' row locks,
// locked in id order so that concurrent batches never deadlock.
//
// On PostgreSQL all of it is one call of the messager_save_batch function
// (see its migration), so one round trip; on SQLite, which runs in
// process, it is a transaction of several statements.
func (s *Messages) SaveBatch(ctx context.Context, ms []NewMessage) ([]Saved, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	if s.db.dialect == dialect.Postgres {
		return s.saveBatchPostgres(ctx, ms)
	}
	tx, err := s.db.pool.BeginTx(ctx, nil)
	if err != nil {
		return nil, classify(err)
	}
	defer func() { _ = tx.Rollback() }()
	w := batchWriter{tx: tx, b: entsql.Dialect(s.db.dialect)}

	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	earlier, err := w.senderSeqs(ctx, ids)
	if err != nil {
		return nil, err
	}
	// The audience of each message not stored yet, then its positions.
	audiences := make([][]Position, len(ms))
	counts := map[int]int64{}
	for i, m := range ms {
		if _, done := earlier[m.ID]; done {
			continue
		}
		audiences[i] = audienceOf(m)
		for _, p := range audiences[i] {
			counts[p.UserID]++
		}
	}
	next, err := w.takePositions(ctx, counts)
	if err != nil {
		return nil, err
	}
	for _, aud := range audiences {
		for j := range aud {
			aud[j].Seq = next[aud[j].UserID]
			next[aud[j].UserID]++
		}
	}
	inserted, err := w.insertMessages(ctx, ms, audiences, earlier)
	if err != nil {
		return nil, err
	}
	if err := w.insertRecipients(ctx, ms, audiences, inserted); err != nil {
		return nil, err
	}

	saved := make([]Saved, len(ms))
	for i, m := range ms {
		if inserted[m.ID] {
			saved[i] = Saved{Fresh: true, Audience: audiences[i]}
			continue
		}
		// Stored by an earlier or a concurrent attempt, or a client_id
		// clash. The positions taken for it above stay unused: readers
		// treat them as empty places.
		if saved[i], err = w.storedSave(ctx, m, earlier); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, classify(err)
	}
	return saved, nil
}

// saveBatchPostgres is SaveBatch in one call of messager_save_batch. It
// works out here who sees what and in which order (each user's entries
// are ranked 1, 2, … in message order); the function locks the users,
// reserves that many positions of each, inserts, and returns each user's
// last position before the call, from which every entry's position
// follows. Messages the function did not insert were stored by an earlier
// or a concurrent attempt, or clash on client_id: what was stored for
// them is read afterwards (stored rows never change), and the positions
// reserved for them stay unused.
func (s *Messages) saveBatchPostgres(ctx context.Context, ms []NewMessage) ([]Saved, error) {
	n := len(ms)
	var (
		ids, bodies = make([]string, n), make([]string, n)
		clientIDs   = make([]*string, n)
		senders     = make([]int64, n)
		tos         = make([]*int64, n)
		broadcasts  = make([]bool, n)
		created     = make([]time.Time, n)
		senderEntry = make([]int32, n)
		audiences   = make([][]Position, n)
		first       = make([]int, n)  // each message's first audience entry
		userIdx     = map[int]int32{} // user id → 1-based index into uIDs
		uIDs, uN    []int64
		aMsg, aUIdx []int32
		aRank       []int64
		aRecipient  []bool
	)
	for i, m := range ms {
		audiences[i] = audienceOf(m)
		for _, p := range audiences[i] {
			if _, ok := userIdx[p.UserID]; !ok {
				userIdx[p.UserID] = 0
				uIDs = append(uIDs, int64(p.UserID))
			}
		}
	}
	slices.Sort(uIDs)
	uN = make([]int64, len(uIDs))
	for k, u := range uIDs {
		userIdx[int(u)] = int32(k + 1)
	}
	for i, m := range ms {
		ids[i], bodies[i], senders[i], broadcasts[i], created[i] = m.ID, m.Body, int64(m.SenderID), m.Broadcast, m.CreatedAt.UTC()
		if m.ClientID != "" {
			clientIDs[i] = &m.ClientID
		}
		if m.ToID != nil {
			to := int64(*m.ToID)
			tos[i] = &to
		}
		first[i] = len(aMsg)
		for _, p := range audiences[i] {
			k := userIdx[p.UserID]
			uN[k-1]++
			copyOfSender := isSenderCopy(m, p)
			if copyOfSender {
				senderEntry[i] = int32(len(aMsg) + 1)
			}
			aMsg, aUIdx, aRank, aRecipient = append(aMsg, int32(i+1)), append(aUIdx, k), append(aRank, uN[k-1]), append(aRecipient, !copyOfSender)
		}
	}
	var baseList, insertedList string
	err := s.db.pool.QueryRowContext(ctx, `SELECT o_base, o_inserted FROM messager_save_batch($1::varchar[], $2::bigint[], $3::bigint[], $4::text[], $5::boolean[], $6::varchar[], $7::timestamptz[], $8::integer[], $9::bigint[], $10::bigint[], $11::integer[], $12::integer[], $13::bigint[], $14::boolean[], $15)`,
		ids, senders, tos, bodies, broadcasts, clientIDs, created, senderEntry, uIDs, uN, aMsg, aUIdx, aRank, aRecipient, time.Now().UTC()).Scan(&baseList, &insertedList)
	if err != nil {
		return nil, classify(err)
	}
	base, err := parseInts(baseList)
	if err != nil || len(base) != len(uIDs) {
		return nil, fmt.Errorf("messager_save_batch: %d positions for %d users (%v)", len(base), len(uIDs), err)
	}
	inserted, err := parseInts(insertedList)
	if err != nil {
		return nil, fmt.Errorf("messager_save_batch: inserted messages: %w", err)
	}
	saved := make([]Saved, n)
	for _, i := range inserted {
		aud := audiences[i-1]
		for j := range aud {
			k := first[i-1] + j
			aud[j].Seq = base[aUIdx[k]-1] + aRank[k]
		}
		saved[i-1] = Saved{Fresh: true, Audience: aud}
	}
	w := batchWriter{postgres: true, tx: s.db.pool, b: entsql.Dialect(dialect.Postgres)}
	for i, m := range ms {
		if saved[i].Fresh {
			continue
		}
		if saved[i], err = w.storedSave(ctx, m, nil); err != nil {
			return nil, err
		}
	}
	return saved, nil
}

// parseInts reads messager_save_batch's comma-separated lists.
func parseInts(list string) ([]int64, error) {
	if list == "" {
		return nil, nil
	}
	parts := strings.Split(list, ",")
	out := make([]int64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// storedSave is what SaveBatch reports for m when it did not insert it:
// Fresh with the positions stored for it when it is stored (earlier, if
// not nil, holds the sender positions already looked up), else nothing to
// deliver (another message of the sender holds its client_id).
func (w batchWriter) storedSave(ctx context.Context, m NewMessage, earlier map[string]int64) (Saved, error) {
	seq, stored := earlier[m.ID]
	if !stored {
		again, err := w.senderSeqs(ctx, []string{m.ID})
		if err != nil {
			return Saved{}, err
		}
		seq, stored = again[m.ID]
	}
	if !stored {
		return Saved{}, nil
	}
	aud, err := w.storedAudience(ctx, m, seq)
	if err != nil {
		return Saved{}, err
	}
	return Saved{Fresh: true, Audience: aud}, nil
}

// audienceOf lists who sees m: its recipients once each, then the sender
// unless the sender is one of them.
func audienceOf(m NewMessage) []Position {
	rs := uniqueRecipients(m.Recipients)
	aud := make([]Position, 0, len(rs)+1)
	for _, r := range rs {
		aud = append(aud, Position{UserID: r})
	}
	if !slices.Contains(rs, m.SenderID) {
		aud = append(aud, Position{UserID: m.SenderID})
	}
	return aud
}

// isSenderCopy reports whether p is m's sender's own copy (kept on the
// message row as sender_seq, not as a recipient row).
func isSenderCopy(m NewMessage, p Position) bool {
	return p.UserID == m.SenderID && !slices.Contains(m.Recipients, m.SenderID)
}

// batchWriter runs SaveBatch's statements: on SQLite in one transaction,
// on PostgreSQL only the reads that follow messager_save_batch.
type batchWriter struct {
	postgres bool
	tx       execQuerier
	b        *entsql.DialectBuilder
}

// senderSeqs returns the sender's position of each of ids that is stored.
func (w batchWriter) senderSeqs(ctx context.Context, ids []string) (map[string]int64, error) {
	out := make(map[string]int64)
	for start := 0; start < len(ids); start += idChunk {
		chunk := ids[start:min(start+idChunk, len(ids))]
		q, args := `SELECT id, sender_seq FROM messages WHERE id = ANY($1::varchar[])`, []any{chunk}
		if !w.postgres {
			q, args = w.b.Select(message.FieldID, message.FieldSenderSeq).From(w.b.Table(message.Table)).Where(entsql.In(message.FieldID, anys(chunk)...)).Query()
		}
		if err := scanPairs(ctx, w.tx, q, args, func(id string, seq int64) { out[id] = seq }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// takePositions reserves counts[u] consecutive positions in each user's
// mailbox and returns the first of each. SQLite runs one writing
// transaction at a time (BEGIN IMMEDIATE), so the update alone orders
// the positions; on PostgreSQL messager_save_batch locks the users first.
func (w batchWriter) takePositions(ctx context.Context, counts map[int]int64) (map[int]int64, error) {
	users := make([]int, 0, len(counts))
	for u := range counts {
		users = append(users, u)
	}
	slices.Sort(users)
	next := make(map[int]int64, len(users))
	for start := 0; start < len(users); start += idChunk {
		chunk := users[start:min(start+idChunk, len(users))]
		var args []any
		var sb strings.Builder
		sb.WriteString("UPDATE users SET last_seq = last_seq + CASE id")
		for _, u := range chunk {
			sb.WriteString(" WHEN ? THEN ?")
			args = append(args, u, counts[u])
		}
		sb.WriteString(" END WHERE id IN (?" + strings.Repeat(", ?", len(chunk)-1) + ") RETURNING id, last_seq")
		for _, u := range chunk {
			args = append(args, u)
		}
		err := scanPairs(ctx, w.tx, sb.String(), args, func(id int, last int64) { next[id] = last - counts[id] + 1 })
		if err != nil {
			return nil, err
		}
	}
	if len(next) != len(counts) {
		return nil, fmt.Errorf("%w: a sender or recipient does not exist", ErrRejected)
	}
	return next, nil
}

// insertMessages inserts the messages not stored earlier and returns the
// ids it inserted; the others clash on client_id or were inserted by a
// concurrent attempt.
func (w batchWriter) insertMessages(ctx context.Context, ms []NewMessage, audiences [][]Position, earlier map[string]int64) (map[string]bool, error) {
	inserted := make(map[string]bool, len(ms))
	var todo []int
	for i, m := range ms {
		if _, done := earlier[m.ID]; !done {
			todo = append(todo, i)
		}
	}
	for start := 0; start < len(todo); start += messageChunk {
		ins := w.b.Insert(message.Table).
			Columns(message.FieldID, message.FieldSenderID, message.FieldToID, message.FieldBody, message.FieldBroadcast, message.FieldClientID, message.FieldCreatedAt, message.FieldSenderSeq)
		for _, i := range todo[start:min(start+messageChunk, len(todo))] {
			m := ms[i]
			var clientID, toID any
			if m.ClientID != "" {
				clientID = m.ClientID
			}
			if m.ToID != nil {
				toID = *m.ToID
			}
			var senderSeq int64
			for _, p := range audiences[i] {
				if isSenderCopy(m, p) {
					senderSeq = p.Seq
				}
			}
			ins.Values(m.ID, m.SenderID, toID, m.Body, m.Broadcast, clientID, m.CreatedAt.UTC(), senderSeq)
		}
		// RETURNING names the rows this statement inserted.
		q, args := ins.OnConflict(entsql.DoNothing()).Returning(message.FieldID).Query()
		if err := collectIDs(ctx, w.tx, q, args, inserted); err != nil {
			return nil, err
		}
	}
	return inserted, nil
}

// insertRecipients writes the recipient rows, with their positions, of the
// messages inserted now (SQLite). Those rows cannot exist yet: no conflict
// clause.
func (w batchWriter) insertRecipients(ctx context.Context, ms []NewMessage, audiences [][]Position, inserted map[string]bool) error {
	now := time.Now().UTC()
	var (
		mids       []string
		uids, seqs []int64
	)
	for i, m := range ms {
		if !inserted[m.ID] {
			continue
		}
		for _, p := range audiences[i] {
			if !isSenderCopy(m, p) {
				mids, uids, seqs = append(mids, m.ID), append(uids, int64(p.UserID)), append(seqs, p.Seq)
			}
		}
	}
	if len(mids) == 0 {
		return nil
	}
	for start := 0; start < len(mids); start += recipientChunk {
		ins := w.b.Insert(messagerecipient.Table).Columns(messagerecipient.FieldMessageID, messagerecipient.FieldRecipientID, messagerecipient.FieldSeq, messagerecipient.FieldCreatedAt)
		for j := start; j < min(start+recipientChunk, len(mids)); j++ {
			ins.Values(mids[j], uids[j], seqs[j], now)
		}
		q, args := ins.Query()
		if _, err := w.tx.ExecContext(ctx, q, args...); err != nil {
			return classify(err)
		}
	}
	return nil
}

// storedAudience reads the positions that a message stored by an earlier
// attempt was given, in audienceOf's order.
func (w batchWriter) storedAudience(ctx context.Context, m NewMessage, senderSeq int64) ([]Position, error) {
	seqs := map[int]int64{}
	rs := uniqueRecipients(m.Recipients)
	for start := 0; start < len(rs); start += idChunk {
		chunk := rs[start:min(start+idChunk, len(rs))]
		// (message_id, recipient_id) is the unique index: no scan.
		q, args := w.b.Select(messagerecipient.FieldRecipientID, messagerecipient.FieldSeq).From(w.b.Table(messagerecipient.Table)).
			Where(entsql.And(entsql.EQ(messagerecipient.FieldMessageID, m.ID), entsql.In(messagerecipient.FieldRecipientID, anys(chunk)...))).Query()
		if err := scanPairs(ctx, w.tx, q, args, func(uid int, seq int64) { seqs[uid] = seq }); err != nil {
			return nil, err
		}
	}
	var out []Position
	for _, p := range audienceOf(m) {
		seq, ok := seqs[p.UserID]
		if isSenderCopy(m, p) {
			seq, ok = senderSeq, true
		}
		if ok {
			out = append(out, Position{UserID: p.UserID, Seq: seq})
		}
	}
	return out, nil
}

// scanPairs runs q and hands each (key, int64) row to each.
func scanPairs[K any](ctx context.Context, db querier, q string, args []any, each func(K, int64)) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k K
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return classify(err)
		}
		each(k, v)
	}
	return classify(rows.Err())
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
