// Package ent holds the generated ent client for messager's data model; the
// hand-written schema lives in ./schema. Regenerate with `go generate ./ent`.
package ent

//go:generate go run -mod=mod entgo.io/ent/cmd/ent generate --feature sql/upsert,sql/execquery,sql/modifier ./schema
