package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The server-side cost of a run: CPU seconds of each server process read
// before and after the measured window, divided by what the window
// delivered. Throughput on a shared machine swings with whatever else
// runs; CPU time per message does not, so it is the figure to compare.
//
// Readings are taken where the server exposes them, read-only: a
// process's Prometheus endpoint (process_cpu_seconds_total), Redis's INFO,
// and PostgreSQL's pg_stat_activity and pg_stat_database plus /proc for
// its processes when it runs on this machine. None of them is used to
// judge correctness: that stays what a client sees.

// CPUReport is the server-side cost of the measured window.
type CPUReport struct {
	// WindowSeconds is the wall time between the two readings: from the
	// end of the warm-up to the end of the drain (the idle scenario: the
	// hold).
	WindowSeconds float64 `json:"window_s"`
	// Messages and Deliveries are the measured messages and their
	// recipient deliveries (0 in the idle scenario).
	Messages   int64        `json:"messages"`
	Deliveries int64        `json:"deliveries"`
	Processes  []ProcessCPU `json:"processes"`
	// CPUSeconds, Cores and the per-message figures sum every process.
	CPUSeconds    float64 `json:"cpu_s"`
	Cores         float64 `json:"cores"`
	USPerMessage  float64 `json:"cpu_us_per_message,omitempty"`
	USPerDelivery float64 `json:"cpu_us_per_delivery,omitempty"`
	// RedisCommands counts commands Redis processed in the window (its
	// INFO commandstats, less INFO itself), instance-wide.
	RedisCommands *CounterDelta `json:"redis_commands,omitempty"`
	// DBTransactions counts the database's committed and rolled-back
	// transactions (pg_stat_database), less the tool's own queries.
	DBTransactions *CounterDelta `json:"db_transactions,omitempty"`
	// ClientCPUSeconds is the load tool's own CPU in the window, and
	// Load1 the machine's 1-minute load average at its start and end: the
	// context that says how quiet the machine was.
	ClientCPUSeconds float64   `json:"bench_client_cpu_s"`
	Load1            []float64 `json:"load1,omitempty"`
	Notes            []string  `json:"notes,omitempty"`
}

// ProcessCPU is one server process's (or process group's) CPU in the window.
type ProcessCPU struct {
	Name          string  `json:"name"`
	Source        string  `json:"source"`
	CPUSeconds    float64 `json:"cpu_s"`
	Cores         float64 `json:"cores"`
	USPerMessage  float64 `json:"cpu_us_per_message,omitempty"`
	USPerDelivery float64 `json:"cpu_us_per_delivery,omitempty"`
}

// CounterDelta is how much a counter grew in the window.
type CounterDelta struct {
	Total      int64   `json:"total"`
	PerMessage float64 `json:"per_message,omitempty"`
	// ByName splits Total (Redis: by command, most called first in the
	// printed report).
	ByName map[string]int64 `json:"by_name,omitempty"`
}

// counters is one cumulative reading of a source.
type counters struct {
	// cpu is CPU seconds by process row, cumulative since some origin
	// that does not move between readings.
	cpu map[string]float64
	// commands is Redis's calls by command, cumulative; nil when the
	// source is not Redis.
	commands map[string]int64
	// xacts is the database's transactions, cumulative; valid when hasXacts.
	xacts    int64
	hasXacts bool
	// ownXacts is how many transactions the source itself has run so far,
	// to be subtracted from xacts.
	ownXacts int64
}

// counterSource is one place readings come from.
type counterSource interface {
	// describe names the source in the report ("http://127.0.0.1:9091/metrics").
	describe() string
	read(ctx context.Context) (counters, error)
	close()
}

// sampledSource is a source that must be read during the window too: it
// follows processes that may exit before the last reading.
type sampledSource interface {
	counterSource
	sample(ctx context.Context)
}

// noter is a source with something to say about its readings.
type noter interface{ notes() []string }

// CPU sampling and settling.
const (
	// cpuSampleEvery is how often sampled sources are read in the window.
	cpuSampleEvery = time.Second
	// pgStatsSettle is how long to wait after the window before reading
	// the database's transaction count: PostgreSQL 15+ backends flush
	// their statistics at most once a second while busy and up to 10 s
	// after going idle.
	pgStatsSettle = 11 * time.Second
)

// meter takes the readings around one measured window.
type meter struct {
	sources []counterSource
	settle  time.Duration
	every   time.Duration

	mu       sync.Mutex
	start    []counters
	end      []counters
	failed   []bool
	t0, t1   time.Time
	client0  float64
	client1  float64
	load     []float64
	notes    []string
	begun    bool
	finished bool

	stopSampling chan struct{}
	samplingDone chan struct{}
}

func newMeter(sources []counterSource) *meter {
	return &meter{sources: sources, settle: pgStatsSettle, every: cpuSampleEvery, failed: make([]bool, len(sources))}
}

func (m *meter) close() {
	m.stopSamplers()
	for _, s := range m.sources {
		s.close()
	}
}

func (m *meter) note(format string, a ...any) {
	m.notes = append(m.notes, fmt.Sprintf(format, a...))
}

// check reads every source once, so a wrong URL fails the run before it
// signs anybody up.
func (m *meter) check(ctx context.Context) error {
	var errs []error
	for _, s := range m.sources {
		if _, err := s.read(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.describe(), err))
		}
	}
	return errors.Join(errs...)
}

// begin takes the first readings and starts the samplers.
func (m *meter) begin(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.begun {
		return
	}
	m.begun = true
	m.t0 = time.Now()
	m.client0 = ownCPUSeconds()
	if l, ok := load1(); ok {
		m.load = append(m.load, l)
	}
	m.start = make([]counters, len(m.sources))
	for i, s := range m.sources {
		c, err := s.read(ctx)
		if err != nil {
			m.failed[i] = true
			m.note("%s: first reading failed, left out: %v", s.describe(), err)
			continue
		}
		m.start[i] = c
	}
	m.stopSampling = make(chan struct{})
	m.samplingDone = make(chan struct{})
	go m.sampleLoop(context.WithoutCancel(ctx))
}

func (m *meter) sampleLoop(ctx context.Context) {
	defer close(m.samplingDone)
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-m.stopSampling:
			return
		case <-t.C:
			for i, s := range m.sources {
				if ss, ok := s.(sampledSource); ok && !m.failed[i] {
					ss.sample(ctx)
				}
			}
		}
	}
}

func (m *meter) stopSamplers() {
	if m.stopSampling != nil {
		close(m.stopSampling)
		<-m.samplingDone
		m.stopSampling = nil
	}
}

// finish takes the last readings. Transaction counters are read again
// after the settle time, once the database has flushed its statistics.
func (m *meter) finish(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.begun || m.finished {
		return
	}
	m.finished = true
	m.stopSamplers()
	m.t1 = time.Now()
	m.client1 = ownCPUSeconds()
	if l, ok := load1(); ok {
		m.load = append(m.load, l)
	}
	m.end = make([]counters, len(m.sources))
	wantXacts := false
	for i, s := range m.sources {
		if m.failed[i] {
			continue
		}
		c, err := s.read(ctx)
		if err != nil {
			m.failed[i] = true
			m.note("%s: last reading failed, left out: %v", s.describe(), err)
			continue
		}
		m.end[i] = c
		wantXacts = wantXacts || c.hasXacts
	}
	if !wantXacts {
		return
	}
	select {
	case <-ctx.Done():
		m.note("interrupted before the database flushed its statistics: transactions may be undercounted")
	case <-time.After(m.settle):
	}
	for i, s := range m.sources {
		if m.failed[i] || !m.end[i].hasXacts {
			continue
		}
		c, err := s.read(context.WithoutCancel(ctx))
		if err != nil {
			m.note("%s: transaction count after settling failed, using the one at the window's end: %v", s.describe(), err)
			continue
		}
		m.end[i].xacts, m.end[i].ownXacts = c.xacts, c.ownXacts
	}
}

// report is the window's cost per message and per delivery.
func (m *meter) report(messages, deliveries int64) *CPUReport {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.begun || !m.finished {
		return nil
	}
	var ok []int
	for i := range m.sources {
		if !m.failed[i] {
			ok = append(ok, i)
		}
	}
	starts, ends, names := make([]counters, len(ok)), make([]counters, len(ok)), make([]string, len(ok))
	for j, i := range ok {
		starts[j], ends[j], names[j] = m.start[i], m.end[i], m.sources[i].describe()
	}
	rep := summarizeCPU(names, starts, ends, m.t1.Sub(m.t0), messages, deliveries)
	rep.ClientCPUSeconds = m.client1 - m.client0
	rep.Load1 = m.load
	rep.Notes = append(rep.Notes, m.notes...)
	for _, i := range ok {
		if n, isNoter := m.sources[i].(noter); isNoter {
			rep.Notes = append(rep.Notes, n.notes()...)
		}
	}
	return rep
}

// summarizeCPU is the arithmetic of a report: per source, the growth of
// each counter between its two readings, per second of window, per
// message and per delivery.
func summarizeCPU(names []string, start, end []counters, window time.Duration, messages, deliveries int64) *CPUReport {
	rep := &CPUReport{WindowSeconds: window.Seconds(), Messages: messages, Deliveries: deliveries}
	per := func(total float64, n int64) float64 {
		if n <= 0 {
			return 0
		}
		return total / float64(n)
	}
	for i := range start {
		rows := slices.Sorted(maps.Keys(end[i].cpu))
		for _, name := range rows {
			d := end[i].cpu[name] - start[i].cpu[name]
			if d < 0 {
				// A restarted process: its counter began again.
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s: CPU counter went back (process restarted?): left out", name))
				continue
			}
			p := ProcessCPU{Name: name, Source: names[i], CPUSeconds: d,
				USPerMessage: per(d*1e6, messages), USPerDelivery: per(d*1e6, deliveries)}
			if window > 0 {
				p.Cores = d / window.Seconds()
			}
			rep.Processes = append(rep.Processes, p)
			rep.CPUSeconds += d
		}
		if end[i].commands != nil {
			if rep.RedisCommands == nil {
				rep.RedisCommands = &CounterDelta{ByName: map[string]int64{}}
			}
			for cmd, n := range end[i].commands {
				d := n - start[i].commands[cmd]
				if d <= 0 || cmd == "info" {
					continue
				}
				rep.RedisCommands.ByName[cmd] += d
				rep.RedisCommands.Total += d
			}
		}
		if end[i].hasXacts && start[i].hasXacts {
			if rep.DBTransactions == nil {
				rep.DBTransactions = &CounterDelta{}
			}
			d := (end[i].xacts - start[i].xacts) - (end[i].ownXacts - start[i].ownXacts)
			rep.DBTransactions.Total += max(d, 0)
		}
	}
	if window > 0 {
		rep.Cores = rep.CPUSeconds / window.Seconds()
	}
	rep.USPerMessage = per(rep.CPUSeconds*1e6, messages)
	rep.USPerDelivery = per(rep.CPUSeconds*1e6, deliveries)
	if rep.RedisCommands != nil {
		rep.RedisCommands.PerMessage = per(float64(rep.RedisCommands.Total), messages)
	}
	if rep.DBTransactions != nil {
		rep.DBTransactions.PerMessage = per(float64(rep.DBTransactions.Total), messages)
	}
	return rep
}

// print writes the CPU section of the human-readable report.
func (c *CPUReport) print(w io.Writer) {
	perMsg := c.Messages > 0
	fmt.Fprintf(w, "server CPU\t%.1fs window\t%.3f cores", c.WindowSeconds, c.Cores)
	if perMsg {
		fmt.Fprintf(w, "\t%.0f µs/message\t%.1f µs/delivery", c.USPerMessage, c.USPerDelivery)
	}
	fmt.Fprintln(w)
	for _, p := range c.Processes {
		fmt.Fprintf(w, "  %s\t%.2fs\t%.3f cores", p.Name, p.CPUSeconds, p.Cores)
		if perMsg {
			fmt.Fprintf(w, "\t%.0f µs/message\t%.1f µs/delivery", p.USPerMessage, p.USPerDelivery)
		}
		fmt.Fprintln(w)
	}
	if rc := c.RedisCommands; rc != nil {
		fmt.Fprintf(w, "redis commands\t%d", rc.Total)
		if perMsg {
			fmt.Fprintf(w, "\t%.2f /message", rc.PerMessage)
		}
		names := slices.Collect(maps.Keys(rc.ByName))
		sort.Slice(names, func(i, j int) bool {
			if rc.ByName[names[i]] != rc.ByName[names[j]] {
				return rc.ByName[names[i]] > rc.ByName[names[j]]
			}
			return names[i] < names[j]
		})
		var top []string
		for _, n := range names[:min(len(names), 6)] {
			if perMsg {
				top = append(top, fmt.Sprintf("%s %.2f", n, float64(rc.ByName[n])/float64(c.Messages)))
			} else {
				top = append(top, fmt.Sprintf("%s %d", n, rc.ByName[n]))
			}
		}
		if len(top) > 0 {
			fmt.Fprintf(w, "\t(%s)", strings.Join(top, ", "))
		}
		fmt.Fprintln(w)
	}
	if dt := c.DBTransactions; dt != nil {
		fmt.Fprintf(w, "db transactions\t%d", dt.Total)
		if perMsg {
			fmt.Fprintf(w, "\t%.2f /message", dt.PerMessage)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "load\tbench client %.2fs CPU", c.ClientCPUSeconds)
	if len(c.Load1) > 0 {
		parts := make([]string, len(c.Load1))
		for i, l := range c.Load1 {
			parts[i] = strconv.FormatFloat(l, 'f', 2, 64)
		}
		fmt.Fprintf(w, "\tload average %s", strings.Join(parts, " → "))
	}
	fmt.Fprintln(w)
	for _, n := range c.Notes {
		fmt.Fprintf(w, "note\t%s\n", n)
	}
}

// metricsSource reads process_cpu_seconds_total from a Prometheus endpoint.
type metricsSource struct {
	name string
	url  string
	hc   *http.Client
}

func (s *metricsSource) describe() string { return s.url }
func (s *metricsSource) close()           {}

func (s *metricsSource) read(ctx context.Context) (counters, error) {
	text, err := fetchMetrics(ctx, s.hc, s.url)
	if err != nil {
		return counters{}, err
	}
	v, ok := metricValue(text, "process_cpu_seconds_total")
	if !ok {
		return counters{}, errors.New("no process_cpu_seconds_total in its metrics")
	}
	return counters{cpu: map[string]float64{s.name: v}}, nil
}

// fetchMetrics GETs a Prometheus text exposition.
func fetchMetrics(ctx context.Context, hc *http.Client, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", &statusError{Method: "GET", Path: url, Status: resp.StatusCode}
	}
	return string(b), nil
}

// parseRedisInfo reads used_cpu_sys + used_cpu_user (seconds) and the
// calls of each command (cmdstat_<name>:calls=N,...) from INFO output.
func parseRedisInfo(text string) (cpu float64, calls map[string]int64, err error) {
	calls = map[string]int64{}
	var sys, user float64
	var haveSys, haveUser bool
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, val, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case key == "used_cpu_sys":
			sys, err = strconv.ParseFloat(val, 64)
			haveSys = err == nil
		case key == "used_cpu_user":
			user, err = strconv.ParseFloat(val, 64)
			haveUser = err == nil
		case strings.HasPrefix(key, "cmdstat_"):
			for _, f := range strings.Split(val, ",") {
				if n, ok := strings.CutPrefix(f, "calls="); ok {
					if v, perr := strconv.ParseInt(n, 10, 64); perr == nil {
						calls[strings.ToLower(strings.TrimPrefix(key, "cmdstat_"))] = v
					}
				}
			}
		}
		if err != nil {
			return 0, nil, fmt.Errorf("INFO %s: %w", key, err)
		}
	}
	if !haveSys || !haveUser {
		return 0, calls, errors.New("INFO has no used_cpu_sys/used_cpu_user")
	}
	return sys + user, calls, nil
}

// procTicksPerSecond is Linux's USER_HZ, the unit of /proc/<pid>/stat's
// utime and stime: 100 on every architecture Go supports (it is ABI).
const procTicksPerSecond = 100

// parseProcStat returns the command name, utime+stime (clock ticks) and
// the start time (ticks since boot, which tells a reused pid apart) from
// the contents of /proc/<pid>/stat. The command name may hold spaces and
// parentheses, so fields are counted after its last ')'.
func parseProcStat(content string) (comm string, cpuTicks, startTicks int64, err error) {
	open, end := strings.IndexByte(content, '('), strings.LastIndexByte(content, ')')
	if open < 0 || end < open {
		return "", 0, 0, errors.New("no (command name)")
	}
	comm = content[open+1 : end]
	// After ')': field 3 (state) onward; utime and stime are fields 14
	// and 15, starttime field 22.
	f := strings.Fields(content[end+1:])
	if len(f) < 20 {
		return "", 0, 0, fmt.Errorf("%d fields after the command name, want at least 20", len(f))
	}
	ut, err1 := strconv.ParseInt(f[14-3], 10, 64)
	st, err2 := strconv.ParseInt(f[15-3], 10, 64)
	start, err3 := strconv.ParseInt(f[22-3], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return "", 0, 0, err
	}
	return comm, ut + st, start, nil
}

// procTable follows the CPU of a changing set of processes: every process
// ever seen keeps its last reading, so a process that exits between two
// samples still counts what it used until the last sample, and one that
// starts counts from zero. Rows group processes ("postgres backends").
type procTable struct {
	last map[procKey]procEntry
}

type procKey struct {
	pid   int
	start int64
}

type procEntry struct {
	row   string
	ticks int64
}

func newProcTable() *procTable { return &procTable{last: map[procKey]procEntry{}} }

// observe records the current ticks of pid under row.
func (t *procTable) observe(row string, pid int, ticks, start int64) {
	k := procKey{pid, start}
	if e, ok := t.last[k]; ok && e.ticks > ticks {
		return // cannot go back; keep the larger
	}
	t.last[k] = procEntry{row: row, ticks: ticks}
}

// cumulative is CPU seconds by row over every process ever observed.
func (t *procTable) cumulative() map[string]float64 {
	// Sum whole ticks, convert once: float sums taken in map order could
	// round the same total differently from one read to the next (seen:
	// 14.98 then 14.979999999999999), so a counter appeared to go back.
	ticks := map[string]int64{}
	for _, e := range t.last {
		ticks[e.row] += e.ticks
	}
	out := make(map[string]float64, len(ticks))
	for row, n := range ticks {
		out[row] = float64(n) / procTicksPerSecond
	}
	return out
}

// readProcStat reads one process's command name and CPU from /proc.
func readProcStat(root string, pid int) (comm string, cpu, start int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", root, pid))
	if err != nil {
		return "", 0, 0, err
	}
	return parseProcStat(string(b))
}

// ownCPUSeconds is this process's user+system CPU time.
func ownCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// load1 is the machine's 1-minute load average, when /proc says it.
func load1() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}
