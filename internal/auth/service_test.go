package auth

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/testenv"
	"github.com/messager/messager/internal/validation"
)

func TestNewUsercode_SixCharactersFromAlphabet(t *testing.T) {
	for range 1000 {
		c, err := NewUsercode()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != UsercodeLength || !ValidUsercode(c) {
			t.Fatalf("usercode %q is not 6 characters of A-Z0-9", c)
		}
	}
}

// TestNewUsercode_RoughlyUniform draws 120,000 characters and checks the
// chi-square statistic over the 36 symbols and the count per position;
// a modulo bias (256 % 36 = 4) would push the first four symbols up ~11%.
func TestNewUsercode_RoughlyUniform(t *testing.T) {
	const draws = 20000
	var counts [36]int
	var posCounts [UsercodeLength][36]int
	for range draws {
		c, err := NewUsercode()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(c); i++ {
			k := strings.IndexByte(usercodeAlphabet, c[i])
			if k < 0 {
				t.Fatalf("character %q outside the alphabet", c[i])
			}
			counts[k]++
			posCounts[i][k]++
		}
	}
	total := float64(draws * UsercodeLength)
	exp := total / 36
	chi := 0.0
	for _, n := range counts {
		chi += math.Pow(float64(n)-exp, 2) / exp
	}
	// 35 degrees of freedom: p=0.0001 is about 74; 100 leaves room so this
	// never flakes while an 11% bias (chi ≈ 150) still fails.
	if chi > 100 {
		t.Fatalf("chi-square %.1f over 35 df: not uniform: %v", chi, counts)
	}
	for pos, pc := range posCounts {
		for k, n := range pc {
			if n < draws/36*7/10 {
				t.Fatalf("position %d: %q drawn %d times of %d, far below uniform", pos, usercodeAlphabet[k], n, draws)
			}
		}
	}
}

func TestValidUsercode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"ABC123", true},
		{"ZZZZZZ", true},
		{"000000", true},
		{"abc123", false},
		{"ABC12", false},
		{"ABC1234", false},
		{"", false},
		{"ABC-12", false},
		{"ABC 12", false},
		{"ÄBC123", false},
	} {
		if got := ValidUsercode(tc.in); got != tc.want {
			t.Errorf("ValidUsercode(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func fieldsOf(err error) []string {
	var ve validation.Errors
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, e := range ve {
		out = append(out, e.Field)
	}
	return out
}

func TestRegister_ValidatesEveryField(t *testing.T) {
	const good = "correct horse"
	for _, tc := range []struct {
		name, username, email, password string
		bad                             []string // invalid fields, in order; nil: accepted
	}{
		{"valid", "luis", "luis@example.com", good, nil},
		{"username with allowed punctuation", "a_b.c-9", "a@example.com", good, nil},
		{"username trimmed", "  paper  ", "paper@example.com", good, nil},
		{"username 32 chars", strings.Repeat("a", 32), "a@example.com", good, nil},
		{"username 33 chars", strings.Repeat("a", 33), "a@example.com", good, []string{"username"}},
		{"username 2 chars", "ab", "a@example.com", good, []string{"username"}},
		{"username with space", "a b c", "a@example.com", good, []string{"username"}},
		{"username non-ascii", "lüis", "a@example.com", good, []string{"username"}},
		{"email without domain dot", "luis", "luis@localhost", good, []string{"email"}},
		{"email with display name", "luis", "Luis <luis@example.com>", good, []string{"email"}},
		{"email empty", "luis", "", good, []string{"email"}},
		{"email over 254", "luis", strings.Repeat("a", 250) + "@x.io", good, []string{"email"}},
		{"password 7 chars", "luis", "l@example.com", "1234567", []string{"password"}},
		{"password 8 multibyte chars counts runes", "luis", "l@example.com", "ééééàààà", nil},
		{"password 256 bytes", "luis", "l@example.com", strings.Repeat("p", 256), nil},
		{"password 257 bytes", "luis", "l@example.com", strings.Repeat("p", 257), []string{"password"}},
		{"all invalid at once", "x", "nope", "", []string{"username", "email", "password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			users := newMemUsers()
			s := NewService(users, newMemSessions(), newMemLimiter(), NewFastArgon2id(), testOptions())
			u, err := s.Register(context.Background(), tc.username, tc.email, tc.password, "192.0.2.1")
			if tc.bad == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if u.Username != strings.TrimSpace(tc.username) || !ValidUsercode(u.Usercode) {
					t.Fatalf("stored %+v", u)
				}
				return
			}
			if got := fieldsOf(err); strings.Join(got, ",") != strings.Join(tc.bad, ",") {
				t.Fatalf("invalid fields = %v (err %v), want %v", got, err, tc.bad)
			}
			if users.creates != 0 {
				t.Fatal("an invalid registration reached the store")
			}
		})
	}
}

func TestRegister_RetriesUsercodeClash(t *testing.T) {
	users := newMemUsers()
	users.clashes = 3
	s := NewService(users, newMemSessions(), newMemLimiter(), NewFastArgon2id(), testOptions())
	u, err := s.Register(context.Background(), "luis", "luis@example.com", "correct horse", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if users.creates != 4 || !ValidUsercode(u.Usercode) {
		t.Fatalf("creates = %d, user %+v: want 3 clashes then success", users.creates, u)
	}
}

func TestRegister_GivesUpAfterPersistentUsercodeClash(t *testing.T) {
	users := newMemUsers()
	users.clashes = 1000
	s := NewService(users, newMemSessions(), newMemLimiter(), NewFastArgon2id(), testOptions())
	_, err := s.Register(context.Background(), "luis", "luis@example.com", "correct horse", "192.0.2.1")
	var dup *storage.DuplicateError
	if !errors.As(err, &dup) || users.creates != 11 {
		t.Fatalf("err = %v after %d creates; want a DuplicateError after 11", err, users.creates)
	}
}

// TestRegister_UsernameTakenIgnoringCaseOnRealStore runs on the database
// testenv selects (SQLite, or PostgreSQL under MESSAGER_TEST_DATABASE_URL).
func TestRegister_UsernameTakenIgnoringCaseOnRealStore(t *testing.T) {
	db := testenv.DB(t)
	s := NewService(db.Users(), newMemSessions(), newMemLimiter(), NewFastArgon2id(), testOptions())
	ctx := context.Background()
	u, err := s.Register(ctx, "Lanaro", "lanaro@example.com", "correct horse", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, "lANARO", "other@example.com", "correct horse", "192.0.2.1"); !errors.Is(err, ErrUsernameTaken) {
		t.Fatalf("second register: %v, want ErrUsernameTaken", err)
	}
	got, hash, err := db.Users().ByUsername(ctx, "LANARO")
	if err != nil || got.ID != u.ID || got.Username != "Lanaro" {
		t.Fatalf("ByUsername = %+v, %v", got, err)
	}
	if strings.Contains(hash, "correct horse") || !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("password stored as %q, want an argon2id hash", hash)
	}
	if _, err := s.Login(ctx, "lanaro", "correct horse", "127.0.0.1"); err != nil {
		t.Fatalf("login with the other case: %v", err)
	}
}

func TestArgon2id_EveryBytePastSeventyTwoCounts(t *testing.T) {
	prefix := strings.Repeat("x", 72)
	for name, h := range map[string]*Argon2id{"production": NewArgon2id(), "fast": NewFastArgon2id()} {
		t.Run(name, func(t *testing.T) {
			hash, err := h.Hash(prefix + "A")
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				pw   string
				want bool
			}{
				{prefix + "A", true},
				{prefix + "B", false},
				{prefix, false},
				{prefix + "A" + "A", false},
			} {
				if name == "production" && len(tc.pw) != 73 {
					continue // each production verify costs 19 MiB and two passes
				}
				ok, err := h.Verify(tc.pw, hash)
				if err != nil {
					t.Fatal(err)
				}
				if ok != tc.want {
					t.Errorf("Verify(%d bytes ending %q) = %v, want %v", len(tc.pw), tc.pw[len(tc.pw)-1:], ok, tc.want)
				}
			}
		})
	}
}

func TestArgon2id_SaltsEachHash(t *testing.T) {
	h := NewFastArgon2id()
	a, _ := h.Hash("same password")
	b, _ := h.Hash("same password")
	if a == b {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

func TestLogin_SameErrorForUnknownUserAndWrongPassword(t *testing.T) {
	s := NewService(newMemUsers(), newMemSessions(), newMemLimiter(), NewFastArgon2id(), testOptions())
	ctx := context.Background()
	if _, err := s.Register(ctx, "paper", "paper@example.com", "correct horse", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	_, e1 := s.Login(ctx, "paper", "wrong horse", "1.2.3.4")
	_, e2 := s.Login(ctx, "nobody", "correct horse", "1.2.3.4")
	if !errors.Is(e1, ErrInvalidCredentials) || !errors.Is(e2, ErrInvalidCredentials) || e1.Error() != e2.Error() {
		t.Fatalf("wrong password: %v; unknown user: %v", e1, e2)
	}
}

func TestLogin_RateLimitedAfterFailuresPerUserFromAnyAddress(t *testing.T) {
	opts := testOptions()
	opts.Login.PerUser = 3
	s := NewService(newMemUsers(), newMemSessions(), newMemLimiter(), NewFastArgon2id(), opts)
	ctx := context.Background()
	if _, err := s.Register(ctx, "paper", "paper@example.com", "correct horse", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"1.2.3.4", "1.2.3.5", "1.2.3.6"} {
		if _, err := s.Login(ctx, "paper", "wrong", ip); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	_, err := s.Login(ctx, "PAPER", "correct horse", "5.6.7.8")
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("after 3 failures from 3 addresses: %v, want *RateLimitedError (also for another case and IP)", err)
	}
}
