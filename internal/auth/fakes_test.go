package auth

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/messager/messager/internal/storage"
)

// memUsers is an in-memory UserStore with the real store's uniqueness
// rules: usernames unique ignoring case, usercodes unique.
type memUsers struct {
	mu     sync.Mutex
	byKey  map[string]storage.User
	hashes map[string]string
	codes  map[string]bool
	// clashes makes the next Create calls fail on the usercode, to test retries.
	clashes int
	creates int
}

func newMemUsers() *memUsers {
	return &memUsers{byKey: map[string]storage.User{}, hashes: map[string]string{}, codes: map[string]bool{}}
}

func (m *memUsers) Create(_ context.Context, u storage.NewUser) (storage.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creates++
	if m.clashes > 0 {
		m.clashes--
		return storage.User{}, &storage.DuplicateError{Field: "usercode"}
	}
	key := strings.ToLower(u.Username)
	if _, ok := m.byKey[key]; ok {
		return storage.User{}, &storage.DuplicateError{Field: "username"}
	}
	if m.codes[u.Usercode] {
		return storage.User{}, &storage.DuplicateError{Field: "usercode"}
	}
	su := storage.User{ID: len(m.byKey) + 1, Username: u.Username, Email: u.Email, Usercode: u.Usercode, CreatedAt: time.Now().UTC(), Admin: u.FirstAdmin && len(m.byKey) == 0}
	m.byKey[key] = su
	m.hashes[key] = u.PasswordHash
	m.codes[u.Usercode] = true
	return su, nil
}

func (m *memUsers) ByUsername(_ context.Context, username string) (storage.User, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := strings.ToLower(username)
	u, ok := m.byKey[key]
	if !ok {
		return storage.User{}, "", storage.ErrNotFound
	}
	return u, m.hashes[key], nil
}

func (m *memUsers) ByID(_ context.Context, id int) (storage.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.byKey {
		if u.ID == id {
			return u, nil
		}
	}
	return storage.User{}, storage.ErrNotFound
}

type memSessions struct {
	mu sync.Mutex
	m  map[string]Principal
	n  int
}

func newMemSessions() *memSessions { return &memSessions{m: map[string]Principal{}} }

func (s *memSessions) Create(_ context.Context, p Principal, _ time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	tok := strings.Repeat("t", 10) + string(rune('a'+s.n%26))
	s.m[tok] = p
	return tok, nil
}

func (s *memSessions) Lookup(_ context.Context, token string, _ time.Duration) (Principal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.m[token]
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	return p, nil
}

func (s *memSessions) Delete(_ context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, token)
	return nil
}

// memLimiter counts attempts per key without a window.
type memLimiter struct {
	mu    sync.Mutex
	count map[string]int
}

func newMemLimiter() *memLimiter { return &memLimiter{count: map[string]int{}} }

func (l *memLimiter) Take(_ context.Context, keys ...LimitKey) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if l.count[k.Key] >= k.Limit {
			return &RateLimitedError{RetryAfter: time.Minute}
		}
	}
	for _, k := range keys {
		l.count[k.Key]++
	}
	return nil
}

func (l *memLimiter) Refund(_ context.Context, keys ...LimitKey) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if l.count[k.Key] > 0 {
			l.count[k.Key]--
		}
	}
	return nil
}

func (l *memLimiter) Reset(_ context.Context, k LimitKey) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.count, k.Key)
	return nil
}

func testOptions() Options {
	return Options{
		SessionTTL: time.Hour, MinPasswordLength: 8,
		Login:    LoginLimits{Window: time.Minute, PerUserIP: 5, PerUser: 20, PerIP: 50},
		Register: RegisterLimits{Window: time.Minute, PerIP: 100},
	}
}
