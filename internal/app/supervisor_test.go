package app

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder notes the order units start and stop in.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, s)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// waiting is a unit that runs until stopped and notes its start and stop.
func waiting(name string, rec *recorder) unit {
	return unit{
		name:  name,
		start: func() error { rec.add("start " + name); return nil },
		run: func(ctx context.Context) error {
			<-ctx.Done()
			rec.add("stop " + name)
			return nil
		},
	}
}

func TestSupervisor_StopsInReverseStartOrderWaitingForEach(t *testing.T) {
	rec := &recorder{}
	s := newSupervisor()
	for _, n := range []string{"writers", "asynq", "http"} {
		if err := s.Start(waiting(n, rec)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"start writers", "start asynq", "start http", "stop http", "stop asynq", "stop writers"}
	if got := rec.all(); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestSupervisor_AUnitThatEndsOnItsOwnIsReportedAsFailed(t *testing.T) {
	s := newSupervisor()
	boom := errors.New("listener broke")
	if err := s.Start(unit{name: "http", run: func(context.Context) error { return boom }}); err != nil {
		t.Fatal(err)
	}
	quiet := make(chan struct{})
	if err := s.Start(unit{name: "bus", run: func(ctx context.Context) error {
		<-ctx.Done()
		close(quiet)
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	err := <-s.Failed()
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "http") {
		t.Fatalf("failure %v, want http's %v", err, boom)
	}
	stopErr := s.Stop(context.Background())
	<-quiet
	if !errors.Is(stopErr, boom) {
		t.Fatalf("Stop says %v, want it to report %v too", stopErr, boom)
	}
}

func TestSupervisor_ANilReturnBeforeStopIsAFailureToo(t *testing.T) {
	s := newSupervisor()
	if err := s.Start(unit{name: "tracker", run: func(context.Context) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if err := <-s.Failed(); err == nil || !strings.Contains(err.Error(), "tracker: stopped unexpectedly") {
		t.Fatalf("failure %v", err)
	}
	_ = s.Stop(context.Background())
}

func TestSupervisor_StartErrorRunsNothingOfThatUnit(t *testing.T) {
	s := newSupervisor()
	ran := false
	err := s.Start(unit{name: "admin listener", start: func() error { return errors.New("address in use") }, run: func(context.Context) error { ran = true; return nil }})
	if err == nil || !strings.Contains(err.Error(), "start admin listener: address in use") {
		t.Fatalf("Start = %v", err)
	}
	if err := s.Stop(context.Background()); err != nil || ran {
		t.Fatalf("Stop = %v, ran = %v: a unit whose start failed must not run", err, ran)
	}
}

func TestSupervisor_DrainIsBoundedByTheStopsContextNotCancelledByTheStop(t *testing.T) {
	s := newSupervisor()
	type drain struct {
		err      error
		deadline time.Time
		ok       bool
	}
	got := make(chan drain, 1)
	if err := s.Start(unit{name: "http", run: func(ctx context.Context) error {
		<-ctx.Done()
		d := drainContext(ctx)
		dl, ok := d.Deadline()
		got <- drain{d.Err(), dl, ok}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	want := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), want)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	d := <-got
	if d.err != nil || !d.ok || !d.deadline.Equal(want) {
		t.Fatalf("drain context: err %v, deadline %v (%v); want live, with the Stop's deadline %v", d.err, d.deadline, d.ok, want)
	}
}

func TestSupervisor_StopGivesUpOnAUnitThatOutlivesTheContext(t *testing.T) {
	s := newSupervisor()
	release := make(chan struct{})
	defer close(release)
	if err := s.Start(unit{name: "stuck", run: func(ctx context.Context) error { <-release; return nil }}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Stop(ctx); err == nil || !strings.Contains(err.Error(), "stuck did not stop in time") {
		t.Fatalf("Stop = %v", err)
	}
}

// breakableListener fails every Accept once broken is closed.
type breakableListener struct {
	net.Listener
	broken chan struct{}
}

func (l breakableListener) Accept() (net.Conn, error) {
	type accepted struct {
		c   net.Conn
		err error
	}
	got := make(chan accepted, 1)
	go func() { c, err := l.Listener.Accept(); got <- accepted{c, err} }()
	select {
	case a := <-got:
		return a.c, a.err
	case <-l.broken:
		return nil, errors.New("listener broke")
	}
}

// A real process whose HTTP listener breaks reports it, so App.Run shuts
// the process down instead of leaving it alive and serving nothing.
func TestApp_ABrokenListenerIsAFailedUnit(t *testing.T) {
	broken := make(chan struct{})
	a := startAppOpts(t, ModeAPI, newBackends(t), func(o *Options) {
		o.Listener = breakableListener{Listener: o.Listener, broken: broken}
	})
	close(broken)
	err := <-a.units.Failed()
	if err == nil || !strings.Contains(err.Error(), "http server: listener broke") {
		t.Fatalf("failure %v, want the http server's", err)
	}
}
