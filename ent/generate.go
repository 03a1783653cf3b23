// Package ent holds the generated ent client for messager's data model; the
// hand-written schema lives in ./schema. Regenerate with `go generate ./ent`;
// after a schema change name the migration it needs:
// `MIGRATION_NAME=add_x go generate ./ent` (see ./migrate/gen).
package ent

//go:generate go run -mod=mod entgo.io/ent/cmd/ent generate --feature sql/upsert,sql/execquery,sql/modifier ./schema
//go:generate go run -mod=mod ./migrate/gen -dir migrate/migrations
