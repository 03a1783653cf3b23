package storage

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/messager/messager/ent"
	"github.com/messager/messager/ent/message"
	"github.com/messager/messager/ent/messagerecipient"
	"github.com/messager/messager/ent/user"
)

// Head returns the newest position taken in userID's mailbox (0 for none).
func (s *Messages) Head(ctx context.Context, userID int) (int64, error) {
	u, err := s.db.client.User.Query().Where(user.ID(userID)).Select(user.FieldLastSeq).Only(ctx)
	if err != nil {
		return 0, classify(err)
	}
	return u.LastSeq, nil
}

// Resume turns a client's cursor, the id of the last message it got, into
// the position to resume userID's mailbox after. For one of the user's
// messages that is its position, exact. For any other id (not the user's,
// not saved yet, or saved before positions existed) it is conservative:
// just before the earliest position of a message with a greater id, so
// nothing newer than the cursor is skipped, at the cost of repeats.
func (s *Messages) Resume(ctx context.Context, userID int, afterID string) (int64, error) {
	r, err := s.db.client.MessageRecipient.Query().
		Where(messagerecipient.RecipientID(userID), messagerecipient.MessageID(afterID)).
		Select(messagerecipient.FieldSeq).Only(ctx)
	if err == nil && r.Seq > 0 {
		return r.Seq, nil
	}
	if err != nil && !ent.IsNotFound(err) {
		return 0, classify(err)
	}
	m, err := s.db.client.Message.Query().
		Where(message.ID(afterID), message.SenderID(userID)).
		Select(message.FieldSenderSeq).Only(ctx)
	if err == nil && m.SenderSeq > 0 {
		return m.SenderSeq, nil
	}
	if err != nil && !ent.IsNotFound(err) {
		return 0, classify(err)
	}
	head, err := s.Head(ctx, userID)
	if err != nil {
		return 0, err
	}
	earliest := head + 1
	var recv []struct {
		Min *int64 `json:"min"`
	}
	if err := s.db.client.MessageRecipient.Query().
		Where(messagerecipient.RecipientID(userID), messagerecipient.MessageIDGT(afterID), messagerecipient.SeqGT(0)).
		Aggregate(ent.Min(messagerecipient.FieldSeq)).Scan(ctx, &recv); err != nil {
		return 0, classify(err)
	}
	var sent []struct {
		Min *int64 `json:"min"`
	}
	if err := s.db.client.Message.Query().
		Where(message.SenderID(userID), message.IDGT(afterID), message.SenderSeqGT(0)).
		Aggregate(ent.Min(message.FieldSenderSeq)).Scan(ctx, &sent); err != nil {
		return 0, classify(err)
	}
	for _, v := range append(recv, sent...) {
		if v.Min != nil {
			earliest = min(earliest, *v.Min)
		}
	}
	return earliest - 1, nil
}

// Since returns up to limit of userID's messages, sent or received, at
// positions after `after` and, when upto > 0, before upto, in position
// order: what a stream missed.
func (s *Messages) Since(ctx context.Context, userID int, after, upto int64, limit int) ([]MailboxEntry, error) {
	recvQ := s.db.client.MessageRecipient.Query().Where(messagerecipient.RecipientID(userID), messagerecipient.SeqGT(after))
	sentQ := s.db.client.Message.Query().Where(message.SenderID(userID), message.SenderSeqGT(after))
	if upto > 0 {
		recvQ = recvQ.Where(messagerecipient.SeqLT(upto))
		sentQ = sentQ.Where(message.SenderSeqLT(upto))
	}
	recv, err := recvQ.Order(ent.Asc(messagerecipient.FieldSeq)).Limit(limit).
		Select(messagerecipient.FieldMessageID, messagerecipient.FieldSeq, messagerecipient.FieldReadAt).All(ctx)
	if err != nil {
		return nil, classify(err)
	}
	sent, err := sentQ.Order(ent.Asc(message.FieldSenderSeq)).Limit(limit).Select(message.FieldID, message.FieldSenderSeq).All(ctx)
	if err != nil {
		return nil, classify(err)
	}
	type found struct {
		id       string
		seq      int64
		received bool
		readAt   *time.Time
	}
	places := make([]found, 0, len(recv)+len(sent))
	for _, r := range recv {
		places = append(places, found{id: r.MessageID, seq: r.Seq, received: true, readAt: r.ReadAt})
	}
	for _, m := range sent {
		places = append(places, found{id: m.ID, seq: m.SenderSeq})
	}
	slices.SortFunc(places, func(a, b found) int { return cmp.Compare(a.seq, b.seq) })
	places = places[:min(limit, len(places))]
	if len(places) == 0 {
		return []MailboxEntry{}, nil
	}
	ids := make([]string, len(places))
	for i, p := range places {
		ids[i] = p.id
	}
	rows, err := s.db.client.Message.Query().Where(message.IDIn(ids...)).WithSender().WithTo().All(ctx)
	if err != nil {
		return nil, classify(err)
	}
	byID := make(map[string]*ent.Message, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	out := make([]MailboxEntry, 0, len(places))
	for _, p := range places {
		r, ok := byID[p.id]
		if !ok {
			return nil, errors.New("mailbox: message row missing for position")
		}
		m := toStored(r)
		m.Received = p.received
		if p.readAt != nil {
			t := p.readAt.UTC()
			m.ReadAt = &t
		}
		out = append(out, MailboxEntry{Seq: p.seq, Message: m})
	}
	return out, nil
}
