package messaging

import (
	"context"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/messager/messager/internal/storage"
)

// cachedUsers remembers recipients by usercode so a direct message does
// not cost a database query. Usercodes never change and accounts are never
// deleted, so a cached answer cannot go stale; misses are not cached,
// because the user may register a moment later.
type cachedUsers struct {
	next  Users
	cache *lru.Cache[string, storage.User]
}

// NewCachedUsers wraps next with an LRU of size entries.
func NewCachedUsers(next Users, size int) Users {
	c, err := lru.New[string, storage.User](size)
	if err != nil {
		return next // only for size <= 0: no cache
	}
	return &cachedUsers{next: next, cache: c}
}

func (c *cachedUsers) ByUsercode(ctx context.Context, code string) (storage.User, error) {
	if u, ok := c.cache.Get(code); ok {
		return u, nil
	}
	u, err := c.next.ByUsercode(ctx, code)
	if err == nil {
		c.cache.Add(code, u)
	}
	return u, err
}
