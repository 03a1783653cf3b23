package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
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
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("sent", Message.Type),
		edge.To("received", MessageRecipient.Type),
	}
}

// Indexes of the User.
func (User) Indexes() []ent.Index {
	return []ent.Index{index.Fields("usercode")}
}
