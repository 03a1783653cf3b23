package storage

import "io/fs"

// WithMigrationFiles makes Migrate apply the migration directory fsys
// (.sql files and atlas.sum) instead of the embedded one.
func WithMigrationFiles(fsys fs.FS) MigrateOption {
	return func(o *migrateOptions) { o.files = fsys }
}
