package migrate

// Not generated: the foreign keys PostgreSQL enforces without a constraint.

import (
	"slices"

	atlasschema "ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
)

// CheckedReferences are the foreign keys ent/schema declares that, on
// PostgreSQL, are no constraints: messager_save_batch checks them set-wise
// and triggers guard every other write (migration
// 20261202153000_references_checked_setwise.sql says how). A constraint
// checked each recipient row with a query of its own, which cost a
// broadcast more than the rest of its recipient rows' insert.
var CheckedReferences = []string{
	"messages_users_sent",
	"messages_users_to",
	"message_recipients_messages_recipients",
	"message_recipients_users_received",
}

// WithCheckedReferences is the diff option for dialect: on PostgreSQL it
// leaves CheckedReferences out of the schema ent wants, so a diff against
// the migrated database (the generator's, the schema test's) does not put
// the constraints back. Elsewhere it changes nothing.
func WithCheckedReferences(dia string) schema.MigrateOption {
	return schema.WithDiffHook(func(next schema.Differ) schema.Differ {
		if dia != dialect.Postgres {
			return next
		}
		return schema.DiffFunc(func(current, desired *atlasschema.Schema) ([]atlasschema.Change, error) {
			for _, t := range desired.Tables {
				t.ForeignKeys = slices.DeleteFunc(t.ForeignKeys, func(fk *atlasschema.ForeignKey) bool {
					return slices.Contains(CheckedReferences, fk.Symbol)
				})
			}
			return next.Diff(current, desired)
		})
	})
}
