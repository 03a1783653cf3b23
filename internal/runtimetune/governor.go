package runtimetune

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"time"
)

// Policy says when a Governor changes the process's P count. CPU use is in
// cores: the process's CPU time over one interval divided by the interval.
type Policy struct {
	// Interval is the time between two readings of the process's CPU time.
	Interval time.Duration
	// Raise is the CPU use at or above which a process on one P gets the
	// runtime's default P count back: its one P is busy most of the time,
	// so work has begun to queue behind it.
	Raise float64
	// Lower is the CPU use under which a process on several Ps counts as
	// light; LowerAfter light intervals in a row put it back on one P. The
	// gap between Lower and Raise, and the wait, keep a load near the line
	// from switching back and forth (each switch stops the world briefly).
	Lower      float64
	LowerAfter int
}

// DefaultPolicy reacts to a rising load within half a second and gives up
// the extra Ps after two light seconds (a burst of sign-ups, whose password
// hashes take a core each, should not leave a pod on several Ps for long).
// A switch stops the world for some microseconds, so even one every two
// seconds would cost little; the band between Lower and Raise is what keeps
// a steady load from switching at all.
var DefaultPolicy = Policy{Interval: 500 * time.Millisecond, Raise: 0.7, Lower: 0.35, LowerAfter: 4}

// next returns the P count to run with after an interval in which the
// process used `used` cores on `cur` Ps, and the light intervals in a row
// counted so far. many is the runtime's default P count.
func (p Policy) next(cur, many int, used float64, lows int) (procs, lowsNow int) {
	if cur <= 1 {
		if used >= p.Raise {
			return many, 0
		}
		return 1, 0
	}
	if used >= p.Lower {
		return cur, 0
	}
	if lows+1 >= p.LowerAfter {
		return 1, 0
	}
	return cur, lows + 1
}

// Procs is the runtime's P count, behind an interface so a test can watch a
// Governor without changing its own process's.
type Procs interface {
	// Current is the P count now.
	Current() int
	// One runs the process on one P.
	One()
	// Default gives the process the runtime's default P count (the CPUs it
	// may use, following its cgroup limit as that changes) and returns it.
	Default() int
}

type runtimeProcs struct{}

func (runtimeProcs) Current() int { return runtime.GOMAXPROCS(0) }
func (runtimeProcs) One()         { runtime.GOMAXPROCS(1) }
func (runtimeProcs) Default() int {
	runtime.SetDefaultGOMAXPROCS()
	return runtime.GOMAXPROCS(0)
}

// Governor runs the process on one P while it needs less than a core and on
// the runtime's default P count while it needs more (see the package doc
// for why). Build it with NewGovernor; Run blocks until its context ends
// and starts no goroutine of its own.
type Governor struct {
	fixed  bool // GOMAXPROCS is set: the operator chose the P count
	policy Policy
	procs  Procs
	cpu    func() (time.Duration, bool)
	now    func() time.Time
	logger *slog.Logger
}

// NewGovernor returns a Governor of this process's P count with policy. It
// leaves a P count set with the GOMAXPROCS environment variable alone.
func NewGovernor(policy Policy, logger *slog.Logger) *Governor {
	return &Governor{
		fixed:  os.Getenv("GOMAXPROCS") != "",
		policy: policy, procs: runtimeProcs{}, cpu: processCPU, now: time.Now, logger: logger,
	}
}

// Run governs until ctx ends, then gives the process the runtime's default
// P count back. It returns at once, changing nothing, where the process
// may use only one CPU anyway, its CPU time cannot be read, or GOMAXPROCS
// is set.
func (g *Governor) Run(ctx context.Context) {
	if g.fixed {
		return
	}
	many := g.procs.Default()
	lastCPU, ok := g.cpu()
	if many <= 1 || !ok {
		return
	}
	g.procs.One()
	cur, lows := 1, 0
	defer g.procs.Default()
	lastAt := g.now()
	t := time.NewTicker(g.policy.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cpu, ok := g.cpu()
		at := g.now()
		if !ok || !at.After(lastAt) {
			continue
		}
		used := (cpu - lastCPU).Seconds() / at.Sub(lastAt).Seconds()
		lastCPU, lastAt = cpu, at
		if cur > 1 {
			// The runtime follows a changing cgroup limit on its own
			// while it has its default.
			cur = g.procs.Current()
		}
		next, l := g.policy.next(cur, many, used, lows)
		lows = l
		switch {
		case next == cur:
		case next == 1:
			g.procs.One()
			g.logger.Info("running on one P: the process needs less than a core", "cpu_cores", round2(used))
			cur = 1
		default:
			cur = g.procs.Default()
			many = cur
			g.logger.Info("running on the default P count: the process needs more than one core", "procs", cur, "cpu_cores", round2(used))
		}
	}
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }
