package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/messager/messager/pkg/storage"
	"github.com/messager/messager/pkg/validation"
)

// Domain errors.
var (
	ErrUsernameTaken      = errors.New("username is already taken")
	ErrInvalidCredentials = errors.New("invalid username or password")
	ErrUnauthenticated    = errors.New("authentication required")
)

// RateLimitedError says too many failed logins were seen; retry after RetryAfter.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed logins, retry in %s", e.RetryAfter.Round(time.Second))
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID   int    `json:"uid"`
	Username string `json:"un"`
	Usercode string `json:"uc"`
}

// Session is an open session as returned by Login.
type Session struct {
	Token     string
	ExpiresAt time.Time
	User      storage.User
}

// Service is the account and session use case.
type Service interface {
	// Register creates an account with a fresh unique usercode. Invalid
	// fields are a validation.Errors; a username taken (ignoring case) is
	// ErrUsernameTaken.
	Register(ctx context.Context, username, email, password string) (storage.User, error)
	// Login checks the credentials and opens a session. Unknown users and
	// wrong passwords are the same ErrInvalidCredentials; too many
	// failures per username or per client IP are a *RateLimitedError.
	Login(ctx context.Context, username, password, clientIP string) (Session, error)
	// Logout revokes token on every pod at once.
	Logout(ctx context.Context, token string) error
	// Authenticate resolves token to its principal and slides its expiry;
	// an unknown or expired token is ErrUnauthenticated.
	Authenticate(ctx context.Context, token string) (Principal, error)
	// Me returns the caller's own account.
	Me(ctx context.Context, p Principal) (storage.User, error)
}

// UserStore is the persistence auth needs.
type UserStore interface {
	Create(ctx context.Context, u storage.NewUser) (storage.User, error)
	ByUsername(ctx context.Context, username string) (storage.User, string, error)
	ByID(ctx context.Context, id int) (storage.User, error)
}

// SessionStore keeps sessions; see RedisSessions.
type SessionStore interface {
	Create(ctx context.Context, p Principal, ttl time.Duration) (token string, err error)
	Lookup(ctx context.Context, token string, ttl time.Duration) (Principal, error)
	Delete(ctx context.Context, token string) error
}

// FailureLimiter counts failed logins; see RedisLimiter.
type FailureLimiter interface {
	// Check returns a *RateLimitedError when any key is over its limit.
	Check(ctx context.Context, keys ...LimitKey) error
	// Fail counts one failure against each key.
	Fail(ctx context.Context, keys ...LimitKey) error
	// Reset forgets the failures of key.
	Reset(ctx context.Context, key LimitKey) error
}

// LimitKey is one rate-limited subject with its limit.
type LimitKey struct {
	Key   string
	Limit int
}

// Options are the rules the service enforces, from spec.auth.
type Options struct {
	SessionTTL        time.Duration
	MinPasswordLength int
	LoginWindow       time.Duration
	FailuresPerUser   int
	FailuresPerIP     int
	// OnLogin runs after each successful login (presence marks the user online).
	OnLogin func(ctx context.Context, p Principal)
}

// MaxPasswordBytes bounds passwords; argon2id reads every byte, so this
// only limits work per request.
const MaxPasswordBytes = 256

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,32}$`)

type service struct {
	users    UserStore
	sessions SessionStore
	limiter  FailureLimiter
	hasher   PasswordHasher
	opts     Options
}

// NewService returns the auth service.
func NewService(users UserStore, sessions SessionStore, limiter FailureLimiter, hasher PasswordHasher, opts Options) Service {
	return &service{users: users, sessions: sessions, limiter: limiter, hasher: hasher, opts: opts}
}

func (s *service) Register(ctx context.Context, username, email, password string) (storage.User, error) {
	username = strings.TrimSpace(username)
	email = strings.TrimSpace(email)
	var errs validation.Errors
	if !usernamePattern.MatchString(username) {
		errs.Add("username", "must be 3 to 32 letters, digits, '_', '.' or '-'")
	}
	if !validEmail(email) {
		errs.Add("email", "must be an email address such as name@example.com")
	}
	switch {
	case len(password) > MaxPasswordBytes:
		errs.Add("password", fmt.Sprintf("must be at most %d bytes", MaxPasswordBytes))
	case utf8.RuneCountInString(password) < s.opts.MinPasswordLength:
		errs.Add("password", fmt.Sprintf("must be at least %d characters", s.opts.MinPasswordLength))
	}
	if err := errs.Err(); err != nil {
		return storage.User{}, err
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return storage.User{}, err
	}
	// A usercode clash is rare (36^6 ≈ 2.2e9 codes) but possible: draw again.
	for attempt := 0; ; attempt++ {
		code, err := NewUsercode()
		if err != nil {
			return storage.User{}, err
		}
		u, err := s.users.Create(ctx, storage.NewUser{Username: username, Email: email, PasswordHash: hash, Usercode: code})
		var dup *storage.DuplicateError
		switch {
		case err == nil:
			return u, nil
		case errors.As(err, &dup) && dup.Field == "usercode" && attempt < 10:
			continue
		case errors.As(err, &dup) && dup.Field == "username":
			return storage.User{}, ErrUsernameTaken
		default:
			return storage.User{}, err
		}
	}
}

func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	// Only a bare address: no display name, no comments.
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndexByte(s, '@'):], ".")
}

func (s *service) Login(ctx context.Context, username, password, clientIP string) (Session, error) {
	userKey := LimitKey{Key: "user:" + strings.ToLower(username), Limit: s.opts.FailuresPerUser}
	ipKey := LimitKey{Key: "ip:" + clientIP, Limit: s.opts.FailuresPerIP}
	if err := s.limiter.Check(ctx, userKey, ipKey); err != nil {
		return Session{}, err
	}
	u, hash, err := s.users.ByUsername(ctx, username)
	if errors.Is(err, storage.ErrNotFound) || len(password) > MaxPasswordBytes {
		// Spend the same work as a real check so timing does not reveal
		// whether the username exists.
		s.hasher.Dummy(password)
		return Session{}, s.fail(ctx, userKey, ipKey)
	}
	if err != nil {
		return Session{}, err
	}
	ok, err := s.hasher.Verify(password, hash)
	if err != nil {
		return Session{}, err
	}
	if !ok {
		return Session{}, s.fail(ctx, userKey, ipKey)
	}
	if err := s.limiter.Reset(ctx, userKey); err != nil {
		return Session{}, err
	}
	p := Principal{UserID: u.ID, Username: u.Username, Usercode: u.Usercode}
	token, err := s.sessions.Create(ctx, p, s.opts.SessionTTL)
	if err != nil {
		return Session{}, err
	}
	if s.opts.OnLogin != nil {
		s.opts.OnLogin(ctx, p)
	}
	return Session{Token: token, ExpiresAt: time.Now().Add(s.opts.SessionTTL).UTC(), User: u}, nil
}

func (s *service) fail(ctx context.Context, keys ...LimitKey) error {
	if err := s.limiter.Fail(ctx, keys...); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

func (s *service) Logout(ctx context.Context, token string) error {
	return s.sessions.Delete(ctx, token)
}

func (s *service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrUnauthenticated
	}
	return s.sessions.Lookup(ctx, token, s.opts.SessionTTL)
}

func (s *service) Me(ctx context.Context, p Principal) (storage.User, error) {
	u, err := s.users.ByID(ctx, p.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, ErrUnauthenticated
	}
	return u, err
}
