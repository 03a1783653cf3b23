package taskwake

import (
	"slices"
	"sync"
)

// unknownCount is what a wake-up that cannot say how many tasks it
// announces counts for: more than any run of dequeues will take, so the
// process's dequeuers look until they find every queue empty.
const unknownCount = 1 << 32

// Signal wakes a process's idle dequeuers and counts the tasks announced to
// them. Each wake-up starts a new generation and wakes one waiting
// dequeuer, the one that has waited longest: one notification needs one
// server to look, and a server that finds a task keeps dequeuing while
// announced tasks are left (see Client). A dequeuer that saw every queue
// empty in generation g waits only while the generation is still g, so a
// notification that arrives while it is looking is never lost.
//
// Announced tasks are a credit: each task a dequeuer finds takes one, and
// a dequeue round that finds every queue empty drops whatever was
// announced before it began (those tasks are gone, taken by this process or
// another). A dequeuer that has just taken the last credit knows there is
// nothing more to look for, and waits instead of running a round that
// would find nothing.
type Signal struct {
	mu sync.Mutex
	// gen counts announced tasks (unknownCount for a wake-up that cannot
	// say), so gen - g is what was announced since generation g.
	gen     uint64
	credit  uint64          // announced tasks not yet found, at most unknownCount
	waiters []chan struct{} // oldest first
	stopped bool
}

// NewSignal returns a Signal in its first generation.
func NewSignal() *Signal { return &Signal{} }

// Announce says n tasks were enqueued and wakes the longest-waiting
// dequeuer; n <= 0 means an unknown number.
func (s *Signal) Announce(n int) {
	count := uint64(unknownCount)
	if n > 0 && n < unknownCount {
		count = uint64(n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.gen += count
	s.credit = min(s.credit+count, unknownCount)
	if len(s.waiters) > 0 {
		close(s.waiters[0])
		s.waiters = slices.Delete(s.waiters, 0, 1)
	}
}

// Wake says tasks may have been enqueued, how many unknown (a notification
// that may have been missed, tasks moved in by asynq), and wakes the
// longest-waiting dequeuer. Until a dequeue round finds every queue empty,
// no dequeuer skips a round.
func (s *Signal) Wake() { s.Announce(0) }

// Stop wakes every waiting dequeuer for good: from now on nobody waits.
// Call it before shutting the asynq servers down, which wait for their
// dequeue loop to come round.
func (s *Signal) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	for _, w := range s.waiters {
		close(w)
	}
	s.waiters = nil
}

// wait enqueues a waiter when the generation is still gen and the signal
// is not stopped; the channel is closed by the wake-up or Stop that picks
// it. done must be called once the caller stops waiting (a timeout):
// a waiter that left must not take a later wake-up.
func (s *Signal) wait(gen uint64) (woken <-chan struct{}, done func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.gen != gen {
		return nil, nil, false
	}
	return s.addWaiter()
}

// waitForCredit is wait for a dequeuer that has just taken the last
// credit: it waits only while no announced task is left.
func (s *Signal) waitForCredit() (woken <-chan struct{}, done func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.credit > 0 {
		return nil, nil, false
	}
	return s.addWaiter()
}

// addWaiter is wait's and waitForCredit's common part; s.mu is held.
func (s *Signal) addWaiter() (<-chan struct{}, func(), bool) {
	ch := make(chan struct{})
	s.waiters = append(s.waiters, ch)
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if i := slices.Index(s.waiters, ch); i >= 0 {
			s.waiters = slices.Delete(s.waiters, i, i+1)
		}
	}, true
}

// take spends one credit for a task a dequeue found, and reports whether
// there was one to spend.
func (s *Signal) take() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.credit == 0 {
		return false
	}
	s.credit--
	return true
}

// settle drops the credit of tasks announced before generation since, once
// a round begun in that generation found every queue empty: they were
// enqueued before the round looked, so they have been taken.
func (s *Signal) settle(since uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.credit = min(s.credit, s.gen-since)
}

// generation is the current generation.
func (s *Signal) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}
