package presence

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/embedredis"
	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/testenv"
)

// The tracker decides by its own clock, never Redis's (the scripts get the
// times as arguments), so these tests move a fake clock and nothing waits.

// t0 is when every test starts.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testTTL is spec.presence.ttl in these tests.
const testTTL = 30 * time.Second

var (
	alice = auth.Principal{UserID: 1, Username: "alice", Usercode: "ALICE1"}
	bob   = auth.Principal{UserID: 2, Username: "bob", Usercode: "BOB222"}
)

// forEachRedis runs test against the embedded Redis and against the real
// one named by MESSAGER_TEST_REDIS_URL (skipped when unset). testenv gives
// the real one a logical database of its own, so the tracker's fixed keys
// meet no other test's.
func forEachRedis(t *testing.T, test func(t *testing.T, redisURL string)) {
	t.Run("embedded", func(t *testing.T) {
		srv, err := embedredis.Start("127.0.0.1:0")
		if err != nil {
			t.Fatalf("embedded redis: %v", err)
		}
		t.Cleanup(func() { srv.Close(context.Background()) })
		test(t, srv.URL())
	})
	t.Run("redis", func(t *testing.T) {
		if os.Getenv(testenv.EnvRedisURL) == "" {
			t.Skipf("%s is not set: no real Redis to run against", testenv.EnvRedisURL)
		}
		test(t, testenv.Redis(t))
	})
}

// fakeClock is a tracker's clock. onNow, when set, runs once at the next
// reading, before it returns: a test orders another step there.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	onNow func()
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	now, hook := c.now, c.onNow
	c.onNow = nil
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return now
}

func (c *fakeClock) set(at time.Time) {
	c.mu.Lock()
	c.now = at
	c.mu.Unlock()
}

// fakePublisher records the presence changes announced, as "USERCODE
// online" or "USERCODE offline".
type fakePublisher struct {
	mu   sync.Mutex
	said []string
}

func (p *fakePublisher) Publish(_ context.Context, env events.Envelope) error {
	var f events.PresenceFrame
	if err := json.Unmarshal(env.Frame, &f); err != nil {
		return err
	}
	state := "offline"
	if f.Online {
		state = "online"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if env.Type != events.TypePresence || !env.All {
		p.said = append(p.said, "not a presence event for everyone: "+string(env.Frame))
		return nil
	}
	p.said = append(p.said, f.User.Usercode+" "+state)
	return nil
}

func (p *fakePublisher) events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.said)
}

// fakeLastSeen records SetLastSeen calls.
type fakeLastSeen struct {
	mu    sync.Mutex
	calls []lastSeenCall
}

type lastSeenCall struct {
	ids []int
	at  time.Time
}

func (s *fakeLastSeen) SetLastSeen(_ context.Context, ids []int, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, lastSeenCall{ids: slices.Clone(ids), at: at})
	return nil
}

func (s *fakeLastSeen) recorded() []lastSeenCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// pod is one api pod's tracker with its own clock and Redis client.
type pod struct {
	*Tracker
	clock *fakeClock
	rdb   *redis.Client
}

// newPod returns a tracker on redisURL publishing to pub, its clock at t0.
func newPod(t *testing.T, redisURL string, pub Publisher, opts ...TrackerOption) *pod {
	t.Helper()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	clock := &fakeClock{now: t0}
	tr := NewTracker(rdb, testTTL, pub, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	tr.now = clock.Now
	return &pod{Tracker: tr, clock: clock, rdb: rdb}
}

// onlineCodes lists the usercodes online, oldest first.
func onlineCodes(t *testing.T, p *pod) []string {
	t.Helper()
	us, err := p.Online(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Usercode
	}
	return out
}

func sweep(t *testing.T, p *pod, at time.Time) {
	t.Helper()
	p.clock.set(at)
	if err := p.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func wantOnline(t *testing.T, p *pod, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := onlineCodes(t, p); !slices.Equal(got, want) {
		t.Fatalf("online %v, want %v", got, want)
	}
}

func wantEvents(t *testing.T, pub *fakePublisher, want ...string) {
	t.Helper()
	if got := pub.events(); !slices.Equal(got, want) {
		t.Fatalf("announced %q, want %q", got, want)
	}
}

// A heartbeat or login puts a user online and is announced once; every
// read of the online set agrees.
func TestTracker_TouchPutsOnlineAndAnnouncesOnce(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		ctx := context.Background()
		pub := &fakePublisher{}
		p := newPod(t, url, pub)
		if err := p.Touch(ctx, alice); err != nil {
			t.Fatal(err)
		}
		p.clock.set(t0.Add(time.Second))
		for _, who := range []auth.Principal{alice, bob, alice} {
			if err := p.Touch(ctx, who); err != nil {
				t.Fatal(err)
			}
		}
		wantEvents(t, pub, "ALICE1 online", "BOB222 online")
		us, err := p.Online(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(us) != 2 || us[0].ID != alice.UserID || !us[0].Since.Equal(t0) || us[1].ID != bob.UserID || !us[1].Since.Equal(t0.Add(time.Second)) {
			t.Fatalf("online %+v, want alice since t0, then bob since t0+1s", us)
		}
		if n, err := p.OnlineCount(ctx); err != nil || n != 2 {
			t.Fatalf("OnlineCount = %d, %v; want 2", n, err)
		}
		among, err := p.OnlineAmong(ctx, []int{bob.UserID, 99, alice.UserID})
		if err != nil || !slices.Equal(among, []bool{true, false, true}) {
			t.Fatalf("OnlineAmong(bob, 99, alice) = %v, %v; want [true false true]", among, err)
		}
		ids, err := p.OnlineIDs(ctx)
		slices.Sort(ids)
		if err != nil || !slices.Equal(ids, []int{alice.UserID, bob.UserID}) {
			t.Fatalf("OnlineIDs = %v, %v; want [1 2]", ids, err)
		}
	})
}

// A sweep takes offline, and announces once, exactly the users whose last
// heartbeat is more than ttl old and who have no stream lease; their last
// seen time is the sweep's.
func TestTracker_SweepTakesOfflineOnlyLapsedHeartbeats(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		ctx := context.Background()
		pub, seen := &fakePublisher{}, &fakeLastSeen{}
		p := newPod(t, url, pub, WithLastSeen(seen))
		if err := p.Touch(ctx, alice); err != nil {
			t.Fatal(err)
		}
		p.clock.set(t0.Add(20 * time.Second))
		if err := p.Touch(ctx, bob); err != nil {
			t.Fatal(err)
		}

		sweep(t, p, t0.Add(testTTL)) // alice's heartbeat is exactly ttl old: still counts
		wantOnline(t, p, "ALICE1", "BOB222")

		gone := t0.Add(testTTL + time.Millisecond)
		sweep(t, p, gone)
		wantOnline(t, p, "BOB222")
		wantEvents(t, pub, "ALICE1 online", "BOB222 online", "ALICE1 offline")
		if got := seen.recorded(); len(got) != 1 || !slices.Equal(got[0].ids, []int{alice.UserID}) || !got[0].at.Equal(gone) {
			t.Fatalf("last seen recorded %+v, want alice at the sweep's time %v", got, gone)
		}

		sweep(t, p, gone.Add(time.Second)) // nothing more lapsed: nothing said
		wantEvents(t, pub, "ALICE1 online", "BOB222 online", "ALICE1 offline")

		// A heartbeat after going offline is a new online transition.
		if err := p.Touch(ctx, alice); err != nil {
			t.Fatal(err)
		}
		wantEvents(t, pub, "ALICE1 online", "BOB222 online", "ALICE1 offline", "ALICE1 online")
	})
}

// An open stream keeps its user online without heartbeats for the stream
// lease, and each renewal extends the lease from the renewal's time.
func TestTracker_StreamLeaseKeepsOnlineAndRenewalExtendsIt(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		ctx := context.Background()
		pub := &fakePublisher{}
		p := newPod(t, url, pub)
		if err := p.StreamOpened(ctx, alice); err != nil {
			t.Fatal(err)
		}
		sweep(t, p, t0.Add(streamLease)) // no heartbeat at all; the lease alone
		wantOnline(t, p, "ALICE1")

		renewed := t0.Add(15 * time.Second)
		p.clock.set(renewed)
		if err := p.RenewStreams(ctx, []int{alice.UserID}); err != nil {
			t.Fatal(err)
		}
		sweep(t, p, t0.Add(streamLease+time.Millisecond)) // past the first lease
		wantOnline(t, p, "ALICE1")
		sweep(t, p, renewed.Add(streamLease))
		wantOnline(t, p, "ALICE1")
		wantEvents(t, pub, "ALICE1 online") // renewing is not news

		sweep(t, p, renewed.Add(streamLease+time.Millisecond))
		wantOnline(t, p)
		wantEvents(t, pub, "ALICE1 online", "ALICE1 offline")
	})
}

// Pods' clocks differ: a renewal from a pod whose clock is behind never
// shortens the lease a pod ahead of it set.
func TestTracker_RenewalNeverShortensAnotherPodsLease(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		ctx := context.Background()
		pub := &fakePublisher{}
		ahead, behind := newPod(t, url, pub), newPod(t, url, pub)
		ahead.clock.set(t0.Add(10 * time.Second))
		if err := ahead.StreamOpened(ctx, alice); err != nil { // lease to t0+30s
			t.Fatal(err)
		}
		if err := behind.RenewStreams(ctx, []int{alice.UserID}); err != nil { // would be t0+20s
			t.Fatal(err)
		}
		sweep(t, ahead, t0.Add(25*time.Second))
		wantOnline(t, ahead, "ALICE1")
		wantEvents(t, pub, "ALICE1 online")
	})
}

// When a user's last stream on a pod closes, the user stays online for
// StreamCloseGrace and then goes offline, even with a recent heartbeat;
// a stream on another pod renewing within the grace keeps the user.
func TestTracker_StreamClosedGivesAGraceThenOffline(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		ctx := context.Background()
		pub := &fakePublisher{}
		p := newPod(t, url, pub)
		if err := p.StreamOpened(ctx, alice); err != nil {
			t.Fatal(err)
		}
		closed := t0.Add(10 * time.Second)
		p.clock.set(closed)
		if err := p.Touch(ctx, alice); err != nil { // a heartbeat that would count until t0+40s
			t.Fatal(err)
		}
		if err := p.StreamClosed(ctx, alice); err != nil {
			t.Fatal(err)
		}
		sweep(t, p, closed.Add(StreamCloseGrace))
		wantOnline(t, p, "ALICE1")
		sweep(t, p, closed.Add(StreamCloseGrace+time.Millisecond))
		wantOnline(t, p)
		wantEvents(t, pub, "ALICE1 online", "ALICE1 offline")

		// Again, with a stream open on another pod.
		other := newPod(t, url, pub)
		reopened := t0.Add(time.Minute)
		for _, q := range []*pod{p, other} {
			q.clock.set(reopened)
			if err := q.StreamOpened(ctx, alice); err != nil {
				t.Fatal(err)
			}
		}
		p.clock.set(reopened.Add(10 * time.Second))
		if err := p.StreamClosed(ctx, alice); err != nil { // lease cut to reopened+15s
			t.Fatal(err)
		}
		other.clock.set(reopened.Add(12 * time.Second))
		if err := other.RenewStreams(ctx, []int{alice.UserID}); err != nil { // restored to reopened+32s
			t.Fatal(err)
		}
		sweep(t, p, reopened.Add(30*time.Second))
		wantOnline(t, p, "ALICE1")
		wantEvents(t, pub, "ALICE1 online", "ALICE1 offline", "ALICE1 online")
	})
}

// A sweep whose clock was read before another pod renewed the user's
// lease, but whose script runs after it, keeps the user: the sweep
// decides on the leases as Redis holds them when it runs.
func TestTracker_SweepRacingARenewalKeepsTheUser(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		ctx := context.Background()
		pub := &fakePublisher{}
		holder, sweeper := newPod(t, url, pub), newPod(t, url, pub)
		if err := holder.StreamOpened(ctx, alice); err != nil { // lease to t0+20s
			t.Fatal(err)
		}
		late := t0.Add(25 * time.Second) // the lease lapsed; its renewal is due
		holder.clock.set(late)
		sweeper.clock.set(late)

		// The sweeper reads its clock, then the holder renews, then the
		// sweep's script runs.
		read, resume := make(chan struct{}), make(chan struct{})
		sweeper.clock.onNow = func() { close(read); <-resume }
		swept := make(chan error, 1)
		go func() { swept <- sweeper.Sweep(ctx) }()
		<-read
		if err := holder.RenewStreams(ctx, []int{alice.UserID}); err != nil {
			t.Fatal(err)
		}
		close(resume)
		if err := <-swept; err != nil {
			t.Fatal(err)
		}
		wantOnline(t, holder, "ALICE1")
		wantEvents(t, pub, "ALICE1 online")
	})
}

// A sweep that runs while a renewal is under way, after the lease lapsed
// and before the renewal wrote the new lease, takes the user offline; the
// renewal then finds its user offline and announces it online again, so
// the renewal's end leaves the user online, not offline until the next.
func TestTracker_SweepBeforeARenewalLandsIsUndoneByIt(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		ctx := context.Background()
		pub := &fakePublisher{}
		holder, sweeper := newPod(t, url, pub), newPod(t, url, pub)
		if err := holder.StreamOpened(ctx, alice); err != nil {
			t.Fatal(err)
		}
		late := t0.Add(25 * time.Second)
		holder.clock.set(late)

		// The holder's renewal stops just before its lease write reaches
		// Redis; the sweep runs there.
		reached, resume := make(chan struct{}), make(chan struct{})
		holder.rdb.AddHook(pauseBefore("zadd", reached, resume))
		renewed := make(chan error, 1)
		go func() { renewed <- holder.RenewStreams(ctx, []int{alice.UserID}) }()
		<-reached
		sweep(t, sweeper, late)
		wantOnline(t, sweeper)
		close(resume)
		if err := <-renewed; err != nil {
			t.Fatal(err)
		}
		wantOnline(t, holder, "ALICE1")
		wantEvents(t, pub, "ALICE1 online", "ALICE1 offline", "ALICE1 online")
		sweep(t, sweeper, late.Add(streamLease)) // and the renewed lease holds
		wantOnline(t, holder, "ALICE1")
	})
}

// End (logout) takes the user offline at once and records last seen; a
// stream of another session still open on a pod brings the user back at
// that pod's next renewal.
func TestTracker_EndIsOfflineAtOnceAndAnOpenStreamRestores(t *testing.T) {
	forEachRedis(t, func(t *testing.T, url string) {
		ctx := context.Background()
		pub, seen := &fakePublisher{}, &fakeLastSeen{}
		p := newPod(t, url, pub, WithLastSeen(seen))
		if err := p.StreamOpened(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if err := p.Touch(ctx, bob); err != nil {
			t.Fatal(err)
		}
		ended := t0.Add(time.Second)
		p.clock.set(ended)
		if err := p.End(ctx, alice); err != nil {
			t.Fatal(err)
		}
		wantOnline(t, p, "BOB222")
		if got := seen.recorded(); len(got) != 1 || !slices.Equal(got[0].ids, []int{alice.UserID}) || !got[0].at.Equal(ended) {
			t.Fatalf("last seen recorded %+v, want alice at %v", got, ended)
		}
		if err := p.End(ctx, alice); err != nil { // already offline: nothing to say
			t.Fatal(err)
		}
		wantEvents(t, pub, "ALICE1 online", "BOB222 online", "ALICE1 offline")

		if err := p.RenewStreams(ctx, []int{alice.UserID, bob.UserID}); err != nil {
			t.Fatal(err)
		}
		wantOnline(t, p, "BOB222", "ALICE1")
		wantEvents(t, pub, "ALICE1 online", "BOB222 online", "ALICE1 offline", "ALICE1 online")
	})
}

// pauseBefore is a go-redis hook that stops the first command named name
// before it is sent: it closes reached and waits for resume.
func pauseBefore(name string, reached, resume chan struct{}) redis.Hook {
	return &pauseHook{name: name, reached: reached, resume: resume}
}

type pauseHook struct {
	name            string
	reached, resume chan struct{}
	once            sync.Once
}

func (h *pauseHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *pauseHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == h.name {
			h.once.Do(func() { close(h.reached); <-h.resume })
		}
		return next(ctx, cmd)
	}
}

func (h *pauseHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
