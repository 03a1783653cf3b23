package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Message is one message as sent: a direct message to one user, or a
// broadcast to everyone online at send time.
type Message struct {
	ent.Schema
}

// Fields of the Message.
func (Message) Fields() []ent.Field {
	return []ent.Field{
		// id is a UUIDv7 made at the api before the task is enqueued, so it
		// is known to the client at once and sorts by time as text.
		field.String("id").MaxLen(36).NotEmpty().Immutable(),
		field.Int("sender_id").Immutable(),
		// to_id is the recipient of a direct message; nil for a broadcast.
		field.Int("to_id").Optional().Nillable().Immutable(),
		field.Text("body").Immutable(),
		field.Bool("broadcast").Default(false).Immutable(),
		// client_id is the sender's idempotency key.
		field.String("client_id").MaxLen(64).Optional().Nillable().Immutable(),
		field.Time("created_at").Immutable(),
		// sender_seq is the message's position in the sender's own mailbox
		// (see User.last_seq); 0 on rows saved before positions existed.
		field.Int64("sender_seq").Default(0).Immutable(),
	}
}

// Edges of the Message.
// On PostgreSQL their foreign keys are checked by messager_save_batch and
// triggers rather than constraints (ent/migrate/references.go says why).
func (Message) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("sender", User.Type).Ref("sent").Field("sender_id").Unique().Required().Immutable(),
		edge.To("to", User.Type).Field("to_id").Unique().Immutable(),
		edge.To("recipients", MessageRecipient.Type),
	}
}

// Indexes of the Message.
func (Message) Indexes() []ent.Index {
	return []ent.Index{
		// "what I sent, newest first" is an index scan.
		index.Fields("sender_id", "id"),
		index.Fields("sender_id", "client_id").Unique(),
		// Resuming a stream reads a sender's messages in mailbox order.
		index.Fields("sender_id", "sender_seq"),
	}
}
