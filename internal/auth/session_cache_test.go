package auth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// countingSessions is memSessions that counts lookups, and can hold one
// lookup between reading the session and answering (held/release).
type countingSessions struct {
	*memSessions
	mu      sync.Mutex
	lookups int
	held    chan struct{} // closed once a held lookup has read the session
	release chan struct{}
}

func (s *countingSessions) Lookup(ctx context.Context, token string, ttl time.Duration) (Principal, error) {
	s.mu.Lock()
	s.lookups++
	held, release := s.held, s.release
	s.held, s.release = nil, nil
	s.mu.Unlock()
	p, err := s.memSessions.Lookup(ctx, token, ttl)
	if held != nil {
		close(held)
		<-release
	}
	return p, err
}

func (s *countingSessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups
}

// holdNext makes the next lookup wait, once it has read the session,
// until the returned release is called; held is closed when it has read.
func (s *countingSessions) holdNext() (held <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, r := make(chan struct{}), make(chan struct{})
	s.held, s.release = h, r
	return h, func() { close(r) }
}

type cacheFixture struct {
	store *countingSessions
	cache *SessionCache
	now   time.Time
	token string
	p     Principal
}

func newCacheFixture(t *testing.T) *cacheFixture {
	t.Helper()
	f := &cacheFixture{store: &countingSessions{memSessions: newMemSessions()}, now: time.Unix(1_800_000_000, 0)}
	f.cache = NewSessionCache(8, MaxSessionCacheAge)
	f.cache.now = func() time.Time { return f.now }
	f.p = Principal{UserID: 7, Username: "ann", Usercode: "ANN123"}
	var err error
	if f.token, err = f.store.Create(context.Background(), f.p, time.Hour); err != nil {
		t.Fatal(err)
	}
	return f
}

// lookup looks the fixture's token up through the cache and checks the
// answer.
func (f *cacheFixture) lookup(t *testing.T, store SessionStore, wantErr error) {
	t.Helper()
	p, err := store.Lookup(context.Background(), f.token, time.Hour)
	if !errors.Is(err, wantErr) {
		t.Fatalf("lookup: err %v, want %v", err, wantErr)
	}
	if err == nil && p != f.p {
		t.Fatalf("lookup: %+v, want %+v", p, f.p)
	}
}

func TestSessionCache_AnswersRepeatedLookupsWithoutTheStoreUntilTheyAge(t *testing.T) {
	f := newCacheFixture(t)
	store := f.cache.Store(f.store)
	for range 5 {
		f.lookup(t, store, nil)
	}
	if n := f.store.count(); n != 1 {
		t.Fatalf("5 lookups in a row reached the store %d times, want 1", n)
	}
	f.now = f.now.Add(MaxSessionCacheAge - time.Millisecond)
	f.lookup(t, store, nil)
	if n := f.store.count(); n != 1 {
		t.Fatalf("a lookup within the cache age reached the store: %d lookups", n)
	}
	// Aged out: asked again, which also pushes the session's expiry ahead.
	f.now = f.now.Add(time.Millisecond)
	f.lookup(t, store, nil)
	if n := f.store.count(); n != 2 {
		t.Fatalf("a lookup after the cache age: %d store lookups, want 2", n)
	}
}

func TestSessionCache_TrustsASessionForAtMostHalfItsTTL(t *testing.T) {
	f := newCacheFixture(t)
	store := f.cache.Store(f.store)
	ttl := 4 * time.Second // shorter than MaxSessionCacheAge
	for _, step := range []time.Duration{0, time.Second, time.Second} {
		f.now = f.now.Add(step)
		if _, err := store.Lookup(context.Background(), f.token, ttl); err != nil {
			t.Fatal(err)
		}
	}
	// Lookups at 0, 1 s and 2 s: the third is past ttl/2 of the first.
	if n := f.store.count(); n != 2 {
		t.Fatalf("store lookups %d, want 2: a session must be asked for again within half its TTL", n)
	}
}

func TestSessionCache_ForgetsASessionLoggedOutHereOrAnnounced(t *testing.T) {
	f := newCacheFixture(t)
	store := f.cache.Store(f.store)
	f.lookup(t, store, nil)
	// A logout on another pod: the store no longer has it, the bus says so.
	if err := f.store.Delete(context.Background(), f.token); err != nil {
		t.Fatal(err)
	}
	f.cache.Forget(SessionID(f.token))
	f.lookup(t, store, ErrUnauthenticated)

	f = newCacheFixture(t)
	store = f.cache.Store(f.store)
	f.lookup(t, store, nil)
	// A logout through this pod's store.
	if err := store.Delete(context.Background(), f.token); err != nil {
		t.Fatal(err)
	}
	f.lookup(t, store, ErrUnauthenticated)

	f = newCacheFixture(t)
	store = f.cache.Store(f.store)
	f.lookup(t, store, nil)
	if err := f.store.Delete(context.Background(), f.token); err != nil {
		t.Fatal(err)
	}
	f.cache.ForgetAll()
	f.lookup(t, store, ErrUnauthenticated)
}

func TestSessionCache_DoesNotCacheAnAnswerOverTakenByAForget(t *testing.T) {
	f := newCacheFixture(t)
	store := f.cache.Store(f.store)
	held, release := f.store.holdNext()
	done := make(chan error, 1)
	go func() {
		_, err := store.Lookup(context.Background(), f.token, time.Hour)
		done <- err
	}()
	<-held
	// The store has answered "valid"; the logout lands before the answer
	// reaches the cache.
	if err := f.store.Delete(context.Background(), f.token); err != nil {
		t.Fatal(err)
	}
	f.cache.Forget(SessionID(f.token))
	release()
	if err := <-done; err != nil {
		t.Fatalf("the lookup in flight: %v (it began before the logout, so it may pass)", err)
	}
	f.lookup(t, store, ErrUnauthenticated)
}

func TestSessionCache_NeverCachesARefusal(t *testing.T) {
	f := newCacheFixture(t)
	store := f.cache.Store(f.store)
	other := "no-such-token"
	for range 2 {
		if _, err := store.Lookup(context.Background(), other, time.Hour); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("unknown token: %v", err)
		}
	}
	if n := f.store.count(); n != 2 {
		t.Fatalf("store lookups %d, want 2: a refusal must not be cached (the session may be created a moment later)", n)
	}
}
