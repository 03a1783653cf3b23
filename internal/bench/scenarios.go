package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// historyVerifyPage is the page size used to check history: the largest
// the API allows, so the check costs as few requests as possible.
const historyVerifyPage = 200

// historyMeasurePage is the page size measured by the history scenario:
// what the web UI asks for.
const historyMeasurePage = 50

// status is the live progress line's text.
func (r *runner) status(phase string) string {
	acc, warm := r.accepted.Load(), r.warmAcc.Load()
	if acc+warm == 0 && r.tr.frames.Load() == 0 {
		return phase
	}
	r.acceptH.mu.Lock()
	accP99 := r.acceptH.h.ValueAtQuantile(99)
	r.acceptH.mu.Unlock()
	e2e := r.tr.e2e.snapshot()
	rate := 0.0
	if first := r.firstMs.Load(); first > 0 {
		if el := time.Duration(r.tr.now() - first).Seconds(); el > 0 {
			rate = float64(acc) / el
		}
	}
	return fmt.Sprintf("%s | accepted %d (+%d warmup) %.0f/s | deliveries %d | p99 accept %s e2e %s | errors %d",
		phase, acc, warm, rate, r.tr.deliveries.Load(), ms(accP99), ms(e2e.ValueAtQuantile(99)), r.cl.errs.total())
}

// runMessages runs the dm, broadcast and mixed scenarios.
func (r *runner) runMessages(ctx context.Context, rep *Report) error {
	if err := r.openStreams(ctx); err != nil {
		return err
	}
	rep.Connections = len(r.conns)
	var pick pickFunc
	switch r.o.Scenario {
	case ScenarioBroadcast:
		pick = r.pickBroadcast
	case ScenarioMixed:
		pick = r.pickMixed
	default:
		pick = r.pickDM
	}
	if r.o.Scenario != ScenarioDM {
		if err := r.waitPresence(ctx, 30*time.Second); err != nil {
			r.note("%v: broadcasts may not reach everyone", err)
		}
	}
	r.prog.setPhase(func() string { return "sending" })
	plan := sendPlan{
		senders: r.o.Senders, rate: r.o.Rate, warmup: r.o.Warmup,
		duration: r.o.Duration, messages: r.o.Messages, pick: pick,
	}
	if r.meter != nil {
		plan.measure = func() { r.meter.begin(ctx) }
	}
	r.send(ctx, plan)
	if err := ctx.Err(); err != nil {
		// Interrupted: still account for what was accepted (the drain and
		// the history check are bounded on their own).
		r.note("interrupted while sending: %v", err)
		ctx = context.WithoutCancel(ctx)
	}
	rep.DrainComplete = r.drain(ctx, r.o.Drain)
	if r.meter != nil {
		// The window ends once the deliveries have drained, before the
		// history check adds reads of its own.
		r.prog.setPhase(func() string { return "reading the server's counters" })
		r.meter.finish(ctx)
	}
	r.closeStreams()
	r.fillMessageStats(rep)
	r.analyze(rep)
	if r.meter != nil {
		rep.CPU = r.meter.report(rep.Accepted, rep.Deliveries)
	}
	r.verifyHistory(ctx, rep)
	return nil
}

func (r *runner) fillMessageStats(rep *Report) {
	rep.Accepted = r.accepted.Load()
	rep.WarmupAccepted = r.warmAcc.Load()
	rep.AcceptLatency = summarize(r.acceptH.h)
	rep.EndToEndLatency = summarize(r.tr.e2e.snapshot())
	rep.Deliveries = r.tr.deliveries.Load()
	first, last := r.firstMs.Load(), r.lastMs.Load()
	if first > 0 && last > first {
		d := time.Duration(last - first).Seconds()
		rep.Duration = d
		rep.AcceptedPerSec = float64(rep.Accepted) / d
	}
	if la := r.tr.lastArr.Load(); first > 0 && la > first {
		rep.DeliveriesPerSec = float64(rep.Deliveries) / time.Duration(la-first).Seconds()
	}
}

// analyze counts lost, duplicated, unexpected and echoed deliveries over
// every accepted message. Streams are closed: no reader is running.
func (r *runner) analyze(rep *Report) {
	byIdx := make(map[int32]*msgState, len(r.sent))
	for _, m := range r.sent {
		byIdx[m.idx] = m
	}
	for _, m := range r.sent {
		for _, c := range r.conns {
			got := c.has(m.idx)
			switch {
			case m.isRecipient(c.user):
				rep.ExpectedDeliveries++
				if !got {
					rep.Lost++
				}
			case c.user == m.sender:
				if got {
					rep.EchoDeliveries++
				}
			default:
				if got {
					rep.Unexpected++
				}
			}
		}
	}
	for _, c := range r.conns {
		rep.Disconnects += c.disconnects.Load()
		c.mu.Lock()
		for _, idx := range c.dups {
			m, ok := byIdx[idx]
			switch {
			case !ok:
				// Not one of ours (another client's broadcast).
			case m.isRecipient(c.user):
				rep.Duplicated++
			case c.user == m.sender:
				rep.EchoDuplicated++
			default:
				rep.Unexpected++
			}
		}
		c.mu.Unlock()
	}
	if rep.Disconnects > 0 {
		r.note("the server closed %d stream(s); the tool reconnected with after=<last id>", rep.Disconnects)
	}
}

// verifyHistory pages through the history of a sample of users and
// checks that every accepted message they sent or received is in it
// exactly once.
func (r *runner) verifyHistory(ctx context.Context, rep *Report) {
	if r.o.HistorySample < 0 || len(r.sent) == 0 {
		return
	}
	sample := r.users
	if len(sample) > r.o.HistorySample {
		sample = make([]*user, 0, r.o.HistorySample)
		for _, i := range rand.Perm(len(r.users))[:r.o.HistorySample] {
			sample = append(sample, r.users[i])
		}
	}
	var checked atomic.Int64
	r.prog.setPhase(func() string { return fmt.Sprintf("checking history %d/%d users", checked.Load(), len(sample)) })
	var mu sync.Mutex
	err := parallel(ctx, len(sample), 4, func(ctx context.Context, i int) error {
		u := sample[i]
		want := map[string]int{}
		for _, m := range r.sent {
			if m.sender == u.idx || m.isRecipient(u.idx) {
				want[m.id] = 0
			}
		}
		before, seen := "", map[string]bool{}
		for page := 0; ; page++ {
			p, err := r.cl.history(ctx, u.token, historyVerifyPage, before)
			if err != nil {
				r.cl.errs.add(errKey(err))
				return fmt.Errorf("history of %s: %w", u.name, err)
			}
			for _, m := range p.Messages {
				if n, ok := want[m.ID]; ok {
					want[m.ID] = n + 1
				}
			}
			if p.NextBefore == nil || *p.NextBefore == "" || len(p.Messages) == 0 {
				break
			}
			if seen[*p.NextBefore] {
				return fmt.Errorf("history of %s: cursor %s repeats", u.name, *p.NextBefore)
			}
			seen[*p.NextBefore] = true
			before = *p.NextBefore
		}
		var missing, dup int64
		for _, n := range want {
			switch {
			case n == 0:
				missing++
			case n > 1:
				dup += int64(n - 1)
			}
		}
		mu.Lock()
		rep.HistoryUsersChecked++
		rep.HistoryMissing += missing
		rep.HistoryDuplicated += dup
		mu.Unlock()
		checked.Add(1)
		return nil
	})
	if err != nil {
		r.note("history check incomplete: %v", err)
	}
}

// runIdle opens every connection and reads the server's memory before,
// right after, and at the end of holding them for Duration.
func (r *runner) runIdle(ctx context.Context, rep *Report) error {
	// Signing up hashes passwords with a memory-hard function, and an idle
	// Go server only collects that garbage at its next GC (forced every
	// 2 minutes at the latest): wait for one, then for RSS to settle,
	// before taking the baseline.
	before, err := r.settledMemory(ctx, 150*time.Second)
	if err != nil {
		return err
	}
	if err := r.openStreams(ctx); err != nil {
		return err
	}
	rep.Connections = len(r.conns)
	idle := &IdleReport{Connections: len(r.conns), RSSBeforeBytes: before.rss}
	rep.Idle = idle
	// Let the server finish setting the connections up before reading;
	// the settling time counts towards the hold.
	settle := min(2*time.Second, r.o.Duration/2)
	r.prog.setPhase(func() string { return fmt.Sprintf("%d connections open, settling", len(r.conns)) })
	sleepCtx(ctx, settle)
	after, err := r.memory(ctx)
	if err != nil {
		return err
	}
	idle.RSSAfterBytes = after.rss
	held := time.Now()
	r.prog.setPhase(func() string {
		return fmt.Sprintf("holding %d connections %.0fs/%.0fs", len(r.conns), (time.Since(held) + settle).Seconds(), r.o.Duration.Seconds())
	})
	if r.meter != nil {
		// Idle cost: the open connections and whatever the server does
		// with no traffic, over the rest of the hold.
		r.meter.begin(ctx)
	}
	sleepCtx(ctx, r.o.Duration-settle)
	idle.HeldSeconds = (time.Since(held) + settle).Seconds()
	if r.meter != nil {
		r.meter.finish(ctx)
		rep.CPU = r.meter.report(0, 0)
	}
	end, err := r.memory(ctx)
	if err != nil {
		return err
	}
	n := float64(len(r.conns))
	idle.RSSEndBytes = end.rss
	idle.ServerConnections = end.conns
	idle.RSSPerConnBytes = (after.rss - before.rss) / n
	idle.RSSPerConnEndBytes = (end.rss - before.rss) / n
	idle.HeapStackPerConnBytes = (end.heapStack - before.heapStack) / n
	idle.GoroutinesPerConn = (end.goroutines - before.goroutines) / n
	if idle.RSSPerConnBytes <= 0 {
		r.note("the server's RSS went down while connections opened (memory released after sign-up); rerun with fewer users and more --connections-per-user")
	}
	r.closeStreams()
	for _, c := range r.conns {
		rep.Disconnects += c.disconnects.Load()
	}
	return nil
}

// serverMemory is what the idle scenario reads from the server's /metrics.
type serverMemory struct {
	rss        float64 // process_resident_memory_bytes
	heapStack  float64 // go_memstats_heap_inuse_bytes + go_memstats_stack_inuse_bytes
	goroutines float64 // go_goroutines
	conns      float64 // messager_stream_connections (all transports)
	gcs        float64 // go_gc_duration_seconds_count; -1 when not exported
}

func (r *runner) memory(ctx context.Context) (serverMemory, error) {
	text, err := r.cl.metrics(ctx, r.o.MetricsURL)
	var se *statusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return serverMemory{}, fmt.Errorf("the server has no %s: with spec.observability.metricsAddr set it serves metrics on that address only; pass it with --metrics-url", r.o.MetricsURL)
	}
	if err != nil {
		return serverMemory{}, fmt.Errorf("reading the server's metrics at %s: %w", r.o.MetricsURL, err)
	}
	var m serverMemory
	var ok bool
	if m.rss, ok = metricValue(text, "process_resident_memory_bytes"); !ok {
		return m, fmt.Errorf("the server's /metrics has no process_resident_memory_bytes")
	}
	heap, _ := metricValue(text, "go_memstats_heap_inuse_bytes")
	stack, _ := metricValue(text, "go_memstats_stack_inuse_bytes")
	m.heapStack = heap + stack
	m.goroutines, _ = metricValue(text, "go_goroutines")
	m.conns, _ = metricValue(text, "messager_stream_connections")
	if m.gcs, ok = metricValue(text, "go_gc_duration_seconds_count"); !ok {
		m.gcs = -1
	}
	return m, nil
}

// settledMemory waits for the server to run a garbage collection (when
// it exports go_gc_duration_seconds_count), then reads its memory until RSS
// stops falling, all within limit.
func (r *runner) settledMemory(ctx context.Context, limit time.Duration) (serverMemory, error) {
	deadline := time.Now().Add(limit)
	first, err := r.memory(ctx)
	if err != nil {
		return first, err
	}
	if first.gcs >= 0 {
		waited := time.Now()
		r.prog.setPhase(func() string {
			return fmt.Sprintf("waiting for a server GC after sign-up (%.0fs, at most 2m)", time.Since(waited).Seconds())
		})
		for time.Now().Before(deadline) && ctx.Err() == nil {
			sleepCtx(ctx, time.Second)
			cur, err := r.memory(ctx)
			if err != nil {
				return cur, err
			}
			if cur.gcs > first.gcs {
				break
			}
		}
	}
	r.prog.setPhase(func() string { return "waiting for the server's RSS to settle" })
	prev, err := r.memory(ctx)
	if err != nil {
		return prev, err
	}
	// Go returns freed memory to the OS gradually: settled means three
	// readings in a row, a second apart, each less than 512 KiB lower.
	steady := 0
	for time.Now().Before(deadline) && ctx.Err() == nil && steady < 3 {
		sleepCtx(ctx, time.Second)
		cur, err := r.memory(ctx)
		if err != nil {
			return cur, err
		}
		if prev.rss-cur.rss < 512<<10 {
			steady++
		} else {
			steady = 0
		}
		prev = cur
	}
	return prev, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// runHistory seeds deep histories with concurrent DMs between the users,
// waits until they have all arrived (so they are persisted), then pages
// through history with Senders concurrent readers for Duration.
func (r *runner) runHistory(ctx context.Context, rep *Report) error {
	if err := r.openStreams(ctx); err != nil {
		return err
	}
	rep.Connections = len(r.conns)
	seedStart := time.Now()
	r.prog.setPhase(func() string { return fmt.Sprintf("seeding %d messages", r.o.Messages) })
	r.send(ctx, sendPlan{senders: max(r.o.Senders, 8), messages: r.o.Messages, pick: r.pickDM})
	rep.DrainComplete = r.drain(ctx, r.o.Drain)
	r.closeStreams()
	r.fillMessageStats(rep)
	r.analyze(rep)
	h := &HistoryReport{SeededMessages: rep.Accepted, SeedSeconds: time.Since(seedStart).Seconds(), PageSize: historyMeasurePage}
	rep.History = h
	r.verifyHistory(ctx, rep)
	if ctx.Err() != nil {
		return nil
	}

	hist := newLockedHist()
	var pages atomic.Int64
	r.prog.setPhase(func() string {
		hist.mu.Lock()
		p99 := hist.h.ValueAtQuantile(99)
		hist.mu.Unlock()
		return fmt.Sprintf("paging history: %d pages, p99 %s, errors %d", pages.Load(), ms(p99), r.cl.errs.total())
	})
	mctx, cancel := context.WithTimeout(ctx, r.o.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < r.o.Senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
			for mctx.Err() == nil {
				u := r.users[rng.IntN(len(r.users))]
				before := ""
				for mctx.Err() == nil {
					t0 := time.Now()
					p, err := r.cl.history(mctx, u.token, historyMeasurePage, before)
					if err != nil {
						if mctx.Err() == nil {
							r.cl.errs.add(errKey(err))
							sleepCtx(mctx, 20*time.Millisecond)
						}
						break
					}
					hist.record(time.Since(t0))
					pages.Add(1)
					if p.NextBefore == nil || *p.NextBefore == "" || len(p.Messages) == 0 {
						break
					}
					before = *p.NextBefore
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	h.Pages = pages.Load()
	h.PagesPerSec = float64(h.Pages) / el
	h.Latency = summarize(hist.h)
	rep.Duration = el
	return nil
}
