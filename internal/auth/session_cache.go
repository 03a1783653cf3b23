package auth

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// SessionCache keeps the sessions this pod looked up lately, so a client
// that sends several requests in a row pays the session store's round
// trip once, not on every request (at 250 messages a second that round
// trip was one of three each send made to Redis; docs/benchmarks.md,
// issue 12).
//
// A cached session is trusted for at most MaxSessionCacheAge (and at most
// half the session TTL), then looked up again, which also pushes its
// expiry ahead: a session used without pause still never expires. It is
// forgotten at once
//   - on this pod, when it is logged out here (Store's Delete);
//   - on every pod, when the logout's announcement arrives on the event bus
//     (stream.WithSessionCache calls Forget);
//   - entirely, whenever the bus may have missed an announcement: its
//     subscription broke or was (re)established (ForgetAll).
//
// So a logout takes effect on other pods as soon as the bus brings it, a
// millisecond or so, as the end of its streams always has; and were an
// announcement ever lost with the bus unaware, a revoked session would
// still be refused within MaxSessionCacheAge.
type SessionCache struct {
	maxAge time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries *simplelru.LRU[string, cachedSession] // by SessionID
	// gen counts forgets. A lookup that went to the store caches its
	// answer only if no forget happened meanwhile: the store may have
	// answered before a logout that was announced before the answer came.
	gen uint64
}

type cachedSession struct {
	p       Principal
	expires time.Time
}

// MaxSessionCacheAge bounds how long a SessionCache trusts a session
// without asking the store again, and so how long a revoked session could
// still be accepted on a pod that missed the revocation's announcement.
const MaxSessionCacheAge = 10 * time.Second

// DefaultSessionCacheSize bounds the sessions a SessionCache keeps (about
// 150 bytes each); the least recently used go first.
const DefaultSessionCacheSize = 100_000

// NewSessionCache returns an empty cache of at most size sessions, each
// trusted for at most maxAge (capped at MaxSessionCacheAge).
func NewSessionCache(size int, maxAge time.Duration) *SessionCache {
	entries, err := simplelru.NewLRU[string, cachedSession](max(size, 1), nil)
	if err != nil {
		panic(err) // only for a size < 1, ruled out above
	}
	return &SessionCache{maxAge: min(maxAge, MaxSessionCacheAge), now: time.Now, entries: entries}
}

// Forget drops the session sessionID (SessionID of its token).
func (c *SessionCache) Forget(sessionID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries.Remove(sessionID)
}

// ForgetAll drops every session.
func (c *SessionCache) ForgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries.Purge()
}

// get returns the cached principal of id while it is fresh, and the
// generation a store lookup made now must still see to cache its answer.
func (c *SessionCache) get(id string) (Principal, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries.Get(id)
	if ok && c.now().Before(e.expires) {
		return e.p, true, c.gen
	}
	if ok {
		c.entries.Remove(id)
	}
	return Principal{}, false, c.gen
}

// put caches p for id, unless a forget happened since gen.
func (c *SessionCache) put(id string, p Principal, ttl time.Duration, gen uint64) {
	age := min(c.maxAge, ttl/2)
	if age <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c.entries.Add(id, cachedSession{p: p, expires: c.now().Add(age)})
}

// Store wraps next so that lookups are served from c while fresh, and a
// session deleted through it is forgotten first.
func (c *SessionCache) Store(next SessionStore) SessionStore {
	return cachedStore{next: next, cache: c}
}

type cachedStore struct {
	next  SessionStore
	cache *SessionCache
}

func (s cachedStore) Create(ctx context.Context, p Principal, ttl time.Duration) (string, error) {
	return s.next.Create(ctx, p, ttl)
}

func (s cachedStore) Lookup(ctx context.Context, token string, ttl time.Duration) (Principal, error) {
	if len(token) > maxTokenLength {
		return Principal{}, ErrUnauthenticated
	}
	id := SessionID(token)
	p, ok, gen := s.cache.get(id)
	if ok {
		return p, nil
	}
	p, err := s.next.Lookup(ctx, token, ttl)
	if err == nil {
		s.cache.put(id, p, ttl, gen)
	}
	return p, err
}

func (s cachedStore) Delete(ctx context.Context, token string) error {
	id := SessionID(token)
	s.cache.Forget(id)
	err := s.next.Delete(ctx, token)
	// Again: a lookup that raced the delete may have cached it meanwhile.
	s.cache.Forget(id)
	return err
}
