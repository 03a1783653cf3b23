package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/telemetry"
)

// GroupSink queues several deliveries as one task; *AsynqEnqueuer.
type GroupSink interface {
	EnqueueGroup(ctx context.Context, ds []Delivery) error
}

// Gate admits deliveries a group at a time, in one round trip however
// many the group holds; messaging.RedisAdmission's Gate (a rate limit and
// client_id reservations). See WithGate.
type Gate interface {
	// AdmitGroup returns, for each delivery of ds, nil to queue it or the
	// error its Enqueue returns instead (a repeat, a rate limit); an error
	// of its own refuses the whole group.
	AdmitGroup(ctx context.Context, ds []Delivery) ([]error, error)
	// ReleaseGroup undoes the admission of ds, admitted but not queued,
	// so their senders' retries are admitted again.
	ReleaseGroup(ctx context.Context, ds []Delivery) error
}

// GroupEnqueuer is the API's group commit for sends: deliveries that are
// accepted while an enqueue is in flight wait and then travel together in
// one TypeDeliverGroup task, so a busy pod pays asynq's enqueue, dequeue
// and completion scripts once per group rather than once per message. An
// idle pod enqueues each message alone at once: a group is only ever what
// piled up behind a round trip, there is no timer to wait for.
//
// Enqueue returns only once its delivery's task is in Redis (or the
// enqueue failed), so a 202 still means the message is queued durably.
type GroupEnqueuer struct {
	sink     GroupSink
	gate     Gate // nil: every delivery is queued
	timeout  time.Duration
	flushers int
	maxSize  int
	maxUsers int
	linger   time.Duration // wait this long before a busy group's group
	window   time.Duration // busy: its previous group is younger than this
	// wait lingers d, or less once cut receives (the group holds enough).
	wait   func(d time.Duration, cut <-chan struct{})
	tracer trace.Tracer

	mu      sync.Mutex
	groups  map[string]*group // by queue: a task travels on one queue
	flushes int               // flushers running, over all groups
	closed  bool              // Close was called: Enqueue refuses
	idle    chan struct{}     // closed when closed and flushes is 0
}

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("delivery: group enqueuer closed")

type group struct {
	pending []*pendingDelivery
	// pendingUsers is the recipients of pending, summed.
	pendingUsers int
	// lingering says a flusher is lingering before it takes a group; cut
	// ends its linger early, once the group holds enough (see enough).
	lingering bool
	cut       chan struct{}
	active    int       // flushers running
	lastFlush time.Time // when the latest group was taken
	lastSize  int       // and how many deliveries it held
	// lastSender sent the latest delivery, at lastArrival; company says
	// that delivery came from another sender than the one before it,
	// within the linger window: several senders are active.
	lastSender  int
	lastArrival time.Time
	company     bool
}

type pendingDelivery struct {
	d Delivery
	// span is the delivery's message.enqueue, open until done.
	span trace.Span
	done chan error
}

// Group commit bounds. A task holds at most maxGroup deliveries and, past
// its first delivery, at most maxGroupRecipients recipients (so a task of
// broadcasts stays a few hundred KiB). One enqueue per queue is in flight
// at a time (groupFlushers): a second would only split the groups, and
// groupTimeout bounds each.
//
// A busy group lingers groupLinger before taking a group (see lingerFor),
// or less: the linger ends as soon as the group holds enough to share
// (groupEnough deliveries or groupEnoughRecipients recipients; see
// enough). Every task costs the same asynq scripts, worker round trips
// and database commit whether it carries one message or ten, so at a few
// hundred sends a second, where each message would travel alone, waiting
// cuts the server CPU each message costs (docs/benchmarks.md, issue 12):
// at 250 DMs/s a 20 ms linger gathers about five sends and cost 706–776 µs
// of server CPU per DM in one process against 942–1,268 with 10 ms, for
// about 6 ms more p50. Past eight a task's share of each message is small
// (its cost over eight), so a group that holds that many goes at once:
// under heavy load a send does not wait out the linger, and a closed loop
// of senders is not held to one round per linger (32 of them were capped
// at 1,474 sends/s by a 20 ms linger that always ran out). Sends at under
// ~25/s, or from one sender at a time, never linger: waiting could not
// give them company.
const (
	maxGroup              = 128
	maxGroupRecipients    = 16384
	groupFlushers         = 1
	groupTimeout          = 5 * time.Second
	groupLinger           = 20 * time.Millisecond
	lingerWindow          = 2 * groupLinger
	groupEnough           = 8
	groupEnoughRecipients = 256
)

// DefaultLinger is how long a busy group lingers unless WithLinger says
// otherwise (spec.messaging.sendLinger).
const DefaultLinger = groupLinger

// GroupOption configures a GroupEnqueuer.
type GroupOption func(*GroupEnqueuer)

// WithLinger makes a busy group linger up to d before it is taken (less
// once it holds enough), and counts a group as busy when another sender
// sent within 2d; 0 never lingers. A longer linger puts more messages in
// each task at moderate rates, and each task costs about the same server
// CPU however many it holds; it adds up to d to a busy send's latency
// (docs/benchmarks.md, issue 12).
func WithLinger(d time.Duration) GroupOption {
	return func(g *GroupEnqueuer) {
		g.linger, g.window = max(d, 0), 2*max(d, 0)
	}
}

// WithGate makes each group pass gate before it is queued: the group's
// admissions share one round trip, made once the group is taken (after
// any linger), instead of one per send before it joins the group. A
// delivery gate refuses is answered with gate's error and not queued;
// those admitted but not queued (the enqueue failed) are released.
func WithGate(gate Gate) GroupOption {
	return func(g *GroupEnqueuer) { g.gate = gate }
}

// NewGroupEnqueuer returns a group-committing Enqueuer over sink.
func NewGroupEnqueuer(sink GroupSink, opts ...GroupOption) *GroupEnqueuer {
	g := &GroupEnqueuer{
		sink: sink, timeout: groupTimeout, flushers: groupFlushers,
		maxSize: maxGroup, maxUsers: maxGroupRecipients, linger: groupLinger, window: lingerWindow, wait: waitOrCut,
		tracer: otel.Tracer(tracerName),
		groups: map[string]*group{},
		idle:   make(chan struct{}),
	}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Close refuses further deliveries and waits, at most until ctx ends, for
// the flushers still sending what was accepted: each runs in a goroutine
// handed over by a request that has already been answered, and Close is
// what lets the process wait for it before it closes Redis.
func (g *GroupEnqueuer) Close(ctx context.Context) error {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		if g.flushes == 0 {
			close(g.idle)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("group enqueuer: deliveries still being enqueued: %w", ctx.Err())
	}
}

// Enqueue implements Enqueuer. The caller's context is not used to cancel
// the shared enqueue (it carries other requests' messages too); each
// group gets its own timeout instead, and Enqueue always reports the true
// outcome, so a message is never queued behind an error answer.
func (g *GroupEnqueuer) Enqueue(ctx context.Context, d Delivery) (err error) {
	_, span, d := startEnqueue(ctx, g.tracer, d)
	defer func() { telemetry.Fail(span, err); span.End() }()
	p := &pendingDelivery{d: d, span: span, done: make(chan error, 1)}
	q := d.Queue()
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	grp := g.groups[q]
	if grp == nil {
		grp = &group{cut: make(chan struct{}, 1)}
		g.groups[q] = grp
	}
	grp.pending = append(grp.pending, p)
	grp.pendingUsers += len(d.Recipients)
	if grp.lingering && g.enough(grp) {
		grp.lingering = false
		grp.cut <- struct{}{} // buffered, and sent once per linger
	}
	now := time.Now()
	grp.company = d.SenderID != grp.lastSender && now.Sub(grp.lastArrival) < g.window
	grp.lastSender, grp.lastArrival = d.SenderID, now
	lead := grp.active < g.flushers
	if lead {
		grp.active++
		g.flushes++
	}
	g.mu.Unlock()
	if lead {
		g.flush(grp, p)
	}
	return <-p.done
}

// flush enqueues groups from grp until own (the leader's delivery) is
// sent, then hands any remainder to a goroutine so the leader's request
// can answer. The flusher count drops only when nothing is pending, so a
// delivery is never left behind without a flusher.
func (g *GroupEnqueuer) flush(grp *group, own *pendingDelivery) {
	for {
		if d := g.lingerFor(grp); d > 0 {
			g.wait(d, grp.cut)
		}
		group := g.take(grp)
		if group == nil {
			return
		}
		g.send(group)
		if own != nil {
			sent := false
			for _, p := range group {
				sent = sent || p == own
			}
			if sent {
				// Keep the flusher slot: the goroutine carries on with it.
				go g.flush(grp, nil)
				return
			}
		}
	}
}

// lingerFor says how long to wait before taking a group from grp: linger
// while sends are frequent and concurrent (the previous group was taken
// lately and held several, or several are waiting now, or the latest
// send followed another sender's within the window) and the group does
// not hold enough yet; else nothing. A lone sequential sender never
// lingers: waiting could not give it company. A linger it returns ends
// early through grp.cut once the group holds enough.
func (g *GroupEnqueuer) lingerFor(grp *group) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	busy := grp.company || time.Since(grp.lastFlush) < g.window && (grp.lastSize > 1 || len(grp.pending) > 1)
	if g.linger <= 0 || !busy || g.enough(grp) {
		return 0
	}
	select { // a cut left from a linger that ran out
	case <-grp.cut:
	default:
	}
	grp.lingering = true
	return g.linger
}

// enough says grp holds enough to be taken without lingering: as many
// deliveries as a group can take, or enough that a task's cost is a small
// share of each (groupEnough deliveries, or groupEnoughRecipients
// recipients: a broadcast to a room, whose rows and writes cost many
// times a task). The caller holds g.mu.
func (g *GroupEnqueuer) enough(grp *group) bool {
	n := len(grp.pending)
	return n >= g.maxSize || n >= groupEnough || grp.pendingUsers >= groupEnoughRecipients
}

// waitOrCut waits d, or until cut receives.
func waitOrCut(d time.Duration, cut <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-cut:
	}
}

// take removes the next group from grp, or releases the caller's flusher
// slot and returns nil when nothing is pending.
func (g *GroupEnqueuer) take(grp *group) []*pendingDelivery {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp.lingering = false
	if len(grp.pending) == 0 {
		grp.active--
		g.flushes--
		if g.closed && g.flushes == 0 {
			close(g.idle)
		}
		return nil
	}
	n, users := 0, 0
	for n < len(grp.pending) && n < g.maxSize {
		r := len(grp.pending[n].d.Recipients)
		if n > 0 && users+r > g.maxUsers {
			break
		}
		users += r
		n++
	}
	grp.lastFlush, grp.lastSize = time.Now(), n
	grp.pendingUsers -= users
	group := make([]*pendingDelivery, n)
	copy(group, grp.pending)
	// Shift rather than reslice so the backing array does not pin sent
	// deliveries.
	rest := copy(grp.pending, grp.pending[n:])
	clear(grp.pending[rest:])
	grp.pending = grp.pending[:rest]
	return group
}

func (g *GroupEnqueuer) send(group []*pendingDelivery) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	// The group's Redis round trips show in the trace of the first
	// sampled delivery it carries (a lone message's own).
	for _, p := range group {
		if p.span.IsRecording() {
			ctx = trace.ContextWithSpan(ctx, p.span)
			break
		}
	}
	group = g.admit(ctx, group)
	if len(group) == 0 {
		return
	}
	ds := deliveriesOf(group)
	err := g.sink.EnqueueGroup(ctx, ds)
	if err != nil && g.gate != nil {
		if rerr := g.gate.ReleaseGroup(context.WithoutCancel(ctx), ds); rerr != nil {
			err = fmt.Errorf("%w (and releasing the admissions: %v)", err, rerr)
		}
	}
	for _, p := range group {
		p.done <- err
	}
}

// admit passes group through the gate, if any: it answers the deliveries
// the gate refuses (all of them when the gate fails) and returns the rest.
func (g *GroupEnqueuer) admit(ctx context.Context, group []*pendingDelivery) []*pendingDelivery {
	if g.gate == nil {
		return group
	}
	refusals, err := g.gate.AdmitGroup(ctx, deliveriesOf(group))
	if err == nil && len(refusals) != len(group) {
		err = fmt.Errorf("delivery: gate answered %d of %d deliveries", len(refusals), len(group))
	}
	if err != nil {
		for _, p := range group {
			p.done <- err
		}
		return nil
	}
	admitted := group[:0:0]
	for i, p := range group {
		if refusals[i] != nil {
			p.done <- refusals[i]
		} else {
			admitted = append(admitted, p)
		}
	}
	return admitted
}

func deliveriesOf(group []*pendingDelivery) []Delivery {
	ds := make([]Delivery, len(group))
	for i, p := range group {
		ds[i] = p.d
	}
	return ds
}
