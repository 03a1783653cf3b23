package stream

import (
	"context"
	"sync"
	"time"
)

// closeSessionEnded is the reason the hub ends a stream whose session was
// logged out, deleted or expired (WebSocket close 4001), beside closeSlow
// and closeGoingAway (hub.go); its value stays clear of that list.
const closeSessionEnded int32 = 16

// closeGrace is how long a stream the server closes may still spend
// writing: a healthy client takes its last frames and the close in far
// less, and a client that stopped reading cannot hold a shutdown longer.
const closeGrace = time.Second

// slot is one stream's place on this pod. The handler takes it before the
// upgrade, so a refused stream costs nothing and counts nowhere, and gives
// it back when the stream ends. It names the session the stream was opened
// with, so logout and expiry can end the stream from outside; the replay
// and delivery of frames (Conn) know nothing of it.
type slot struct {
	table   *slotTable
	userID  int
	session string

	mu       sync.Mutex
	cancel   context.CancelFunc
	deadline *writeDeadline
	reason   int32
	released bool
}

// slotTable indexes the hub's slots by user (to cap them) and by session
// (to end them). Its zero value is ready to use.
type slotTable struct {
	mu        sync.Mutex
	perUser   map[int]int
	bySession map[string]map[*slot]struct{}
}

// take reserves a slot for userID's stream opened with session, unless the
// user already holds max (max <= 0: no cap).
func (t *slotTable) take(userID int, session string, max int) (*slot, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.perUser == nil {
		t.perUser = map[int]int{}
		t.bySession = map[string]map[*slot]struct{}{}
	}
	if max > 0 && t.perUser[userID] >= max {
		return nil, false
	}
	t.perUser[userID]++
	s := &slot{table: t, userID: userID, session: session}
	set := t.bySession[session]
	if set == nil {
		set = map[*slot]struct{}{}
		t.bySession[session] = set
	}
	set[s] = struct{}{}
	return s, true
}

// sessions returns the distinct sessions holding slots.
func (t *slotTable) sessions() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(t.bySession))
	for id := range t.bySession {
		ids = append(ids, id)
	}
	return ids
}

// of returns the slots of session.
func (t *slotTable) of(session string) []*slot {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*slot, 0, len(t.bySession[session]))
	for s := range t.bySession[session] {
		out = append(out, s)
	}
	return out
}

// cutWrites gives every stream's current and later writes until deadline.
func (t *slotTable) cutWrites(deadline time.Time) {
	t.mu.Lock()
	var all []*slot
	for _, set := range t.bySession {
		for s := range set {
			all = append(all, s)
		}
	}
	t.mu.Unlock()
	for _, s := range all {
		s.mu.Lock()
		d := s.deadline
		s.mu.Unlock()
		if d != nil {
			d.cut(deadline)
		}
	}
}

// bind ties the slot to the stream being served: the returned context ends
// when the hub ends the stream, and d is cut when it closes the stream.
func (s *slot) bind(parent context.Context, d *writeDeadline) context.Context {
	ctx, cancel := context.WithCancel(parent)
	s.mu.Lock()
	s.cancel, s.deadline = cancel, d
	ended := s.reason != closeNone
	s.mu.Unlock()
	if ended {
		cancel()
	}
	return ctx
}

// end stops the stream for reason: its context is cancelled, and a write
// in progress gets closeGrace to finish.
func (s *slot) end(reason int32) {
	s.mu.Lock()
	if s.reason == closeNone {
		s.reason = reason
	}
	cancel, d := s.cancel, s.deadline
	s.mu.Unlock()
	if d != nil {
		d.cut(time.Now().Add(closeGrace))
	}
	if cancel != nil {
		cancel()
	}
}

// endedFor returns why the hub ended the stream (closeNone if it did not).
func (s *slot) endedFor() int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// release gives the slot back; it may be called more than once.
func (s *slot) release() {
	s.mu.Lock()
	done := s.released
	s.released = true
	cancel := s.cancel
	s.mu.Unlock()
	if done {
		return
	}
	if cancel != nil {
		cancel()
	}
	t := s.table
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.perUser[s.userID]--; t.perUser[s.userID] <= 0 {
		delete(t.perUser, s.userID)
	}
	if set := t.bySession[s.session]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(t.bySession, s.session)
		}
	}
}

// writeDeadline sets a transport's write deadline for both the stream's
// writer, which extends it batch by batch, and the hub, which cuts it when
// it closes the stream: once cut, no later batch may push it past the cut,
// so a writer between batches cannot outrun a shutdown.
//
// A batch asks for writeTimeout from its start, but the deadline is moved
// only when it is more than deadlineSlack short of that: setting it costs
// a runtime timer update under the poller's lock, which a stream writing a
// small batch every few milliseconds (a broadcast to 1,000 is 1,000 such
// batches) would otherwise pay on every one. Every batch still starts with
// at least writeTimeout-deadlineSlack to go.
type writeDeadline struct {
	mu      sync.Mutex
	set     func(time.Time) error
	cutAt   time.Time
	current time.Time // the deadline last set; zero: none yet
}

// deadlineSlack is how far short of what a batch asks the write deadline
// may be left standing.
const deadlineSlack = writeTimeout / 2

func newWriteDeadline(set func(time.Time) error) *writeDeadline {
	return &writeDeadline{set: set}
}

// extend sets the deadline to t, or to the cut if that is sooner, unless
// the deadline standing is within deadlineSlack of it.
func (d *writeDeadline) extend(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.cutAt.IsZero() && t.After(d.cutAt) {
		t = d.cutAt
	}
	if !d.current.IsZero() && !d.current.Before(t.Add(-deadlineSlack)) && !d.current.After(t) {
		return
	}
	d.current = t
	_ = d.set(t)
}

// isCut reports whether the hub has cut the deadline: the stream is being
// ended. A nil deadline is never cut.
func (d *writeDeadline) isCut() bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.cutAt.IsZero()
}

// cut brings the deadline forward to t for good.
func (d *writeDeadline) cut(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.cutAt.IsZero() && d.cutAt.Before(t) {
		return
	}
	d.cutAt = t
	d.current = t
	_ = d.set(t)
}
