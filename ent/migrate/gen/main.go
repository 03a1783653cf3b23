// Command gen writes the versioned migration files under
// ent/migrate/migrations/{postgres,sqlite}: the difference between what the
// committed files build and what ent/schema describes, as one new
// Atlas-format file per dialect (<version>_<name>.sql) plus an updated
// atlas.sum. `go generate ./ent` runs it after ent's own generator:
//
//	MIGRATION_NAME=add_nickname go generate ./ent
//
// With no schema change it writes nothing. The state the files build is
// found by replaying them on a scratch database (ent's ModeReplay): an
// in-memory SQLite database, and for PostgreSQL a database created for the
// run inside MESSAGER_DEV_DATABASE_URL and dropped afterwards, so nothing
// else on that server is touched.
//
// -rehash rewrites atlas.sum from the files as they are, for a migration
// written by hand (a contract step that drops a column, a data fix).
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/messager/messager/ent/migrate"
)

// Env vars the generator reads.
const (
	envName   = "MIGRATION_NAME"
	envDevURL = "MESSAGER_DEV_DATABASE_URL"
)

// Directories under -dir, one per dialect.
const (
	postgresDir = "postgres"
	sqliteDir   = "sqlite"
)

const defaultDevURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)

// errNeedName stops a run that found a schema change but was given no name
// for it.
var errNeedName = errors.New("the schema changed: name the migration, e.g. MIGRATION_NAME=add_user_nickname go generate ./ent")

func main() {
	dir := flag.String("dir", "migrate/migrations", "directory holding the postgres/ and sqlite/ migration directories")
	name := flag.String("name", os.Getenv(envName), "name of the new migration (env "+envName+")")
	rehash := flag.Bool("rehash", false, "only rewrite each dialect's atlas.sum from its files (after writing a migration by hand)")
	flag.Parse()
	if err := run(context.Background(), *dir, *name, *rehash); err != nil {
		fmt.Fprintln(os.Stderr, "ent/migrate/gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root, name string, rehash bool) error {
	if name != "" && !validName.MatchString(name) {
		return fmt.Errorf("migration name %q: use lower-case letters, digits and underscores", name)
	}
	if rehash {
		for _, d := range []string{postgresDir, sqliteDir} {
			if err := rehashDir(filepath.Join(root, d)); err != nil {
				return err
			}
		}
		return nil
	}
	// SQLite first: it needs nothing installed, so it runs on every
	// machine; whether it found a change tells whether a skipped
	// PostgreSQL leaves the tree inconsistent.
	// Both dialects' files of one change share one version and name, so
	// a revision means the same change on either database.
	next, err := nextFiles(root, name)
	if err != nil {
		return err
	}
	sqliteChanged, err := diffSQLite(ctx, filepath.Join(root, sqliteDir), next[sqliteDir].version, next[sqliteDir].name)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	devURL := os.Getenv(envDevURL)
	if devURL == "" {
		devURL = defaultDevURL
	}
	pgChanged, err := diffPostgres(ctx, filepath.Join(root, postgresDir), devURL, next[postgresDir].version, next[postgresDir].name)
	var unreachable *unreachableError
	switch {
	case errors.As(err, &unreachable):
		fmt.Fprintf(os.Stderr, "ent/migrate/gen: WARNING: PostgreSQL migration files were NOT regenerated: %v\n"+
			"  Start PostgreSQL (or set %s to a server where a role may CREATE DATABASE) and run `go generate ./ent` again.\n",
			unreachable, envDevURL)
		if sqliteChanged {
			// The SQLite directory got a new file that PostgreSQL's lacks:
			// committing this tree would ship an incomplete migration.
			return errors.New("the schema changed but the PostgreSQL migration could not be written (see the warning above)")
		}
		return nil
	case err != nil:
		return fmt.Errorf("postgres: %w", err)
	}
	if !sqliteChanged && !pgChanged {
		fmt.Fprintln(os.Stderr, "ent/migrate/gen: no schema change; no migration written")
	}
	return nil
}

// unreachableError is a PostgreSQL dev server that did not answer: the
// PostgreSQL files are skipped, not failed.
type unreachableError struct {
	url string
	err error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the dev database %s: %v", redact(e.url), e.err)
}

func diffSQLite(ctx context.Context, path, version, name string) (bool, error) {
	// A private in-memory database: one connection, since each new
	// connection to ":memory:" would be another, empty database.
	db, err := sql.Open("sqlite", "file:messager_atlas_dev?mode=memory&_pragma=foreign_keys(1)")
	if err != nil {
		return false, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return diff(ctx, entsql.OpenDB(dialect.SQLite, db), dialect.SQLite, path, version, name)
}

func diffPostgres(ctx context.Context, path, devURL, version, name string) (changed bool, err error) {
	admin, err := sql.Open("pgx", devURL)
	if err != nil {
		return false, &unreachableError{devURL, err}
	}
	defer admin.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		return false, &unreachableError{devURL, err}
	}
	// A database of its own for this run, so a concurrent run or anything
	// else on the server is never touched; dropped on the way out.
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	scratch := "messager_atlas_dev_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+scratch); err != nil {
		return false, fmt.Errorf("create the scratch database %s: %w", scratch, err)
	}
	defer func() {
		if _, derr := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)"); derr != nil {
			err = errors.Join(err, fmt.Errorf("drop the scratch database %s: %w", scratch, derr))
		}
	}()
	u, err := url.Parse(devURL)
	if err != nil {
		return false, err
	}
	u.Path = "/" + scratch
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return false, err
	}
	defer db.Close()
	return diff(ctx, entsql.OpenDB(dialect.Postgres, db), dialect.Postgres, path, version, name)
}

// diff writes a migration file to path for the difference between the files
// already there, replayed on the empty database behind drv, and ent/schema.
// It reports whether it wrote one.
func diff(ctx context.Context, drv *entsql.Driver, dia, path, version, name string) (bool, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return false, err
	}
	dir, err := atlasmigrate.NewLocalDir(path)
	if err != nil {
		return false, err
	}
	if err := atlasmigrate.Validate(dir); err != nil {
		return false, fmt.Errorf("%s does not match its atlas.sum (%w): restore the edited file, or for a migration written by hand run `go run ./ent/migrate/gen -dir ent/migrate/migrations -rehash`", path, err)
	}
	before, err := dir.Files()
	if err != nil {
		return false, err
	}
	// A first pass with no name only asks whether there is a change, so
	// a run with no change needs no name and writes nothing.
	probe := &atlasmigrate.MemDir{}
	if err := probe.CopyFiles(before); err != nil {
		return false, err
	}
	m, err := schema.NewMigrate(drv, options(dia, probe, version)...)
	if err != nil {
		return false, err
	}
	switch err := m.NamedDiff(ctx, "probe", migrate.Tables...); {
	case errors.Is(err, atlasmigrate.ErrNoPlan):
		return false, nil
	case err != nil:
		return false, err
	case name == "":
		return false, errNeedName
	}
	if m, err = schema.NewMigrate(drv, options(dia, dir, version)...); err != nil {
		return false, err
	}
	if err := m.NamedDiff(ctx, name, migrate.Tables...); err != nil {
		return false, err
	}
	after, err := dir.Files()
	if err != nil {
		return false, err
	}
	if len(after) > len(before) {
		fmt.Fprintf(os.Stderr, "ent/migrate/gen: wrote %s\n", filepath.Join(path, after[len(after)-1].Name()))
	}
	return true, nil
}

// options are the same for the probe and the real run. Index drops are
// kept (as the auto-migration did) so that an index whose columns or
// uniqueness change is replaced; column drops never come from here: a
// removed field leaves its column until a hand-written contract migration,
// so pods of the previous version keep working during a rolling upgrade.
func options(dia string, dir atlasmigrate.Dir, version string) []schema.MigrateOption {
	return []schema.MigrateOption{
		schema.WithDir(dir),
		schema.WithDialect(dia),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithFormatter(versionFormatter(version)),
		schema.WithDropIndex(true),
		schema.WithErrNoPlan(true),
		migrate.WithCheckedReferences(dia),
	}
}

// versionFormatter is Atlas's default format with the version fixed.
type versionFormatter string

// Format implements atlasmigrate.Formatter.
func (v versionFormatter) Format(p *atlasmigrate.Plan) ([]atlasmigrate.File, error) {
	p.Version = string(v)
	return atlasmigrate.DefaultFormatter.Format(p)
}

// nextFile is the version and name a dialect's new file gets.
type nextFile struct{ version, name string }

// nextFiles gives each dialect's directory the version and name of its
// next file: now as an Atlas version (UTC, to the second), or one second
// past the newest file of either dialect if the clock is behind it (a file
// that sorted before an applied one would be refused as out of order),
// and the given name. PostgreSQL's directory, when it lags SQLite's newest
// file (a run without PostgreSQL wrote only SQLite's), catches up under
// that file's version and name instead, so the pair still matches.
// SQLite's never catches up: it lags whenever PostgreSQL has files of its
// own (functions, triggers, storage settings), which have no SQLite twin.
func nextFiles(root, name string) (map[string]nextFile, error) {
	const layout = "20060102150405"
	newest := map[string]atlasmigrate.File{}
	now := time.Now().UTC().Truncate(time.Second)
	for _, d := range []string{postgresDir, sqliteDir} {
		dir, err := atlasmigrate.NewLocalDir(filepath.Join(root, d))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		files, err := dir.Files()
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			continue
		}
		last := files[len(files)-1]
		newest[d] = last
		at, err := time.Parse(layout, last.Version())
		if err != nil {
			return nil, fmt.Errorf("%s: version %q is not an Atlas timestamp: %w", d, last.Version(), err)
		}
		if !now.After(at) {
			now = at.Add(time.Second)
		}
	}
	next := map[string]nextFile{}
	next[sqliteDir] = nextFile{now.Format(layout), name}
	next[postgresDir] = next[sqliteDir]
	if o, ok := newest[sqliteDir]; ok {
		if mine, ok := newest[postgresDir]; !ok || mine.Version() < o.Version() {
			next[postgresDir] = nextFile{o.Version(), o.Desc()}
		}
	}
	return next, nil
}

func rehashDir(path string) error {
	dir, err := atlasmigrate.NewLocalDir(path)
	if err != nil {
		return err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return err
	}
	if err := atlasmigrate.WriteSumFile(dir, sum); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "ent/migrate/gen: rewrote %s\n", filepath.Join(path, atlasmigrate.HashFileName))
	return nil
}

// redact hides a password in a database URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
