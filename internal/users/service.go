package users

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/validation"
)

// ErrNotFound says no account has the usercode asked for.
var ErrNotFound = errors.New("no user has that usercode")

// Limits of a search.
const (
	// MaxResults bounds one search's answer.
	MaxResults = 20
	// MaxQueryLength bounds q, in characters (a username is at most 32).
	MaxQueryLength = 32
	// SearchesPerMinute is how many searches one user may make a minute:
	// enough for search-as-you-type, too few to walk the directory.
	SearchesPerMinute = 30
)

// Person is a user as other users see them.
type Person struct {
	ID       int    `json:"-"`
	Usercode string `json:"usercode"`
	Username string `json:"username"`
	Online   bool   `json:"online"`
	// LastSeen is when the person last went offline: nil while online or
	// when they never were.
	LastSeen *time.Time `json:"last_seen"`
}

// SearchLimitedError is Search's answer to a caller over
// SearchesPerMinute. It is users' own error, not the limiter's
// *auth.RateLimitedError (which auth answers with sign-in advice), and it
// does not unwrap to it, so the search's own answer is the one given.
type SearchLimitedError struct {
	// RetryAfter is when the caller may search again.
	RetryAfter time.Duration
}

func (e *SearchLimitedError) Error() string {
	return fmt.Sprintf("too many searches, retry in %s", e.RetryAfter.Round(time.Second))
}

// Service finds people.
type Service interface {
	// Search lists up to MaxResults people other than the caller whose
	// username starts with q ignoring case, or whose usercode is q: the
	// usercode match first, then by username. q must be 1 to
	// MaxQueryLength characters (validation.Errors); more than
	// SearchesPerMinute searches a minute are a *SearchLimitedError.
	Search(ctx context.Context, caller auth.Principal, q string) ([]Person, error)
	// Get returns the person with usercode; ErrNotFound if there is none.
	Get(ctx context.Context, caller auth.Principal, usercode string) (Person, error)
}

// Directory reads accounts; *storage.Users.
type Directory interface {
	ByUsercode(ctx context.Context, code string) (storage.User, error)
	ByUsernamePrefix(ctx context.Context, prefix string, excludeID, limit int) ([]storage.User, error)
}

// Presence tells who is online; *presence.Tracker.
type Presence interface {
	OnlineAmong(ctx context.Context, ids []int) ([]bool, error)
}

type service struct {
	dir      Directory
	presence Presence
	limiter  auth.Limiter
}

// NewService returns the service; limiter counts searches per user.
func NewService(dir Directory, presence Presence, limiter auth.Limiter) Service {
	return &service{dir: dir, presence: presence, limiter: limiter}
}

func (s *service) Search(ctx context.Context, caller auth.Principal, q string) ([]Person, error) {
	q = strings.TrimSpace(q)
	var errs validation.Errors
	switch n := utf8.RuneCountInString(q); {
	case n == 0:
		errs.Add("q", "is required: the start of a username, or a usercode")
	case n > MaxQueryLength || validation.HasNUL(q) || !utf8.ValidString(q):
		errs.Add("q", fmt.Sprintf("must be at most %d characters of text", MaxQueryLength))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	key := auth.LimitKey{Key: "users:search:" + strconv.Itoa(caller.UserID), Limit: SearchesPerMinute, Window: time.Minute}
	if err := s.limiter.Take(ctx, key); err != nil {
		var rl *auth.RateLimitedError
		if errors.As(err, &rl) {
			return nil, &SearchLimitedError{RetryAfter: rl.RetryAfter}
		}
		return nil, err
	}
	var found []storage.User
	if code := strings.ToUpper(q); auth.ValidUsercode(code) {
		u, err := s.dir.ByUsercode(ctx, code)
		switch {
		case err == nil && u.ID != caller.UserID:
			found = append(found, u)
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return nil, err
		}
	}
	byName, err := s.dir.ByUsernamePrefix(ctx, q, caller.UserID, MaxResults)
	if err != nil {
		return nil, err
	}
	for _, u := range byName {
		if len(found) == MaxResults {
			break
		}
		if len(found) == 0 || found[0].ID != u.ID {
			found = append(found, u)
		}
	}
	return s.people(ctx, found)
}

func (s *service) Get(ctx context.Context, _ auth.Principal, usercode string) (Person, error) {
	code := strings.ToUpper(strings.TrimSpace(usercode))
	if !auth.ValidUsercode(code) {
		return Person{}, ErrNotFound
	}
	u, err := s.dir.ByUsercode(ctx, code)
	if errors.Is(err, storage.ErrNotFound) {
		return Person{}, ErrNotFound
	}
	if err != nil {
		return Person{}, err
	}
	people, err := s.people(ctx, []storage.User{u})
	if err != nil {
		return Person{}, err
	}
	return people[0], nil
}

// people adds presence to accounts.
func (s *service) people(ctx context.Context, us []storage.User) ([]Person, error) {
	out := make([]Person, len(us))
	if len(us) == 0 {
		return out, nil
	}
	ids := make([]int, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	online, err := s.presence.OnlineAmong(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, u := range us {
		out[i] = Person{ID: u.ID, Usercode: u.Usercode, Username: u.Username, Online: online[i]}
		if !online[i] {
			out[i].LastSeen = u.LastSeenAt
		}
	}
	return out, nil
}
