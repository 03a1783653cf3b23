package taskwake

import (
	"slices"
	"sync"
)

// Signal wakes a process's idle dequeuers. Each Wake starts a new
// generation and wakes one waiting dequeuer, the one that has waited
// longest: one task notification needs one server to look, and a server
// that finds a task keeps dequeuing until the queues are empty. A
// dequeuer that saw every queue empty in generation g waits only while
// the generation is still g, so a notification that arrives while it is
// looking is never lost.
type Signal struct {
	mu      sync.Mutex
	gen     uint64
	waiters []chan struct{} // oldest first
	stopped bool
}

// NewSignal returns a Signal in its first generation.
func NewSignal() *Signal { return &Signal{} }

// Wake starts a new generation and wakes the longest-waiting dequeuer.
func (s *Signal) Wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.gen++
	if len(s.waiters) > 0 {
		close(s.waiters[0])
		s.waiters = slices.Delete(s.waiters, 0, 1)
	}
}

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
// is not stopped; the channel is closed by the Wake or Stop that picks
// it. done must be called once the caller stops waiting (a timeout):
// a waiter that left must not take a later wake-up.
func (s *Signal) wait(gen uint64) (woken <-chan struct{}, done func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.gen != gen {
		return nil, nil, false
	}
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

// generation is the current generation.
func (s *Signal) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}
