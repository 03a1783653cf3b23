// Package migrations embeds messager's versioned schema migrations: one
// Atlas-format directory per dialect (<version>_<name>.sql files and the
// atlas.sum that seals them), written by `go generate ./ent` and applied
// by internal/storage. The files are history: never edit one that was released;
// change ent/schema and generate a new one.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"

	"entgo.io/ent/dialect"
)

//go:embed postgres/*.sql postgres/atlas.sum sqlite/*.sql sqlite/atlas.sum
var files embed.FS

// FS returns the migration directory for an ent dialect
// (dialect.Postgres or dialect.SQLite).
func FS(dia string) (fs.FS, error) {
	var name string
	switch dia {
	case dialect.Postgres:
		name = "postgres"
	case dialect.SQLite:
		name = "sqlite"
	default:
		return nil, fmt.Errorf("no migrations for dialect %q", dia)
	}
	return fs.Sub(files, name)
}
