package main

import (
	"os"
	"path/filepath"
	"testing"
)

// writeFiles creates empty migration files named names under root/dir.
func writeFiles(t *testing.T, root, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(root, dir, n), []byte("-- test\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// PostgreSQL has files of its own (a function, a trigger): SQLite's
// directory lags its newest one, and must still get a new file under the
// new name, not a second file under PostgreSQL's name.
func TestNextFiles_SQLiteDoesNotTakeAPostgreSQLOnlyFilesName(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, sqliteDir, "20260101000000_baseline.sql")
	writeFiles(t, root, postgresDir, "20260101000000_baseline.sql", "20260102000000_save_function.sql")
	next, err := nextFiles(root, "add_index")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{sqliteDir, postgresDir} {
		if next[d].name != "add_index" || next[d].version <= "20260102000000" {
			t.Errorf("%s: next file %s_%s, want a version after 20260102000000 named add_index", d, next[d].version, next[d].name)
		}
	}
	if next[sqliteDir] != next[postgresDir] {
		t.Errorf("the dialects' next files differ: %v and %v", next[sqliteDir], next[postgresDir])
	}
}

// A run without PostgreSQL wrote only SQLite's file: the next run writes
// PostgreSQL's under the same version and name.
func TestNextFiles_PostgreSQLCatchesUpWithSQLitesNewestFile(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, sqliteDir, "20260101000000_baseline.sql", "20260103000000_add_column.sql")
	writeFiles(t, root, postgresDir, "20260101000000_baseline.sql", "20260102000000_save_function.sql")
	next, err := nextFiles(root, "add_index")
	if err != nil {
		t.Fatal(err)
	}
	if got := next[postgresDir]; got != (nextFile{"20260103000000", "add_column"}) {
		t.Errorf("postgres: next file %v, want SQLite's 20260103000000_add_column", got)
	}
	if got := next[sqliteDir]; got.name != "add_index" || got.version <= "20260103000000" {
		t.Errorf("sqlite: next file %v, want a new version named add_index", got)
	}
}
