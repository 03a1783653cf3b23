package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"regexp"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/validation"
)

// Domain errors.
var (
	ErrUsernameTaken      = errors.New("username is already taken")
	ErrInvalidCredentials = errors.New("invalid username or password")
	ErrUnauthenticated    = errors.New("authentication required")
	// ErrBusy says every password-hashing slot stayed taken for the
	// whole wait: the server is saturated, the client should retry.
	ErrBusy = errors.New("too many password checks in progress")
)

// RateLimitedError says a rate limit was reached; retry after RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
	// What was limited, for people: "sign-in attempts", "registrations".
	What string
}

func (e *RateLimitedError) Error() string {
	what := e.What
	if what == "" {
		what = "attempts"
	}
	return fmt.Sprintf("too many %s, retry in %s", what, e.RetryAfter.Round(time.Second))
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
	User      User
}

// Service is the account and session use case.
type Service interface {
	// Register creates an account with a fresh unique usercode. Invalid
	// fields are a validation.Errors; a username taken (ignoring case) is
	// ErrUsernameTaken; too many registrations from clientIP are a
	// *RateLimitedError; no free hashing slot is ErrBusy.
	Register(ctx context.Context, username, email, password, clientIP string) (User, error)
	// Login checks the credentials and opens a session. Unknown users and
	// wrong passwords are the same ErrInvalidCredentials. The attempt is
	// counted before the password is checked; too many failures for the
	// username from clientIP, for the username overall or from clientIP
	// overall are a *RateLimitedError; no free hashing slot is ErrBusy.
	Login(ctx context.Context, username, password, clientIP string) (Session, error)
	// Logout revokes token on every pod at once.
	Logout(ctx context.Context, token string) error
	// Authenticate resolves token to its principal and slides its expiry;
	// an unknown or expired token is ErrUnauthenticated.
	Authenticate(ctx context.Context, token string) (Principal, error)
	// Me returns the caller's own account.
	Me(ctx context.Context, p Principal) (User, error)
}

// UserStore is the persistence auth needs. Create makes the account an
// admin when NewUser.FirstAdmin is set and it is the first account.
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

// Limiter counts attempts against limits in fixed windows; see RedisLimiter.
type Limiter interface {
	// Take counts one attempt against every key at once, unless a key has
	// already reached its limit: then nothing is counted and the error is
	// a *RateLimitedError. However many callers race, no key passes its
	// limit, because the check and the count are one step.
	Take(ctx context.Context, keys ...LimitKey) error
	// Refund takes back one attempt counted by Take from each key.
	Refund(ctx context.Context, keys ...LimitKey) error
	// Reset forgets every attempt counted against key.
	Reset(ctx context.Context, key LimitKey) error
}

// LimitKey is one rate-limited subject with its limit per window.
type LimitKey struct {
	Key    string
	Limit  int
	Window time.Duration
}

// LoginLimits bound failed logins per window (spec.auth.loginRateLimit).
type LoginLimits struct {
	Window    time.Duration
	PerUserIP int // one username from one client IP
	PerUser   int // one username from anywhere
	PerIP     int // one client IP, any username
}

// RegisterLimits bound registrations per window (spec.auth.registerRateLimit).
type RegisterLimits struct {
	Window time.Duration
	PerIP  int
}

// Options are the rules the service enforces, from spec.auth.
type Options struct {
	SessionTTL        time.Duration
	MinPasswordLength int
	Login             LoginLimits
	Register          RegisterLimits
	// HashSlots bounds the argon2id hashes and checks running at once;
	// 0 means GOMAXPROCS. HashWait is how long a request waits for a slot
	// before ErrBusy; 0 means DefaultHashWait.
	HashSlots int
	HashWait  time.Duration
	// FirstUserAdmin makes the first account registered an admin
	// (`messager all`, where no operator is around to grant it).
	FirstUserAdmin bool
	// OnLogin runs after each successful login (presence marks the user online).
	OnLogin func(ctx context.Context, p Principal)
}

// DefaultHashWait is how long a register or login waits for a hashing
// slot: long enough to ride out a burst, short enough that a client is
// told to come back rather than left hanging.
const DefaultHashWait = 2 * time.Second

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,32}$`)

type service struct {
	users    UserStore
	sessions SessionStore
	limiter  Limiter
	hasher   PasswordHasher
	slots    chan struct{}
	opts     Options
}

// NewService returns the auth service.
//
// Password hashes are bounded by a semaphore of opts.HashSlots (default
// GOMAXPROCS): argon2id with one lane is one core's work and takes 19 MiB
// while it runs, so more hashes at once than cores only queue inside the
// scheduler while holding their memory. GOMAXPROCS follows the container's
// CPU limit, so the bound, and the hashing memory (slots × 19 MiB), scale
// with the pod.
func NewService(users UserStore, sessions SessionStore, limiter Limiter, hasher PasswordHasher, opts Options) Service {
	if opts.HashSlots <= 0 {
		opts.HashSlots = runtime.GOMAXPROCS(0)
	}
	if opts.HashWait <= 0 {
		opts.HashWait = DefaultHashWait
	}
	return &service{users: users, sessions: sessions, limiter: limiter, hasher: hasher, slots: make(chan struct{}, opts.HashSlots), opts: opts}
}

// hashSlot waits up to opts.HashWait for a hashing slot; the caller calls
// the release it returns when the hash is done.
func (s *service) hashSlot(ctx context.Context) (release func(), err error) {
	release = func() { <-s.slots }
	select {
	case s.slots <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(s.opts.HashWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *service) hash(ctx context.Context, password string) (string, error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return s.hasher.Hash(password)
}

// verify checks password against hash, or spends the same work on a
// dummy hash when there is no account (hash ""), so timing does not
// reveal whether a username exists.
func (s *service) verify(ctx context.Context, password, hash string) (bool, error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	if hash == "" {
		s.hasher.Dummy(password)
		return false, nil
	}
	return s.hasher.Verify(password, hash)
}

func (s *service) Register(ctx context.Context, username, email, password, clientIP string) (User, error) {
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
	case len(password) > config.MaxPasswordBytes:
		errs.Add("password", fmt.Sprintf("must be at most %d bytes", config.MaxPasswordBytes))
	case utf8.RuneCountInString(password) < s.opts.MinPasswordLength:
		errs.Add("password", fmt.Sprintf("must be at least %d characters", s.opts.MinPasswordLength))
	}
	if err := errs.Err(); err != nil {
		return User{}, err
	}
	// Only valid requests count: they are the ones that cost a hash and a row.
	ipKey := LimitKey{Key: "register:ip:" + ipBucket(clientIP), Limit: s.opts.Register.PerIP, Window: s.opts.Register.Window}
	if err := s.limiter.Take(ctx, ipKey); err != nil {
		return User{}, limited(err, "registrations from your address")
	}
	hash, err := s.hash(ctx, password)
	if errors.Is(err, ErrBusy) {
		// Not the client's fault: let the retry through.
		return User{}, errors.Join(err, s.limiter.Refund(ctx, ipKey))
	}
	if err != nil {
		return User{}, err
	}
	// A usercode clash is rare (36^6 ≈ 2.2e9 codes) but possible: draw again.
	for attempt := 0; ; attempt++ {
		code, err := NewUsercode()
		if err != nil {
			return User{}, err
		}
		u, err := s.users.Create(ctx, storage.NewUser{Username: username, Email: email, PasswordHash: hash, Usercode: code, FirstAdmin: s.opts.FirstUserAdmin})
		var dup *storage.DuplicateError
		switch {
		case err == nil:
			return UserFrom(u), nil
		case errors.As(err, &dup) && dup.Field == "usercode" && attempt < 10:
			continue
		case errors.As(err, &dup) && dup.Field == "username":
			return User{}, ErrUsernameTaken
		default:
			return User{}, err
		}
	}
}

// validEmail accepts a bare address (no display name or comment) whose
// domain is made of DNS labels (letters, digits, inner hyphens; at most 63
// bytes; a TLD that is not all digits), and refuses invisible and
// direction-changing characters anywhere: an address shown to people must
// read as what it is.
func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp) || r == utf8.RuneError {
			return false
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	labels := strings.Split(s[strings.LastIndexByte(s, '@')+1:], ".")
	if len(labels) < 2 || strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return false
	}
	for _, l := range labels {
		if !validDomainLabel(l) {
			return false
		}
	}
	return true
}

func validDomainLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, r := range l {
		if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// limited names what a *RateLimitedError from the limiter limited.
func limited(err error, what string) error {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return &RateLimitedError{RetryAfter: rl.RetryAfter, What: what}
	}
	return err
}

// ipBucket is the client address a limit counts: the IP itself, or for
// IPv6 its /64, which one subscriber usually holds whole.
func ipBucket(clientIP string) string {
	ip := net.ParseIP(clientIP)
	if ip == nil || ip.To4() != nil {
		return clientIP
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// loginKeys are the limits one login attempt counts against. A name that
// cannot be a username shares one bucket, so junk input cannot grow Redis.
func (s *service) loginKeys(username, clientIP string) (userIP, user, ip LimitKey) {
	name := strings.ToLower(username)
	if !usernamePattern.MatchString(name) {
		name = "~invalid"
	}
	l := s.opts.Login
	ipb := ipBucket(clientIP)
	return LimitKey{Key: "login:userip:" + name + "|" + ipb, Limit: l.PerUserIP, Window: l.Window},
		LimitKey{Key: "login:user:" + name, Limit: l.PerUser, Window: l.Window},
		LimitKey{Key: "login:ip:" + ipb, Limit: l.PerIP, Window: l.Window}
}

func (s *service) Login(ctx context.Context, username, password, clientIP string) (Session, error) {
	username = strings.TrimSpace(username)
	userIPKey, userKey, ipKey := s.loginKeys(username, clientIP)
	// Count first, check the password after: a burst of parallel guesses
	// gets exactly as many checks as the limits allow.
	if err := s.limiter.Take(ctx, userIPKey, userKey, ipKey); err != nil {
		return Session{}, limited(err, "sign-in attempts")
	}
	u, err := s.checkPassword(ctx, username, password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return Session{}, err // the failure stays counted
	case err != nil:
		// A busy server or an outage is not a failed guess.
		return Session{}, errors.Join(err, s.limiter.Refund(ctx, userIPKey, userKey, ipKey))
	}
	// The owner proved the password from this address: forget their typos
	// here and give back this attempt. The per-username and per-IP counts
	// keep everyone else's failures: signing in must not wipe the count of
	// a guesser working from other addresses.
	if err := s.limiter.Reset(ctx, userIPKey); err != nil {
		return Session{}, err
	}
	if err := s.limiter.Refund(ctx, userKey, ipKey); err != nil {
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

// checkPassword returns the account when password is its password, else
// ErrInvalidCredentials (also for an unknown username, after the same work).
func (s *service) checkPassword(ctx context.Context, username, password string) (User, error) {
	var (
		u    storage.User
		hash string
		err  = storage.ErrNotFound
	)
	// A name no account can have is not looked up: it may hold what the
	// database refuses to compare (PostgreSQL and U+0000), and the answer
	// is known anyway.
	if usernamePattern.MatchString(strings.ToLower(username)) {
		u, hash, err = s.users.ByUsername(ctx, username)
	}
	if errors.Is(err, storage.ErrNotFound) || len(password) > config.MaxPasswordBytes {
		hash = ""
	} else if err != nil {
		return User{}, err
	}
	ok, err := s.verify(ctx, password, hash)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, ErrInvalidCredentials
	}
	return UserFrom(u), nil
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

func (s *service) Me(ctx context.Context, p Principal) (User, error) {
	u, err := s.users.ByID(ctx, p.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return User{}, ErrUnauthenticated
	}
	if err != nil {
		return User{}, err
	}
	return UserFrom(u), nil
}
