package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// unit is one long-running part of a process: a server, a subscription,
// a loop. The supervisor owns its goroutine.
type unit struct {
	name string
	// start, when set, runs synchronously before run is started; an
	// error from it fails App.Start (a port that cannot be bound, Redis
	// refusing a worker). Optional.
	start func() error
	// run does the unit's work until ctx ends or the unit fails. When ctx
	// ends it stops gracefully, bounding its drain by drainContext(ctx),
	// and returns only once everything it started has stopped.
	run func(ctx context.Context) error
}

// supervisor runs units in the order they are added and stops them in
// the reverse order, each only once the unit added after it has returned:
// what is added first outlives everything that depends on it (the
// delivery writers outlive the asynq servers whose handlers feed them;
// the event bus outlives the HTTP server whose streams it feeds). A unit
// that ends on its own is reported on Failed, so the owner (App.Run) stops
// all the others, as an errgroup's cancelled context would.
type supervisor struct {
	mu      sync.Mutex
	running []*running

	failOnce sync.Once
	fail     chan error // receives the first unit failure, once
}

type running struct {
	name   string
	cancel context.CancelFunc
	stop   *stopInfo
	done   chan struct{}
	err    error // set before done is closed
}

// stopInfo carries the context of the Stop that ended a unit, so its
// drain is bounded by the caller's deadline.
type stopInfo struct {
	mu  sync.Mutex
	ctx context.Context
}

type stopKey struct{}

func newSupervisor() *supervisor {
	return &supervisor{fail: make(chan error, 1)}
}

// Start runs u's start, then u's run in a goroutine the supervisor owns.
func (s *supervisor) Start(u unit) error {
	if u.start != nil {
		if err := u.start(); err != nil {
			return fmt.Errorf("start %s: %w", u.name, err)
		}
	}
	info := &stopInfo{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), stopKey{}, info))
	r := &running{name: u.name, cancel: cancel, stop: info, done: make(chan struct{})}
	s.mu.Lock()
	s.running = append(s.running, r)
	s.mu.Unlock()
	go func() {
		defer close(r.done)
		err := u.run(ctx)
		if ctx.Err() == nil {
			// Ended on its own: the process is no longer whole.
			if err == nil {
				err = errors.New("stopped unexpectedly")
			}
			s.failOnce.Do(func() { s.fail <- fmt.Errorf("%s: %w", u.name, err) })
		}
		r.err = err
	}()
	return nil
}

// Failed receives the first error of a unit that ended without being
// stopped; Stop reports it again with the rest.
func (s *supervisor) Failed() <-chan error { return s.fail }

// Stop stops every unit, the last started first, waiting for each before
// stopping the next. When ctx ends first, the remaining units are told to
// stop without being waited for, and Stop says which did not finish.
func (s *supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	units := s.running
	s.running = nil
	s.mu.Unlock()
	var errs []error
	for i := len(units) - 1; i >= 0; i-- {
		r := units[i]
		r.stop.mu.Lock()
		r.stop.ctx = ctx
		r.stop.mu.Unlock()
		r.cancel()
		select {
		case <-r.done:
			if r.err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r.name, r.err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("%s did not stop in time: %w", r.name, ctx.Err()))
		}
	}
	return errors.Join(errs...)
}

// drainContext is the context a stopping unit bounds its drain with: the
// context Stop was called with (its deadline), never cancelled merely
// because the unit was told to stop.
func drainContext(ctx context.Context) context.Context {
	if info, ok := ctx.Value(stopKey{}).(*stopInfo); ok {
		info.mu.Lock()
		defer info.mu.Unlock()
		if info.ctx != nil {
			return info.ctx
		}
	}
	return context.WithoutCancel(ctx)
}
