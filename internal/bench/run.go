package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrCorrectness is returned (wrapped) when a run saw a lost, duplicated,
// leaked or missing-from-history message. The report is returned with it.
var ErrCorrectness = errors.New("correctness check failed")

// setupConcurrency bounds parallel register/login/dial calls: password
// hashing is deliberately slow and shares the CPU with everything else.
const setupConcurrency = 8

// dialConcurrency bounds parallel stream opens.
const dialConcurrency = 64

// Run registers and signs in Options.Users fresh users on the target,
// opens their streams, runs the scenario, prints the report to Out (and
// writes it to JSONPath when set) and returns it. It returns an error
// wrapping ErrCorrectness, together with the report, when any accepted
// message was lost, duplicated, delivered to someone it was not for, or is
// not in history exactly once.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	r := newRunner(o)
	defer r.close()
	sources, err := cpuSources(o)
	if err != nil {
		return nil, err
	}
	if len(sources) > 0 {
		r.meter = newMeter(sources)
		if err := r.meter.check(ctx); err != nil {
			return nil, fmt.Errorf("reading server counters: %w", err)
		}
	}

	rep, err := r.run(ctx)
	if rep == nil {
		return nil, err
	}
	rep.print(o.Out)
	if o.JSONPath != "" {
		if werr := writeJSON(o.JSONPath, rep); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if err == nil {
		err = rep.correctnessError()
	}
	return rep, err
}

func writeJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

type user struct {
	idx      int32
	name     string
	password string
	usercode string
	token    string
	conns    []*conn
}

type runner struct {
	o     Options
	runID string
	cl    *client
	tr    *tracker
	prog  *progress

	users []*user
	conns []*conn

	streamsWG sync.WaitGroup
	stopRead  context.CancelFunc

	acceptH  *lockedHist
	accepted atomic.Int64 // measured accepts
	warmAcc  atomic.Int64
	seq      atomic.Int64
	firstMs  atomic.Int64 // first measured POST start (ns since epoch), 0 = none
	lastMs   atomic.Int64 // last measured accept (ns since epoch)
	sent     []*msgState  // every accepted message, after the senders stop
	sentMu   sync.Mutex
	notes    []string
	// meter reads the server's CPU and counters around the measured
	// window; nil when no --cpu-* source is given.
	meter *meter
}

func newRunner(o Options) *runner {
	conns := o.Users*o.ConnectionsPerUser + o.Senders + 16
	r := &runner{
		o:       o,
		runID:   randomHex(4),
		cl:      newClient(o.Target, conns),
		tr:      newTracker(),
		acceptH: newLockedHist(),
	}
	r.prog = newProgress(o.Out, r.status)
	return r
}

func (r *runner) close() {
	if r.meter != nil {
		r.meter.close()
	}
	r.closeStreams()
	r.prog.stop()
	r.cl.close()
}

func (r *runner) note(format string, a ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, a...))
}

func (r *runner) run(ctx context.Context) (*Report, error) {
	rep := &Report{
		RunID:              r.runID,
		Target:             r.o.Target,
		Scenario:           r.o.Scenario,
		Transport:          r.o.Transport,
		Users:              r.o.Users,
		ConnectionsPerUser: r.o.ConnectionsPerUser,
		Senders:            r.o.Senders,
		Rate:               r.o.Rate,
		StartedAt:          time.Now().UTC(),
	}
	r.prog.start()
	if err := r.setupUsers(ctx); err != nil {
		return nil, err
	}
	var err error
	switch r.o.Scenario {
	case ScenarioIdle:
		err = r.runIdle(ctx, rep)
	case ScenarioHistory:
		err = r.runHistory(ctx, rep)
	default:
		err = r.runMessages(ctx, rep)
	}
	r.prog.stop()
	rep.Errors = r.cl.errs.snapshot()
	rep.Notes = r.notes
	if n := rep.Errors["429"]; n > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d sends were refused with 429: the server limits each user's send rate "+
			"(spec.messaging.sendRateLimit); to measure past it use more --users or a lower --rate, or raise the limit on the server under test", n))
	}
	if err != nil && rep.Duration == 0 && rep.Accepted == 0 && rep.Idle == nil && rep.History == nil {
		return nil, err
	}
	return rep, err
}

// setupUsers registers and logs in every user, in parallel.
func (r *runner) setupUsers(ctx context.Context) error {
	r.users = make([]*user, r.o.Users)
	for i := range r.users {
		r.users[i] = &user{
			idx:      int32(i),
			name:     fmt.Sprintf("bench-%s-%d", r.runID, i),
			password: strongPassword(),
		}
	}
	var done atomic.Int64
	r.prog.setPhase(func() string { return fmt.Sprintf("signing up %d/%d users", done.Load(), len(r.users)) })
	return parallel(ctx, len(r.users), setupConcurrency, func(ctx context.Context, i int) error {
		u := r.users[i]
		email := u.name + "@bench.example.com"
		au, err := r.cl.register(ctx, u.name, email, u.password)
		if err != nil {
			return fmt.Errorf("registering %s: %w", u.name, err)
		}
		lr, err := r.cl.login(ctx, u.name, u.password)
		if err != nil {
			return fmt.Errorf("logging in %s: %w", u.name, err)
		}
		u.usercode, u.token = au.Usercode, lr.Token
		if u.usercode == "" {
			u.usercode = lr.User.Usercode
		}
		if u.usercode == "" {
			return fmt.Errorf("registering %s: the answer has no usercode", u.name)
		}
		done.Add(1)
		return nil
	})
}

// openStreams opens every user's connections and starts one reader
// goroutine per connection; it returns once all are open.
func (r *runner) openStreams(ctx context.Context) error {
	for _, u := range r.users {
		for j := 0; j < r.o.ConnectionsPerUser; j++ {
			c := &conn{idx: len(r.conns), user: u.idx}
			u.conns = append(u.conns, c)
			r.conns = append(r.conns, c)
		}
	}
	readCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.stopRead = cancel
	var opened atomic.Int64
	r.prog.setPhase(func() string {
		return fmt.Sprintf("opening %d/%d %s connections", opened.Load(), len(r.conns), r.o.Transport)
	})
	return parallel(ctx, len(r.conns), dialConcurrency, func(ctx context.Context, i int) error {
		c := r.conns[i]
		u := r.users[c.user]
		s, err := r.cl.openStream(readCtx, ctx, r.o.Transport, u.token, "")
		if err != nil {
			r.cl.errs.add(errKey(err))
			return fmt.Errorf("opening a %s stream for %s: %w", r.o.Transport, u.name, err)
		}
		opened.Add(1)
		r.streamsWG.Add(1)
		go r.read(readCtx, c, u.token, s)
		return nil
	})
}

// read is the one goroutine per connection. When the server drops the
// connection it reconnects with after=<last id seen>, as a real client
// does, and counts the disconnect.
func (r *runner) read(ctx context.Context, c *conn, token string, s stream) {
	defer r.streamsWG.Done()
	onID := func(id []byte) {
		r.tr.arrived(c, id, r.tr.now())
		c.setLast(id)
	}
	for {
		for {
			if err := s.next(ctx, onID); err != nil {
				break
			}
		}
		s.close()
		if ctx.Err() != nil {
			return
		}
		c.disconnects.Add(1)
		backoff := 50 * time.Millisecond
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			var err error
			s, err = r.cl.openStream(ctx, ctx, r.o.Transport, token, c.last())
			if err == nil {
				break
			}
			r.cl.errs.add(errKey(err))
			backoff = min(backoff*2, 2*time.Second)
		}
	}
}

func (r *runner) closeStreams() {
	if r.stopRead != nil {
		r.stopRead()
		r.streamsWG.Wait()
		r.stopRead = nil
	}
}

// waitPresence polls presence until every bench user is reported online
// (broadcasts go to who is online at send time).
func (r *runner) waitPresence(ctx context.Context, timeout time.Duration) error {
	r.prog.setPhase(func() string { return "waiting for presence" })
	deadline := time.Now().Add(timeout)
	for {
		online, err := r.cl.presenceOnline(ctx, r.users[0].token)
		if err == nil {
			missing := 0
			for _, u := range r.users[1:] {
				if !online[u.usercode] {
					missing++
				}
			}
			if missing == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("presence: %d of %d users still not online after %s", missing, len(r.users)-1, timeout)
			}
		} else if time.Now().After(deadline) {
			return fmt.Errorf("presence: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// parallel runs fn(i) for i in [0,n) on at most limit goroutines and
// returns the first error (the others are cancelled).
func parallel(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for w := 0; w < min(n, limit); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// pickFunc chooses the sender and recipient (or broadcastTo) of a message.
type pickFunc func(rng *rand.Rand) (sender, to int32)

func (r *runner) pickDM(rng *rand.Rand) (int32, int32) {
	n := int32(len(r.users))
	s := rng.Int32N(n)
	t := rng.Int32N(n - 1)
	if t >= s {
		t++
	}
	return s, t
}

func (r *runner) pickBroadcast(rng *rand.Rand) (int32, int32) {
	return rng.Int32N(int32(len(r.users))), broadcastTo
}

func (r *runner) pickMixed(rng *rand.Rand) (int32, int32) {
	if rng.IntN(10) == 0 {
		return r.pickBroadcast(rng)
	}
	return r.pickDM(rng)
}

// sendPlan is one sending phase.
type sendPlan struct {
	senders  int
	rate     float64
	warmup   time.Duration
	duration time.Duration // 0: unbounded in time
	messages int           // 0: unbounded in count
	pick     pickFunc
	// measure, when set, is called once when the warm-up ends (at once
	// without one), while the senders go on.
	measure func()
}

// send runs the senders until the plan's duration or count is reached.
// Messages whose POST starts during the warmup are not measured.
func (r *runner) send(ctx context.Context, p sendPlan) {
	start := time.Now()
	warmEnd := r.tr.now() + int64(p.warmup)
	var stopAt time.Time
	if p.duration > 0 {
		stopAt = start.Add(p.warmup + p.duration)
	}
	var claimed atomic.Int64
	var wg sync.WaitGroup
	var interval time.Duration
	if p.rate > 0 {
		interval = time.Duration(float64(p.senders) / p.rate * float64(time.Second))
	}
	lists := make([][]*msgState, p.senders)
	switch {
	case p.measure != nil && p.warmup <= 0:
		// Nothing sent yet: the first reading precedes every POST.
		p.measure()
	case p.measure != nil:
		// The senders carry on through the reading, as they do from
		// warm-up into the measured phase.
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-ctx.Done():
			case <-time.After(time.Until(start.Add(p.warmup))):
				p.measure()
			}
		}()
	}
	for i := 0; i < p.senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
			next := start.Add(time.Duration(i) * interval / time.Duration(p.senders))
			for ctx.Err() == nil {
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(d):
						}
					}
					next = next.Add(interval)
				}
				now := time.Now()
				if !stopAt.IsZero() && !now.Before(stopAt) {
					return
				}
				t0 := r.tr.now()
				warm := t0 < warmEnd
				if !warm && p.messages > 0 && claimed.Add(1) > int64(p.messages) {
					return
				}
				sender, to := p.pick(rng)
				seq := r.seq.Add(1)
				req := sendReq{
					Body:     "bench " + r.runID + " " + strconv.FormatInt(seq, 10),
					ClientID: "bench-" + r.runID + "-" + strconv.FormatInt(seq, 10),
				}
				if to != broadcastTo {
					req.To = r.users[to].usercode
				}
				id, err := r.cl.send(ctx, r.users[sender].token, req)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					r.cl.errs.add(errKey(err))
					if interval == 0 {
						time.Sleep(20 * time.Millisecond) // do not spin on a failing server
					}
					continue
				}
				t1 := r.tr.now()
				lists[i] = append(lists[i], r.tr.accepted(id, t0, sender, to, warm))
				if warm {
					r.warmAcc.Add(1)
					continue
				}
				r.acceptH.record(time.Duration(t1 - t0))
				r.accepted.Add(1)
				r.firstMs.CompareAndSwap(0, t0)
				for {
					last := r.lastMs.Load()
					if t1 <= last || r.lastMs.CompareAndSwap(last, t1) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	r.sentMu.Lock()
	for _, l := range lists {
		r.sent = append(r.sent, l...)
	}
	r.sentMu.Unlock()
}

// missing counts expected recipient deliveries that have not arrived.
func (r *runner) missing() int64 {
	var n int64
	for _, m := range r.sent {
		if m.to == broadcastTo {
			for _, c := range r.conns {
				if c.user != m.sender && !c.has(m.idx) {
					n++
				}
			}
			continue
		}
		for _, c := range r.users[m.to].conns {
			if !c.has(m.idx) {
				n++
			}
		}
	}
	return n
}

// drain waits until every expected delivery has arrived, or until no new
// delivery has arrived for the drain period. It reports whether all came.
func (r *runner) drain(ctx context.Context, stall time.Duration) bool {
	var left atomic.Int64
	left.Store(r.missing())
	r.prog.setPhase(func() string { return fmt.Sprintf("draining: %d deliveries outstanding", left.Load()) })
	lastFrames, lastProgress := r.tr.frames.Load(), time.Now()
	hardStop := time.Now().Add(MaxDrain)
	for left.Load() > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
		if f := r.tr.frames.Load(); f != lastFrames {
			lastFrames, lastProgress = f, time.Now()
		}
		if time.Since(lastProgress) >= stall || time.Now().After(hardStop) {
			left.Store(r.missing())
			return left.Load() == 0
		}
		left.Store(r.missing())
	}
	// A short grace so duplicates sent right behind the originals are seen.
	select {
	case <-ctx.Done():
	case <-time.After(min(stall, 250*time.Millisecond)):
	}
	return true
}
