package runtimetune

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestPolicy_RaisesAtOnceAndLowersOnlyAfterALightStretch(t *testing.T) {
	p := Policy{Raise: 0.7, Lower: 0.35, LowerAfter: 3}
	cur, lows := 1, 0
	var got []int
	for _, used := range []float64{0.1, 0.69, 0.7, 0.5, 0.2, 0.2, 0.4, 0.2, 0.2, 0.2, 0.9} {
		cur, lows = p.next(cur, 4, used, lows)
		got = append(got, cur)
	}
	// 0.7 raises at once; 0.5 keeps four; a 0.4 between light intervals
	// restarts the count; the third light one in a row lowers; 0.9 raises.
	want := []int{1, 1, 4, 4, 4, 4, 4, 4, 4, 1, 4}
	if !slices.Equal(got, want) {
		t.Fatalf("P counts %v, want %v", got, want)
	}
}

// fakeProcs records what a Governor asks of the runtime.
type fakeProcs struct {
	mu      sync.Mutex
	cur     int
	many    int
	history []int
	ones    int
}

func (f *fakeProcs) Current() int { f.mu.Lock(); defer f.mu.Unlock(); return f.cur }
func (f *fakeProcs) One()         { f.mu.Lock(); f.ones++; f.mu.Unlock(); f.set(1) }
func (f *fakeProcs) Default() int { f.set(f.many); return f.many }
func (f *fakeProcs) set(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur = n
	f.history = append(f.history, n)
}
func (f *fakeProcs) seen() []int { f.mu.Lock(); defer f.mu.Unlock(); return slices.Clone(f.history) }

// scripted returns a CPU clock and a wall clock that advance, at each
// reading, by one interval and by that interval times the next CPU use in
// uses; after the last it signals done and keeps the last use.
func scripted(interval time.Duration, uses []float64) (cpu func() (time.Duration, bool), now func() time.Time, done chan struct{}) {
	var mu sync.Mutex
	var c time.Duration
	w := time.Unix(0, 0)
	i, readings := 0, 0
	done = make(chan struct{})
	cpu = func() (time.Duration, bool) {
		mu.Lock()
		defer mu.Unlock()
		readings++
		if readings > 1 { // the first reading is the Governor's start
			c += time.Duration(uses[min(i, len(uses)-1)] * float64(interval))
			if i++; i == len(uses) {
				close(done)
			}
		}
		return c, true
	}
	now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		w = w.Add(interval)
		return w
	}
	return cpu, now, done
}

func TestGovernor_FollowsTheLoadAndGivesTheDefaultBackWhenStopped(t *testing.T) {
	const interval = time.Millisecond
	procs := &fakeProcs{cur: 2, many: 2}
	cpu, now, done := scripted(interval, []float64{0.05, 0.9, 0.5, 0.1, 0.1, 0.1})
	g := &Governor{
		policy: Policy{Interval: interval, Raise: 0.7, Lower: 0.35, LowerAfter: 3},
		procs:  procs, cpu: cpu, now: now, logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { g.Run(ctx); close(stopped) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the governor read the CPU clock too few times")
	}
	// The readings after the script keep using 0.1 core: still light.
	waitFor(t, func() bool { return procs.Current() == 1 && len(procs.seen()) >= 4 })
	cancel()
	<-stopped
	// Default to learn the count, One at start, Default at 0.9, One after
	// three light intervals, Default when stopped.
	if got, want := procs.seen(), []int{2, 1, 2, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("P counts set %v, want %v", got, want)
	}
}

func TestGovernor_LeavesAFixedOrSingleCPUProcessAlone(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, g := range map[string]*Governor{
		"GOMAXPROCS set": {fixed: true, procs: &fakeProcs{cur: 2, many: 2}},
		"one CPU":        {procs: &fakeProcs{cur: 1, many: 1}},
		"no CPU clock":   {procs: &fakeProcs{cur: 2, many: 2}, cpu: func() (time.Duration, bool) { return 0, false }},
	} {
		if g.cpu == nil {
			g.cpu = func() (time.Duration, bool) { return 0, true }
		}
		g.policy, g.now, g.logger = DefaultPolicy, time.Now, quiet
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		g.Run(ctx)
		if f := g.procs.(*fakeProcs); f.ones != 0 {
			t.Errorf("%s: the governor asked for one P (%v)", name, f.seen())
		}
	}
}

// The real runtime: a process with several CPUs runs on one P while idle,
// and has its default back once the governor stops.
func TestGovernor_OnTheRealRuntime(t *testing.T) {
	many := runtime.GOMAXPROCS(0)
	if many < 2 {
		t.Skip("one CPU: nothing to govern")
	}
	t.Cleanup(func() { runtime.SetDefaultGOMAXPROCS() })
	g := NewGovernor(Policy{Interval: 10 * time.Millisecond, Raise: 0.7, Lower: 0.35, LowerAfter: 3}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if g.fixed {
		t.Skip("GOMAXPROCS is set in the environment")
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { g.Run(ctx); close(stopped) }()
	waitFor(t, func() bool { return runtime.GOMAXPROCS(0) == 1 })
	cancel()
	<-stopped
	if got := runtime.GOMAXPROCS(0); got != many {
		t.Fatalf("GOMAXPROCS %d after the governor stopped, want the default %d", got, many)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
