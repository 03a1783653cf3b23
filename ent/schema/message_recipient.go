package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// MessageRecipient is one delivery of a message to one user, with its read state.
type MessageRecipient struct {
	ent.Schema
}

// Fields of the MessageRecipient.
func (MessageRecipient) Fields() []ent.Field {
	return []ent.Field{
		field.String("message_id").MaxLen(36).Immutable(),
		field.Int("recipient_id").Immutable(),
		field.Time("read_at").Optional().Nillable(),
		// seq is the message's position in the recipient's mailbox (see
		// User.last_seq); 0 on rows saved before positions existed.
		field.Int64("seq").Default(0).Immutable(),
		field.Time("created_at").Default(func() time.Time { return time.Now().UTC() }).Immutable(),
	}
}

// Edges of the MessageRecipient.
// On PostgreSQL their foreign keys are checked by messager_save_batch and
// triggers rather than constraints (ent/migrate/references.go says why).
func (MessageRecipient) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("message", Message.Type).Ref("recipients").Field("message_id").Unique().Required().Immutable(),
		edge.From("recipient", User.Type).Ref("received").Field("recipient_id").Unique().Required().Immutable(),
	}
}

// Indexes of the MessageRecipient.
func (MessageRecipient) Indexes() []ent.Index {
	return []ent.Index{
		// A delivery by message: read receipts, a retried save reading
		// the positions it gave, a history cursor. Unique, so a retried
		// task cannot duplicate a row. A message's rows are inserted
		// together and message ids grow with time (UUIDv7), so they go in
		// at the tree's right edge, as one run of equal leading keys.
		// Keyed by recipient first, as it was, each of a broadcast's rows
		// went into another part of the tree: a quarter of what
		// PostgreSQL spent saving one (docs/benchmarks.md, session 10).
		index.Fields("message_id", "recipient_id").Unique(),
		// A recipient's rows in mailbox order: history pages (newest
		// first) and resuming a stream (oldest first).
		index.Fields("recipient_id", "seq"),
	}
}
