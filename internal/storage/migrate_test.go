package storage_test

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	atlasschema "ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
	entschema "entgo.io/ent/dialect/sql/schema"

	entmigrate "github.com/messager/messager/ent/migrate"
	"github.com/messager/messager/ent/migrate/migrations"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/testenv"
)

// forEachBackend runs test on an empty SQLite database, and on an empty
// PostgreSQL database when MESSAGER_TEST_DATABASE_URL is set.
func forEachBackend(t *testing.T, test func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, filepath.Join(t.TempDir(), "migrate.db")) })
	if strings.HasPrefix(os.Getenv(testenv.EnvDatabaseURL), "postgres") {
		t.Run("postgres", func(t *testing.T) { test(t, testenv.DatabaseURL(t)) })
	}
}

func openDB(t *testing.T, url string) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// embeddedFiles is a copy of the embedded migration directory of dia.
func embeddedFiles(t *testing.T, dia string) fstest.MapFS {
	t.Helper()
	fsys, err := migrations.FS(dia)
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	err = fs.WalkDir(fsys, ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		out[name] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// baselineName is the first (baseline) migration file of files.
func baselineName(t *testing.T, files fstest.MapFS) string {
	t.Helper()
	first := ""
	for name := range files {
		if strings.HasSuffix(name, ".sql") && (first == "" || name < first) {
			first = name
		}
	}
	if first == "" {
		t.Fatal("no migration files")
	}
	return first
}

// onlyBaseline keeps the baseline file of files, with its atlas.sum.
func onlyBaseline(t *testing.T, files fstest.MapFS) fstest.MapFS {
	t.Helper()
	b := baselineName(t, files)
	return resum(t, fstest.MapFS{b: files[b]})
}

// withFile is files plus (or with a new body for) the file name, sealed
// with a recomputed atlas.sum as `go generate ./ent` would write it.
func withFile(t *testing.T, files fstest.MapFS, name, body string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	for n, f := range files {
		out[n] = f
	}
	out[name] = &fstest.MapFile{Data: []byte(body)}
	return resum(t, out)
}

func resum(t *testing.T, files fstest.MapFS) fstest.MapFS {
	t.Helper()
	dir := &atlasmigrate.MemDir{}
	for n, f := range files {
		if strings.HasSuffix(n, ".sql") {
			if err := dir.WriteFile(n, f.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	sum, err := dir.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	b, err := sum.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	files[atlasmigrate.HashFileName] = &fstest.MapFile{Data: b}
	return files
}

type revisionRow struct {
	version         string
	typ             int
	applied, total  int
	errMsg, errSQL  sql.NullString
	operatorVersion string
}

func readRevisions(t *testing.T, db *storage.DB) []revisionRow {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), `SELECT version, type, applied, total, error, error_stmt, operator_version FROM schema_revisions ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []revisionRow
	for rows.Next() {
		var r revisionRow
		if err := rows.Scan(&r.version, &r.typ, &r.applied, &r.total, &r.errMsg, &r.errSQL, &r.operatorVersion); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func executedAt(t *testing.T, db *storage.DB) []time.Time {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), "SELECT executed_at FROM schema_revisions ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(&at); err != nil {
			t.Fatal(err)
		}
		out = append(out, at)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func columnExists(t *testing.T, db *storage.DB, table, column string) bool {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), "SELECT "+column+" FROM "+table+" WHERE 1=0")
	if err != nil {
		return false
	}
	_ = rows.Close()
	return true
}

// varchar is the type of an added nullable string column in dia, as
// `go generate ./ent` writes it for an Optional field.
func varchar(dia string) string {
	if dia == dialect.SQLite {
		return "text"
	}
	return "character varying"
}

const revisionApplied, revisionBaseline = 2, 1 // atlas migrate.RevisionType values

// TestMigrate_FilesMatchEntSchema fails when ent/schema changed and the
// migration files were not regenerated: after the files ran on an empty
// database, ent finds nothing to change.
func TestMigrate_FilesMatchEntSchema(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// The same diff the generator makes (index drops included, column
		// drops left to hand-written contract migrations), written out
		// instead of applied.
		var diff bytes.Buffer
		if err := db.Ent().Schema.WriteTo(ctx, &diff, entmigrate.WithDropIndex(true), entmigrate.WithCheckedReferences(db.Dialect())); err != nil {
			t.Fatal(err)
		}
		if diff.Len() > 0 {
			t.Fatalf("the migration files under ent/migrate/migrations do not build ent/schema: run `MIGRATION_NAME=<what_changed> go generate ./ent` (with PostgreSQL reachable) and commit the new .sql files and atlas.sum. Missing:\n%s", diff.String())
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMigrate_FreshDatabaseThenNothingToDo(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		if err := db.CheckSchema(ctx); err == nil {
			t.Fatal("CheckSchema passed on an empty database")
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		files := embeddedFiles(t, db.Dialect())
		first := readRevisions(t, db)
		if len(first) != len(files)-1 { // minus atlas.sum
			t.Fatalf("%d revisions for %d files: %+v", len(first), len(files)-1, first)
		}
		for _, r := range first {
			if r.typ != revisionApplied || r.applied != r.total || r.total == 0 || r.errMsg.Valid || !strings.HasPrefix(r.operatorVersion, "messager ") {
				t.Fatalf("revision %+v: want applied in full, no error", r)
			}
		}
		if !strings.HasPrefix(baselineName(t, files), first[0].version+"_") {
			t.Fatalf("first revision %s is not the baseline %s", first[0].version, baselineName(t, files))
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
		u := makeUsers(t, db, 1)[0]
		before := executedAt(t, db)
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second run: %v", err)
		}
		if after := executedAt(t, db); !slices.EqualFunc(before, after, time.Time.Equal) {
			t.Fatalf("second run rewrote the revisions: executed at %v, then %v", before, after)
		}
		if got := readRevisions(t, db); len(got) != len(first) {
			t.Fatalf("second run changed the revisions: %+v, then %+v", first, got)
		}
		if _, err := db.Users().ByID(ctx, u.ID); err != nil {
			t.Fatalf("the user saved before the second run: %v", err)
		}
	})
}

// TestMigrate_ConcurrentRunsTakeTurns: two processes migrating one empty
// database at once both succeed and every file runs once. Without the
// lock both would create the tables and one would fail.
func TestMigrate_ConcurrentRunsTakeTurns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		const n = 3
		dbs := make([]*storage.DB, n)
		for i := range dbs {
			dbs[i] = openDB(t, url)
		}
		start := make(chan struct{})
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = db.Migrate(ctx)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("migration %d: %v", i, err)
			}
		}
		files := embeddedFiles(t, dbs[0].Dialect())
		revs := readRevisions(t, dbs[0])
		if len(revs) != len(files)-1 {
			t.Fatalf("%d revisions for %d files: %+v", len(revs), len(files)-1, revs)
		}
		for _, r := range revs {
			if r.typ != revisionApplied || r.applied != r.total || r.errMsg.Valid {
				t.Fatalf("revision %+v", r)
			}
		}
	})
}

// TestMigrate_AdoptsAnAutoMigratedDatabase: a database made by the
// automatic migration of earlier releases (ent's Schema.Create, as
// `messager migrate` did) is adopted at the baseline with its data, and
// later files apply on top.
func TestMigrate_AdoptsAnAutoMigratedDatabase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		autoMigrateAsBeforeVersioning(t, db)
		// Rows written by the code of that time: baseline columns only.
		for _, stmt := range []string{
			"INSERT INTO users (username, username_key, email, password_hash, usercode, created_at) VALUES ('Ann', 'ann', 'ann@example.com', 'x', 'ANN001', CURRENT_TIMESTAMP)",
			"INSERT INTO users (username, username_key, email, password_hash, usercode, created_at) VALUES ('Bob', 'bob', 'bob@example.com', 'x', 'BOB001', CURRENT_TIMESTAMP)",
			"INSERT INTO messages (id, body, created_at, sender_id, to_id) SELECT '" + msgID(1) + "', 'hi', CURRENT_TIMESTAMP, a.id, b.id FROM users a, users b WHERE a.username = 'Ann' AND b.username = 'Bob'",
		} {
			if _, err := db.SQL().ExecContext(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		files := embeddedFiles(t, db.Dialect())
		later := withFile(t, files, "29990101000000_add_nickname.sql",
			"ALTER TABLE users ADD COLUMN nickname "+varchar(db.Dialect())+" NULL;\n")
		if err := db.Migrate(ctx, storage.WithMigrationFiles(later)); err != nil {
			t.Fatal(err)
		}
		revs := readRevisions(t, db)
		if len(revs) != len(later)-1 {
			t.Fatalf("%d revisions for %d files: %+v", len(revs), len(later)-1, revs)
		}
		if r := revs[0]; r.typ != revisionBaseline || !strings.HasPrefix(baselineName(t, files), r.version+"_") {
			t.Fatalf("first revision %+v: want the baseline, adopted", r)
		}
		for _, r := range revs[1:] {
			if r.typ != revisionApplied || r.applied != r.total || r.errMsg.Valid {
				t.Fatalf("revision %+v: want applied", r)
			}
		}
		if !columnExists(t, db, "users", "nickname") {
			t.Fatal("the file after the baseline did not run")
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
		ann, err := db.Users().ByUsercode(ctx, "ANN001")
		if err != nil || ann.Username != "Ann" {
			t.Fatalf("a user saved before adoption: %+v, %v", ann, err)
		}
		var messages int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE sender_id = "+strconv.Itoa(ann.ID)).Scan(&messages); err != nil || messages != 1 {
			t.Fatalf("messages saved before adoption: %d, %v", messages, err)
		}
		if err := db.Migrate(ctx, storage.WithMigrationFiles(later)); err != nil {
			t.Fatalf("second run: %v", err)
		}
	})
}

// autoMigrateAsBeforeVersioning makes the schema the way `messager
// migrate` did before versioned migrations: ent's Schema.Create, for the
// ent schema of that time, which is the baseline's tables and columns
// (later migrations added to ent/schema since).
func autoMigrateAsBeforeVersioning(t *testing.T, db *storage.DB) {
	t.Helper()
	ctx := context.Background()
	// The baseline's tables and columns (names are the same in every
	// dialect), from a scratch SQLite database it alone ran on.
	scratch := openDB(t, filepath.Join(t.TempDir(), "baseline.db"))
	if err := scratch.Migrate(ctx, storage.WithMigrationFiles(onlyBaseline(t, embeddedFiles(t, dialect.SQLite)))); err != nil {
		t.Fatal(err)
	}
	baseline := map[string]map[string]bool{}
	for _, table := range entmigrate.Tables {
		rows, err := scratch.SQL().QueryContext(ctx, "SELECT * FROM "+table.Name+" WHERE 1=0")
		if err != nil {
			continue // a table added after the baseline
		}
		cols, err := rows.Columns()
		_ = rows.Close()
		if err != nil {
			t.Fatal(err)
		}
		baseline[table.Name] = map[string]bool{}
		for _, c := range cols {
			baseline[table.Name][c] = true
		}
	}
	atBaseline := entschema.WithDiffHook(func(next entschema.Differ) entschema.Differ {
		return entschema.DiffFunc(func(current, desired *atlasschema.Schema) ([]atlasschema.Change, error) {
			var tables []*atlasschema.Table
			for _, tbl := range desired.Tables {
				keep, ok := baseline[tbl.Name]
				if !ok {
					continue
				}
				tbl.Columns = slices.DeleteFunc(tbl.Columns, func(c *atlasschema.Column) bool { return !keep[c.Name] })
				tbl.Indexes = slices.DeleteFunc(tbl.Indexes, func(i *atlasschema.Index) bool {
					return slices.ContainsFunc(i.Parts, func(p *atlasschema.IndexPart) bool { return p.C != nil && !keep[p.C.Name] })
				})
				tbl.ForeignKeys = slices.DeleteFunc(tbl.ForeignKeys, func(fk *atlasschema.ForeignKey) bool {
					return slices.ContainsFunc(fk.Columns, func(c *atlasschema.Column) bool { return !keep[c.Name] })
				})
				tables = append(tables, tbl)
			}
			desired.Tables = tables
			return next.Diff(current, desired)
		})
	})
	if err := db.Ent().Schema.Create(ctx, entmigrate.WithDropIndex(true), atBaseline); err != nil {
		t.Fatal(err)
	}
	// Indexes the ent schema of that time had and ent/schema has dropped
	// since: the plain index beside usercode's unique one (dropped by
	// the drop_dup_usercode_index migration, which must find it).
	if _, err := db.SQL().ExecContext(ctx, "CREATE INDEX user_usercode ON users (usercode)"); err != nil {
		t.Fatal(err)
	}
}

// TestMigrate_UsercodeHasOnlyItsUniqueIndex: usercode's Unique() index
// serves every lookup by usercode; a second, plain index on the same
// column only cost each registration an extra index write. Migrating a
// database that has it (every database made before the
// drop_dup_usercode_index migration) leaves the unique one alone.
func TestMigrate_UsercodeHasOnlyItsUniqueIndex(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		// Up to the baseline first: it made both indexes.
		if err := db.Migrate(ctx, storage.WithMigrationFiles(onlyBaseline(t, embeddedFiles(t, db.Dialect())))); err != nil {
			t.Fatal(err)
		}
		if got := usercodeIndexes(t, db); len(got) != 2 {
			t.Fatalf("after the baseline, indexes on users.usercode: %v; want the unique and the plain one", got)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if got := usercodeIndexes(t, db); !slices.Equal(got, []string{"users_usercode_key unique"}) {
			t.Fatalf("indexes on users.usercode: %v; want only the unique one", got)
		}
	})
}

// usercodeIndexes names the indexes of users whose only column is
// usercode, each with " unique" when it is.
func usercodeIndexes(t *testing.T, db *storage.DB) []string {
	t.Helper()
	q := `SELECT i.relname, x.indisunique FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class r ON r.oid = x.indrelid
		JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = x.indkey[0]
		WHERE r.relname = 'users' AND x.indnatts = 1 AND a.attname = 'usercode' AND i.relnamespace = r.relnamespace
		ORDER BY i.relname`
	if db.Dialect() == dialect.SQLite {
		q = `SELECT l.name, l."unique" FROM pragma_index_list('users') l
			WHERE (SELECT count(*) FROM pragma_index_info(l.name)) = 1
			AND (SELECT name FROM pragma_index_info(l.name)) = 'usercode'
			ORDER BY l.name`
	}
	rows, err := db.SQL().QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		var unique bool
		if err := rows.Scan(&name, &unique); err != nil {
			t.Fatal(err)
		}
		if unique {
			name += " unique"
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrate_RefusesADatabaseItCannotAdopt: messager tables without the
// baseline's columns are not taken for a baseline; the error says what is
// missing and nothing is applied.
func TestMigrate_RefusesADatabaseItCannotAdopt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		if _, err := db.SQL().ExecContext(ctx, "CREATE TABLE users (id bigint PRIMARY KEY, username text NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		err := db.Migrate(ctx)
		if err == nil {
			t.Fatal("Migrate adopted a users table without the baseline's columns")
		}
		t.Log(err)
		for _, want := range []string{"column users.email", "table messages", "table message_recipients"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not name %q", err, want)
			}
		}
		if revs := readRevisions(t, db); len(revs) != 0 {
			t.Fatalf("revisions recorded: %+v", revs)
		}
		if columnExists(t, db, "messages", "id") {
			t.Fatal("a file ran on a database that was refused")
		}
	})
}

// TestMigrate_OtherApplicationsTablesAreNotOurs: an empty database shared
// with another application's tables gets the baseline applied, not adopted.
func TestMigrate_OtherApplicationsTablesAreNotOurs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		if _, err := db.SQL().ExecContext(ctx, "CREATE TABLE other_app (id bigint PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if revs := readRevisions(t, db); revs[0].typ != revisionApplied {
			t.Fatalf("baseline %+v: want applied", revs[0])
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMigrate_RefusesAFileThatDoesNotMatchAtlasSum: an edited file, or one
// added without atlas.sum, is refused before anything runs.
func TestMigrate_RefusesAFileThatDoesNotMatchAtlasSum(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		files := embeddedFiles(t, db.Dialect())
		base := baselineName(t, files)
		edited := fstest.MapFS{}
		for n, f := range files {
			edited[n] = f
		}
		edited[base] = &fstest.MapFile{Data: append(append([]byte(nil), files[base].Data...), []byte("ALTER TABLE users ADD COLUMN sneaky text NULL;\n")...)}
		added := fstest.MapFS{}
		for n, f := range files {
			added[n] = f
		}
		added["29990101000000_unsealed.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE users ADD COLUMN sneaky text NULL;\n")}
		for _, c := range []struct {
			name  string
			files fstest.MapFS
			want  []string
		}{
			{"edited", edited, []string{base, "edited", "atlas.sum"}},
			{"added", added, []string{"29990101000000_unsealed.sql", "added", "atlas.sum"}},
		} {
			err := db.Migrate(ctx, storage.WithMigrationFiles(c.files))
			if err == nil {
				t.Fatalf("%s: applied", c.name)
			}
			t.Logf("%s: %v", c.name, err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%s: error %q does not say %q", c.name, err, w)
				}
			}
		}
		if columnExists(t, db, "users", "id") {
			t.Fatal("a file ran although the directory did not match atlas.sum")
		}
	})
}

// TestMigrate_AddedColumnKeepsDataAndTheOldCodeWorking: a later file that
// adds a column applies on a database with data, and this binary's ent
// client (the "old code", which does not know the column) still reads and
// writes; an older binary's Migrate (fewer files) then finds nothing to do.
func TestMigrate_AddedColumnKeepsDataAndTheOldCodeWorking(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		// The files this binary's ent client was generated with: the
		// "old code" below, for a database one file ahead of it.
		old := embeddedFiles(t, db.Dialect())
		if err := db.Migrate(ctx, storage.WithMigrationFiles(old)); err != nil {
			t.Fatal(err)
		}
		users := makeUsers(t, db, 2)
		if _, err := db.Messages().Save(ctx, dm(1, users[0], users[1])); err != nil {
			t.Fatal(err)
		}
		next := withFile(t, old, "29990101000000_add_nickname.sql",
			"-- Modify \"users\" table\nALTER TABLE "+quote(db.Dialect(), "users")+" ADD COLUMN "+quote(db.Dialect(), "nickname")+" "+varchar(db.Dialect())+" NULL;\n")
		if err := db.Migrate(ctx, storage.WithMigrationFiles(next)); err != nil {
			t.Fatal(err)
		}
		var nulls int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM users WHERE nickname IS NULL").Scan(&nulls); err != nil || nulls != 2 {
			t.Fatalf("users with no nickname: %d, %v", nulls, err)
		}
		// The old code: reads what was there, writes new rows.
		if u, err := db.Users().ByID(ctx, users[0].ID); err != nil || u.Username != users[0].Username {
			t.Fatalf("read a user: %+v, %v", u, err)
		}
		if _, err := db.Users().Create(ctx, storage.NewUser{Username: "Later", Email: "later@example.com", PasswordHash: "x", Usercode: "LATER1"}); err != nil {
			t.Fatalf("create a user: %v", err)
		}
		if _, err := db.Messages().Save(ctx, dm(2, users[1], users[0])); err != nil {
			t.Fatalf("save a message: %v", err)
		}
		page, err := db.Messages().History(ctx, users[0].ID, "", 10)
		if err != nil || len(page) != 2 {
			t.Fatalf("history: %v, %v", page, err)
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
		// An old pod's `messager migrate` (during a rollback) changes nothing.
		if err := db.Migrate(ctx, storage.WithMigrationFiles(old)); err != nil {
			t.Fatalf("the older file set against the newer database: %v", err)
		}
		if revs := readRevisions(t, db); len(revs) != len(next)-1 {
			t.Fatalf("revisions: %+v", revs)
		}
	})
}

func quote(dia, name string) string {
	if dia == dialect.SQLite {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

// TestMigrate_AFailedFileIsRecordedAndRetried: a file that fails rolls
// back, names itself and the statement, and stays pending: the next run
// reports it again instead of skipping it, and once fixed it applies.
func TestMigrate_AFailedFileIsRecordedAndRetried(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		files := embeddedFiles(t, db.Dialect())
		const name = "29990101000000_broken.sql"
		broken := withFile(t, files, name, "ALTER TABLE users ADD COLUMN half bigint NULL;\nINSERT INTO no_such_table VALUES (1);\n")
		for run := 1; run <= 2; run++ {
			err := db.Migrate(ctx, storage.WithMigrationFiles(broken))
			if err == nil {
				t.Fatalf("run %d: a failing file was applied", run)
			}
			t.Logf("run %d: %v", run, err)
			for _, want := range []string{name, "statement 2 of 2", "no_such_table", "schema_revisions"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("run %d: error %q does not say %q", run, err, want)
				}
			}
			revs := readRevisions(t, db)
			last := revs[len(revs)-1]
			if last.version != "29990101000000" || last.applied != 0 || last.total != 2 || !last.errMsg.Valid || !strings.Contains(last.errSQL.String, "no_such_table") {
				t.Fatalf("run %d: failed revision %+v", run, last)
			}
			if columnExists(t, db, "users", "half") {
				t.Fatalf("run %d: the failed file's first statement was not rolled back", run)
			}
			// The files before it stay applied.
			if err := db.CheckSchema(ctx); err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
		}
		fixed := withFile(t, files, name, "ALTER TABLE users ADD COLUMN half bigint NULL;\n")
		if err := db.Migrate(ctx, storage.WithMigrationFiles(fixed)); err != nil {
			t.Fatal(err)
		}
		revs := readRevisions(t, db)
		if last := revs[len(revs)-1]; last.applied != 1 || last.total != 1 || last.errMsg.Valid || last.errSQL.Valid {
			t.Fatalf("fixed revision %+v", last)
		}
		if !columnExists(t, db, "users", "half") {
			t.Fatal("the fixed file did not run")
		}
	})
}

// TestMigrate_NonTransactionalFile: a PostgreSQL file marked
// `-- atlas:txmode none` runs outside a transaction, as CREATE INDEX
// CONCURRENTLY must.
func TestMigrate_NonTransactionalFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := openDB(t, url)
		if db.Dialect() != dialect.Postgres {
			t.Skip("PostgreSQL only")
		}
		files := withFile(t, embeddedFiles(t, db.Dialect()), "29990101000000_email_index.sql",
			"-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY \"user_email\" ON \"users\" (\"email\");\n")
		if err := db.Migrate(ctx, storage.WithMigrationFiles(files)); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM pg_indexes WHERE indexname = 'user_email'").Scan(&n); err != nil || n != 1 {
			t.Fatalf("index: %d, %v", n, err)
		}
	})
}
