package storage

import (
	"context"
	"strings"
	"time"

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
}

// NewUser is what registration stores.
type NewUser struct {
	Username     string
	Email        string
	PasswordHash string
	Usercode     string
}

// Users stores accounts.
type Users struct{ db *DB }

// Users returns the account store.
func (d *DB) Users() *Users { return &Users{db: d} }

// Create inserts u. A clash on the case-insensitive username or on the
// usercode is a *DuplicateError naming "username" or "usercode".
func (s *Users) Create(ctx context.Context, u NewUser) (User, error) {
	row, err := s.db.Ent.User.Create().
		SetUsername(u.Username).
		SetUsernameKey(strings.ToLower(u.Username)).
		SetEmail(u.Email).
		SetPasswordHash(u.PasswordHash).
		SetUsercode(u.Usercode).
		Save(ctx)
	if err != nil {
		err = classify(err, "username", "usercode")
		if d, ok := err.(*DuplicateError); ok && d.Field == "username" && strings.Contains(err.Error(), "usercode") {
			d.Field = "usercode"
		}
		return User{}, err
	}
	return toUser(row), nil
}

// ByUsername finds an account by username, ignoring case, with its password hash.
func (s *Users) ByUsername(ctx context.Context, username string) (User, string, error) {
	row, err := s.db.Ent.User.Query().Where(user.UsernameKey(strings.ToLower(username))).Only(ctx)
	if err != nil {
		return User{}, "", classify(err)
	}
	return toUser(row), row.PasswordHash, nil
}

// ByID finds an account by id.
func (s *Users) ByID(ctx context.Context, id int) (User, error) {
	row, err := s.db.Ent.User.Get(ctx, id)
	if err != nil {
		return User{}, classify(err)
	}
	return toUser(row), nil
}

// ByUsercode finds an account by its usercode.
func (s *Users) ByUsercode(ctx context.Context, code string) (User, error) {
	row, err := s.db.Ent.User.Query().Where(user.Usercode(code)).Only(ctx)
	if err != nil {
		return User{}, classify(err)
	}
	return toUser(row), nil
}

func toUser(u *ent.User) User {
	return User{ID: u.ID, Username: u.Username, Email: u.Email, Usercode: u.Usercode, CreatedAt: u.CreatedAt.UTC()}
}
