package auth

import (
	"testing"
	"time"

	"github.com/messager/messager/internal/storage"
)

// Every field auth promises is carried over from the stored account.
func TestUserFrom_CarriesTheAccount(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	got := UserFrom(storage.User{ID: 7, Username: "Ann", Email: "ann@example.com", Usercode: "ANN001", CreatedAt: at, Admin: true, LastSeenAt: &at})
	want := User{ID: 7, Username: "Ann", Email: "ann@example.com", Usercode: "ANN001", CreatedAt: at, Admin: true}
	if got != want {
		t.Fatalf("UserFrom = %+v, want %+v", got, want)
	}
}
