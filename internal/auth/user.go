package auth

import (
	"time"

	"github.com/messager/messager/internal/storage"
)

// User is an account as the auth service returns it. It is auth's own
// type, not the storage record, so that what the service promises its
// callers does not change when storage does.
type User struct {
	ID        int
	Username  string
	Email     string
	Usercode  string
	CreatedAt time.Time
	// Admin opens the task monitor; only an operator grants it.
	Admin bool
}

// UserFrom is the stored account u as auth returns it: the conversion at
// the service boundary, for the service and for commands that read
// accounts from storage directly (`messager admin`).
func UserFrom(u storage.User) User {
	return User{ID: u.ID, Username: u.Username, Email: u.Email, Usercode: u.Usercode, CreatedAt: u.CreatedAt, Admin: u.Admin}
}
