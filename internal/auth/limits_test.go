package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/messager/messager/internal/testenv"
)

// slowHasher counts password checks and makes each one take a while, as
// argon2id does, so that a non-atomic limiter would let a burst through.
type slowHasher struct {
	PasswordHasher
	delay  time.Duration
	checks atomic.Int64
}

func (h *slowHasher) Verify(password, hash string) (bool, error) {
	h.checks.Add(1)
	time.Sleep(h.delay)
	return h.PasswordHasher.Verify(password, hash)
}

func (h *slowHasher) Dummy(password string) {
	h.checks.Add(1)
	time.Sleep(h.delay)
	h.PasswordHasher.Dummy(password)
}

// limitedService is a service on the real Redis limiter that testenv
// selects (embedded, or MESSAGER_TEST_REDIS_URL) with one registered user.
func limitedService(t *testing.T, opts Options, hasher PasswordHasher) Service {
	t.Helper()
	rdb, _ := testenv.RedisClient(t)
	s := NewService(newMemUsers(), newMemSessions(), NewRedisLimiter(rdb), hasher, opts)
	if _, err := s.Register(context.Background(), "owner", "owner@example.com", "correct horse", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	return s
}

// loginBurst runs n logins at once and counts the outcomes.
func loginBurst(s Service, n int, username, password, ip string) (denied, limited, other int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Login(context.Background(), username, password, ip)
			var rl *RateLimitedError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrInvalidCredentials):
				denied++
			case errors.As(err, &rl):
				limited++
			default:
				other++
			}
		}()
	}
	close(start)
	wg.Wait()
	return
}

func TestLogin_ConcurrentBurstIsCountedBeforeVerify(t *testing.T) {
	opts := testOptions()
	opts.Login.PerUserIP = 5
	hasher := &slowHasher{PasswordHasher: NewFastArgon2id(), delay: 30 * time.Millisecond}
	s := limitedService(t, opts, hasher)
	denied, limited, other := loginBurst(s, 30, "owner", "wrong password", "198.51.100.7")
	if got := hasher.checks.Load(); got > 5 || denied != int(got) || limited != 30-denied || other != 0 {
		t.Fatalf("30 parallel wrong passwords with a limit of 5: %d password checks, %d denied, %d rate limited, %d other; want at most 5 checks and the rest 429",
			got, denied, limited, other)
	}
}

func TestLogin_StrangerCannotLockOutOwnerFromAnotherIP(t *testing.T) {
	opts := testOptions()
	opts.Login.PerUserIP, opts.Login.PerUser = 10, 100
	s := limitedService(t, opts, NewFastArgon2id())
	ctx := context.Background()
	const stranger, home = "198.51.100.7", "203.0.113.5"
	var rl *RateLimitedError
	for i := 0; ; i++ {
		_, err := s.Login(ctx, "owner", "guess", stranger)
		if errors.As(err, &rl) {
			break
		}
		if i > 100 {
			t.Fatal("the stranger was never rate limited")
		}
	}
	if _, err := s.Login(ctx, "owner", "correct horse", home); err != nil {
		t.Fatalf("the owner, from their own address, after a stranger's failures: %v; want a session", err)
	}
	if _, err := s.Login(ctx, "owner", "correct horse", stranger); !errors.As(err, &rl) {
		t.Fatalf("the stranger's address with the right password: %v; want still rate limited", err)
	}
}

func TestLogin_GuessesSpreadOverAddressesStopAtPerUserLimit(t *testing.T) {
	opts := testOptions()
	opts.Login.PerUserIP, opts.Login.PerUser = 3, 7
	s := limitedService(t, opts, NewFastArgon2id())
	ctx := context.Background()
	failures := 0
	for i := range 10 {
		ip := fmt.Sprintf("198.51.100.%d", i)
		for range 3 {
			if _, err := s.Login(ctx, "owner", "guess", ip); errors.Is(err, ErrInvalidCredentials) {
				failures++
			}
		}
	}
	if failures != 7 {
		t.Fatalf("30 guesses from 10 addresses: %d checked, want the per-username limit of 7", failures)
	}
	var rl *RateLimitedError
	if _, err := s.Login(ctx, "owner", "correct horse", "203.0.113.5"); !errors.As(err, &rl) {
		t.Fatalf("the right password once the username is at its limit: %v, want rate limited", err)
	}
}

func TestLogin_SuccessDoesNotUseUpTheLimits(t *testing.T) {
	opts := testOptions()
	opts.Login.PerUserIP, opts.Login.PerUser, opts.Login.PerIP = 3, 10, 10
	s := limitedService(t, opts, NewFastArgon2id())
	ctx := context.Background()
	for i := range 20 {
		if _, err := s.Login(ctx, "owner", "correct horse", "203.0.113.5"); err != nil {
			t.Fatalf("login %d: %v", i+1, err)
		}
	}
	// Two typos, a success (which forgives them here), then three more.
	for _, pw := range []string{"typo", "typo", "correct horse", "typo", "typo", "correct horse"} {
		_, err := s.Login(ctx, "owner", pw, "203.0.113.5")
		if (pw == "correct horse") != (err == nil) {
			t.Fatalf("login with %q: %v", pw, err)
		}
	}
}

func TestRegister_RateLimitedPerClientIP(t *testing.T) {
	rdb, _ := testenv.RedisClient(t)
	opts := testOptions()
	opts.Register = RegisterLimits{Window: time.Minute, PerIP: 3}
	s := NewService(newMemUsers(), newMemSessions(), NewRedisLimiter(rdb), NewFastArgon2id(), opts)
	ctx := context.Background()
	reg := func(name, ip string) error {
		_, err := s.Register(ctx, name, name+"@example.com", "correct horse", ip)
		return err
	}
	for i := range 3 {
		if err := reg(fmt.Sprintf("user%d", i), "198.51.100.7"); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg("bad name!", "198.51.100.7"); len(fieldsOf(err)) == 0 {
		t.Fatalf("an invalid registration over the limit: %v, want the 422 (it costs nothing)", err)
	}
	var rl *RateLimitedError
	if err := reg("user4", "198.51.100.7"); !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Minute {
		t.Fatalf("4th registration from one address: %v, want *RateLimitedError within the window", err)
	}
	if err := reg("user5", "2001:db8:1:2::7"); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

func TestRegister_IPv6CountsPerSlash64(t *testing.T) {
	opts := testOptions()
	opts.Register = RegisterLimits{Window: time.Minute, PerIP: 2}
	s := NewService(newMemUsers(), newMemSessions(), newMemLimiter(), NewFastArgon2id(), opts)
	ctx := context.Background()
	var err error
	for i := range 3 {
		_, err = s.Register(ctx, fmt.Sprintf("v6user%d", i), "v6@example.com", "correct horse", fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	var rl *RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("3rd registration from one /64: %v, want rate limited", err)
	}
}

// gatedHasher blocks every Hash and Verify until release is closed, and
// reports each one that started.
type gatedHasher struct {
	PasswordHasher
	started chan struct{}
	release chan struct{}
}

func (h *gatedHasher) Hash(password string) (string, error) {
	h.started <- struct{}{}
	<-h.release
	return h.PasswordHasher.Hash(password)
}

func TestPasswordHashes_BoundedThenBusy(t *testing.T) {
	const slots = 2
	h := &gatedHasher{PasswordHasher: NewFastArgon2id(), started: make(chan struct{}, 10), release: make(chan struct{})}
	opts := testOptions()
	opts.HashSlots, opts.HashWait = slots, 100*time.Millisecond
	s := NewService(newMemUsers(), newMemSessions(), newMemLimiter(), h, opts)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, slots)
	for i := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Register(ctx, fmt.Sprintf("held%d", i), "held@example.com", "correct horse", "192.0.2.1")
			errs <- err
		}()
	}
	for range slots {
		<-h.started
	}
	begin := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := s.Register(ctx, "onetoomany", "more@example.com", "correct horse", "192.0.2.1")
		done <- err
	}()
	select {
	case <-h.started:
		close(h.release)
		t.Fatalf("a hash beyond the bound of %d started", slots)
	case err := <-done:
		if !errors.Is(err, ErrBusy) || time.Since(begin) < opts.HashWait {
			t.Fatalf("register while %d hashes run: %v after %v; want ErrBusy after waiting %v", slots, err, time.Since(begin), opts.HashWait)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("register while every hashing slot is held never returned")
	}
	close(h.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a held registration: %v", err)
		}
	}
	if _, err := s.Register(ctx, "later", "later@example.com", "correct horse", "192.0.2.1"); err != nil {
		t.Fatalf("after the burst: %v", err)
	}
}
