package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// User is a registered account.
type User struct {
	ent.Schema
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").MaxLen(32).NotEmpty(),
		// username_key is the lower-cased username; its unique index makes
		// usernames unique ignoring case on every database.
		field.String("username_key").MaxLen(32).NotEmpty().Unique(),
		field.String("email").MaxLen(254).NotEmpty(),
		field.String("password_hash").Sensitive().NotEmpty(),
		field.String("usercode").MaxLen(6).MinLen(6).Unique().Immutable(),
		field.Time("created_at").Default(func() time.Time { return time.Now().UTC() }).Immutable(),
		// admin grants the task monitor. Only an operator sets it (`messager
		// admin grant`, or the first account under `messager all`); no API
		// lets a user set it on themself.
		field.Bool("admin").Default(false),
		// last_seq is the newest position in this user's mailbox: every
		// message the user sends or receives takes the next one, under this
		// row's lock, in the transaction that saves it. So positions become
		// visible in the order they were taken, and a stream resumes without
		// a gap however late a message is saved after newer ids.
		field.Int64("last_seq").Default(0),
		// last_seen_at is when the user last went offline (stream closed,
		// presence lapsed, logout): "last seen" for people who are offline.
		// Presence keeps who is online now in Redis; this outlives Redis.
		field.Time("last_seen_at").Optional().Nillable(),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("sent", Message.Type),
		edge.To("received", MessageRecipient.Type),
	}
}

// Indexes of the User: none besides the fields' own. usercode's Unique()
// already makes the index that lookups by usercode use; a plain index on
// it as well would only cost every insert a second write.
func (User) Indexes() []ent.Index {
	return nil
}
