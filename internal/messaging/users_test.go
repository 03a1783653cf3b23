package messaging

import (
	"context"
	"testing"

	"github.com/messager/messager/internal/storage"
)

type countingUsers struct {
	calls int
	known map[string]storage.User
}

func (c *countingUsers) ByUsercode(_ context.Context, code string) (storage.User, error) {
	c.calls++
	if u, ok := c.known[code]; ok {
		return u, nil
	}
	return storage.User{}, storage.ErrNotFound
}

func TestCachedUsers_HitsSkipTheStoreAndMissesAreRetried(t *testing.T) {
	store := &countingUsers{known: map[string]storage.User{"AAAAAA": {ID: 7, Usercode: "AAAAAA"}}}
	users := NewCachedUsers(store, 10)
	for i := 0; i < 3; i++ {
		if u, err := users.ByUsercode(context.Background(), "AAAAAA"); err != nil || u.ID != 7 {
			t.Fatalf("lookup %d: %+v %v", i, u, err)
		}
	}
	if store.calls != 1 {
		t.Fatalf("store asked %d times for a cached user, want 1", store.calls)
	}
	if _, err := users.ByUsercode(context.Background(), "BBBBBB"); err != storage.ErrNotFound {
		t.Fatalf("unknown code: %v", err)
	}
	store.known["BBBBBB"] = storage.User{ID: 8, Usercode: "BBBBBB"}
	if u, err := users.ByUsercode(context.Background(), "BBBBBB"); err != nil || u.ID != 8 {
		t.Fatalf("a user who registered after a miss is not found: %+v %v", u, err)
	}
}
