package storage

import "io/fs"

// WithMigrationFiles makes Migrate apply the migration directory fsys
// (.sql files and atlas.sum) instead of the embedded one.
func WithMigrationFiles(fsys fs.FS) MigrateOption {
	return func(o *migrateOptions) { o.files = fsys }
}

// Classify is classify, for tests that feed it the drivers' own errors.
func Classify(err error) error { return classify(err) }
