package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/messager/messager/ent"
	"github.com/messager/messager/ent/user"
)

// User is the stored account as the services read it.
type User struct {
	ID        int
	Username  string
	Email     string
	Usercode  string
	CreatedAt time.Time
	// Admin opens the task monitor; only an operator grants it.
	Admin bool
	// LastSeenAt is when the user last went offline; nil if never recorded.
	LastSeenAt *time.Time
}

// NewUser is what registration stores.
type NewUser struct {
	Username     string
	Email        string
	PasswordHash string
	Usercode     string
	// FirstAdmin makes the account an admin if it is the first one: no
	// older account and no admin exists (`messager all` sets it).
	FirstAdmin bool
}

// Users stores accounts.
type Users struct{ db *DB }

// Users returns the account store.
func (d *DB) Users() *Users { return &Users{db: d} }

// Create inserts u. A clash on the case-insensitive username or on the
// usercode is a *DuplicateError naming "username" or "usercode".
func (s *Users) Create(ctx context.Context, u NewUser) (User, error) {
	if u.FirstAdmin {
		// Once there is an admin nobody else becomes one: skip the lock.
		hasAdmin, err := s.db.client.User.Query().Where(user.Admin(true)).Exist(ctx)
		if err != nil {
			return User{}, classify(err)
		}
		if !hasAdmin {
			return s.createFirstAdmin(ctx, u)
		}
	}
	return create(ctx, s.db.client.User, u)
}

// firstAdminLock is the PostgreSQL advisory lock key that serialises
// first-admin registrations ("msgr" in ASCII).
const firstAdminLock = 0x6d736772

// createFirstAdmin inserts u and, in the same transaction, makes it an
// admin when no older account and no admin exist. Transactions that may
// promote run one at a time (SQLite's immediate transactions; an advisory
// lock on PostgreSQL), so ids are taken in that order and two concurrent
// first registrations can never both become admin.
func (s *Users) createFirstAdmin(ctx context.Context, u NewUser) (_ User, err error) {
	tx, err := s.db.client.Tx(ctx)
	if err != nil {
		return User{}, classify(err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if s.db.dialect == dialect.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", firstAdminLock); err != nil {
			return User{}, classify(err)
		}
	}
	created, err := create(ctx, tx.User, u)
	if err != nil {
		return User{}, err
	}
	taken, err := tx.User.Query().Where(user.Or(user.Admin(true), user.IDLT(created.ID))).Exist(ctx)
	if err != nil {
		return User{}, classify(err)
	}
	if !taken {
		if err := tx.User.UpdateOneID(created.ID).SetAdmin(true).Exec(ctx); err != nil {
			return User{}, classify(err)
		}
		created.Admin = true
	}
	if err := tx.Commit(); err != nil {
		return User{}, classify(err)
	}
	return created, nil
}

func create(ctx context.Context, c *ent.UserClient, u NewUser) (User, error) {
	row, err := c.Create().
		SetUsername(u.Username).
		SetUsernameKey(strings.ToLower(u.Username)).
		SetEmail(u.Email).
		SetPasswordHash(u.PasswordHash).
		SetUsercode(u.Usercode).
		Save(ctx)
	if err != nil {
		return User{}, classify(err)
	}
	return toUser(row), nil
}

// ByUsername finds an account by username, ignoring case, with its password hash.
func (s *Users) ByUsername(ctx context.Context, username string) (User, string, error) {
	row, err := s.db.client.User.Query().Where(user.UsernameKey(strings.ToLower(username))).Only(ctx)
	if err != nil {
		return User{}, "", classify(err)
	}
	return toUser(row), row.PasswordHash, nil
}

// ByID finds an account by id.
func (s *Users) ByID(ctx context.Context, id int) (User, error) {
	row, err := s.db.client.User.Get(ctx, id)
	if err != nil {
		return User{}, classify(err)
	}
	return toUser(row), nil
}

// SetAdmin grants (admin true) or revokes the task monitor for the account
// named username, ignoring case; an unknown username is ErrNotFound.
func (s *Users) SetAdmin(ctx context.Context, username string, admin bool) (User, error) {
	n, err := s.db.client.User.Update().Where(user.UsernameKey(strings.ToLower(username))).SetAdmin(admin).Save(ctx)
	if err != nil {
		return User{}, classify(err)
	}
	if n == 0 {
		return User{}, fmt.Errorf("no account named %q: %w", username, ErrNotFound)
	}
	u, _, err := s.ByUsername(ctx, username)
	return u, err
}

// IsAdmin reports whether account id is an admin; an unknown id is not.
func (s *Users) IsAdmin(ctx context.Context, id int) (bool, error) {
	ok, err := s.db.client.User.Query().Where(user.ID(id), user.Admin(true)).Exist(ctx)
	return ok, classify(err)
}

// Admins lists the admin accounts, oldest first, and whether any account
// exists at all.
func (s *Users) Admins(ctx context.Context) (admins []User, anyAccount bool, err error) {
	rows, err := s.db.client.User.Query().Where(user.Admin(true)).Order(ent.Asc(user.FieldID)).All(ctx)
	if err != nil {
		return nil, false, classify(err)
	}
	for _, r := range rows {
		admins = append(admins, toUser(r))
	}
	if len(admins) > 0 {
		return admins, true, nil
	}
	anyAccount, err = s.db.client.User.Query().Exist(ctx)
	return nil, anyAccount, classify(err)
}

// ByUsercode finds an account by its usercode.
func (s *Users) ByUsercode(ctx context.Context, code string) (User, error) {
	row, err := s.db.client.User.Query().Where(user.Usercode(code)).Only(ctx)
	if err != nil {
		return User{}, classify(err)
	}
	return toUser(row), nil
}

// ByUsernamePrefix lists up to limit accounts, other than excludeID, whose
// username starts with prefix ignoring case, by username. The prefix is
// matched as a range on the unique username_key index (key >= prefix AND
// key < prefix with its last byte incremented), an index scan on SQLite
// and on PostgreSQL alike (LIKE 'p%' is one on PostgreSQL only with
// text_pattern_ops or the C collation). prefix must be ASCII, as every
// username is; anything else matches nobody.
func (s *Users) ByUsernamePrefix(ctx context.Context, prefix string, excludeID, limit int) ([]User, error) {
	key := strings.ToLower(prefix)
	if key == "" || !isASCII(key) || key[len(key)-1] == 0x7f {
		return nil, nil
	}
	upper := key[:len(key)-1] + string(key[len(key)-1]+1)
	rows, err := s.db.client.User.Query().
		Where(user.UsernameKeyGTE(key), user.UsernameKeyLT(upper), user.IDNEQ(excludeID)).
		Order(ent.Asc(user.FieldUsernameKey)).
		Limit(limit).
		All(ctx)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]User, 0, len(rows))
	for _, r := range rows {
		// A collation other than byte order could let a neighbour in.
		if strings.HasPrefix(r.UsernameKey, key) {
			out = append(out, toUser(r))
		}
	}
	return out, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// SetLastSeen records that the accounts ids were last online at at.
//
// On PostgreSQL it locks the rows in ascending id order before updating
// them, as Messages.SaveBatch does: an UPDATE alone locks rows in the
// order its plan meets them (on a small table, a sequential scan in
// physical order, which every update reshuffles), and a presence sweep
// running beside a batch that shares its users would deadlock with it.
func (s *Users) SetLastSeen(ctx context.Context, ids []int, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if s.db.dialect != dialect.Postgres {
		// SQLite runs one writing transaction at a time (BEGIN
		// IMMEDIATE): there is no order to keep.
		return classify(s.db.client.User.Update().Where(user.IDIn(ids...)).SetLastSeenAt(at.UTC()).Exec(ctx))
	}
	sorted := make([]int64, len(ids))
	for i, id := range ids {
		sorted[i] = int64(id)
	}
	slices.Sort(sorted)
	tx, err := s.db.pool.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	defer func() { _ = tx.Rollback() }()
	// FOR NO KEY UPDATE, as SaveBatch takes: the lock the UPDATE itself
	// would take, so the UPDATE waits for nothing more.
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE`, sorted); err != nil {
		return classify(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET last_seen_at = $1 WHERE id = ANY($2::bigint[])`, at.UTC(), sorted); err != nil {
		return classify(err)
	}
	return classify(tx.Commit())
}

func toUser(u *ent.User) User {
	out := User{ID: u.ID, Username: u.Username, Email: u.Email, Usercode: u.Usercode, CreatedAt: u.CreatedAt.UTC(), Admin: u.Admin}
	if u.LastSeenAt != nil {
		t := u.LastSeenAt.UTC()
		out.LastSeenAt = &t
	}
	return out
}
