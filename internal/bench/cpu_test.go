package bench

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

// What Redis 7.0 answers to INFO cpu and INFO commandstats.
const redisInfoSample = `# CPU
used_cpu_sys:12.250000
used_cpu_user:30.500000
used_cpu_sys_children:0.004000
used_cpu_user_children:0.001000
used_cpu_sys_main_thread:12.000000
used_cpu_user_main_thread:30.000000

# Commandstats
cmdstat_evalsha:calls=1500,usec=30000,usec_per_call=20.00,rejected_calls=0,failed_calls=0
cmdstat_publish:calls=200,usec=400,usec_per_call=2.00,rejected_calls=0,failed_calls=0
cmdstat_info:calls=7,usec=70,usec_per_call=10.00,rejected_calls=0,failed_calls=0
`

func TestParseRedisInfo_SumsUserAndSystemCPUAndReadsCalls(t *testing.T) {
	cpu, calls, err := parseRedisInfo(redisInfoSample)
	if err != nil {
		t.Fatal(err)
	}
	// The children (a BGSAVE's fork) are not Redis serving commands.
	if !near(cpu, 42.75) {
		t.Errorf("cpu = %g, want used_cpu_sys + used_cpu_user = 42.75", cpu)
	}
	if calls["evalsha"] != 1500 || calls["publish"] != 200 || calls["info"] != 7 || len(calls) != 3 {
		t.Errorf("calls = %v", calls)
	}
	if _, _, err := parseRedisInfo("# Commandstats\ncmdstat_get:calls=1\n"); err == nil {
		t.Error("INFO without the CPU section parsed without error")
	}
	if _, _, err := parseRedisInfo("used_cpu_sys:x\nused_cpu_user:1\n"); err == nil {
		t.Error("a malformed used_cpu_sys parsed without error")
	}
}

func TestParseProcStat_CountsFieldsAfterTheCommandName(t *testing.T) {
	// A command name with a space and a parenthesis, as a process may set.
	stat := "4242 (postgres: a) b) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 1 0 98765 123456 789 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	comm, cpu, start, err := parseProcStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	if comm != "postgres: a) b" || cpu != 325 || start != 98765 {
		t.Errorf("got comm %q cpu %d start %d; want \"postgres: a) b\", 250+75, 98765", comm, cpu, start)
	}
	if _, _, _, err := parseProcStat("4242 (x) S 1 2"); err == nil {
		t.Error("a truncated stat parsed without error")
	}
}

func TestReadProcStat_ReadsThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	comm, _, start, err := readProcStat("/proc", os.Getpid())
	if err != nil || comm == "" || start <= 0 {
		t.Fatalf("readProcStat(self) = %q, start %d, %v", comm, start, err)
	}
}

// A process that exits keeps what it used until its last sample, a new
// one counts from zero, and a reused pid is a different process.
func TestProcTable_FollowsProcessesThatComeAndGo(t *testing.T) {
	tb := newProcTable()
	tb.observe("backends", 10, 500, 1) // 5 s so far
	tb.observe("backends", 11, 100, 1)
	tb.observe("background", 20, 1000, 1)
	first := tb.cumulative()

	tb.observe("backends", 10, 650, 1) // +1.5 s, then exits
	tb.observe("backends", 11, 130, 1) // +0.3 s
	tb.observe("backends", 11, 120, 1) // a stale reading never goes back
	tb.observe("backends", 12, 40, 7)  // new: +0.4 s
	tb.observe("backends", 10, 20, 9)  // pid 10 reused: +0.2 s
	tb.observe("background", 20, 1010, 1)
	second := tb.cumulative()

	if d := second["backends"] - first["backends"]; !near(d, 1.5+0.3+0.4+0.2) {
		t.Errorf("backends grew %g s, want 2.4", d)
	}
	if d := second["background"] - first["background"]; !near(d, 0.1) {
		t.Errorf("background grew %g s, want 0.1", d)
	}
}

func TestSummarizeCPU_PerMessagePerDeliveryAndCounters(t *testing.T) {
	names := []string{"http://api/metrics", "http://worker/metrics", "redis://r", "postgres://p"}
	start := []counters{
		{cpu: map[string]float64{"api": 10}},
		{cpu: map[string]float64{"worker": 4}},
		{cpu: map[string]float64{"redis": 100}, commands: map[string]int64{"evalsha": 1000, "info": 5}},
		{cpu: map[string]float64{pgBackendsRow: 2, pgBackgroundRow: 1}, xacts: 700, hasXacts: true, ownXacts: 3},
	}
	end := []counters{
		{cpu: map[string]float64{"api": 12}},
		{cpu: map[string]float64{"worker": 5}},
		{cpu: map[string]float64{"redis": 100.5}, commands: map[string]int64{"evalsha": 4000, "publish": 1000, "info": 9}},
		{cpu: map[string]float64{pgBackendsRow: 2.4, pgBackgroundRow: 1.1}, xacts: 1210, hasXacts: true, ownXacts: 13},
	}
	rep := summarizeCPU(names, start, end, 10*time.Second, 2000, 4000)
	// 2 + 1 + 0.5 + 0.4 + 0.1 = 4 s over 10 s, 2000 messages, 4000 deliveries.
	if !near(rep.CPUSeconds, 4) || !near(rep.Cores, 0.4) || !near(rep.USPerMessage, 2000) || !near(rep.USPerDelivery, 1000) {
		t.Errorf("totals: %g s, %g cores, %g µs/message, %g µs/delivery; want 4, 0.4, 2000, 1000", rep.CPUSeconds, rep.Cores, rep.USPerMessage, rep.USPerDelivery)
	}
	want := map[string]float64{"api": 1000, "worker": 500, "redis": 250, pgBackendsRow: 200, pgBackgroundRow: 50}
	if len(rep.Processes) != len(want) {
		t.Fatalf("processes %+v", rep.Processes)
	}
	for _, p := range rep.Processes {
		if !near(p.USPerMessage, want[p.Name]) {
			t.Errorf("%s: %g µs/message, want %g", p.Name, p.USPerMessage, want[p.Name])
		}
	}
	// INFO is the tool's own command, not the server's.
	if rc := rep.RedisCommands; rc == nil || rc.Total != 4000 || !near(rc.PerMessage, 2) || rc.ByName["info"] != 0 || rc.ByName["publish"] != 1000 {
		t.Errorf("redis commands %+v, want 4000 (2 per message) without info", rep.RedisCommands)
	}
	// 510 transactions, 10 of them the tool's own queries.
	if dt := rep.DBTransactions; dt == nil || dt.Total != 500 || !near(dt.PerMessage, 0.25) {
		t.Errorf("db transactions %+v, want 500 (0.25 per message)", rep.DBTransactions)
	}
}

func TestSummarizeCPU_IdleHasCoresButNoPerMessage(t *testing.T) {
	rep := summarizeCPU([]string{"m"}, []counters{{cpu: map[string]float64{"all": 1}}}, []counters{{cpu: map[string]float64{"all": 1.3}}}, 30*time.Second, 0, 0)
	if !near(rep.Cores, 0.01) || rep.USPerMessage != 0 || rep.Processes[0].USPerMessage != 0 {
		t.Errorf("idle: %+v", rep)
	}
	// A restarted process's counter goes back: left out, with a note.
	rep = summarizeCPU([]string{"m"}, []counters{{cpu: map[string]float64{"api": 50}}}, []counters{{cpu: map[string]float64{"api": 1}}}, time.Second, 10, 10)
	if len(rep.Processes) != 0 || rep.CPUSeconds != 0 || len(rep.Notes) != 1 {
		t.Errorf("restarted process: %+v", rep)
	}
}

// fakeSource returns readings from a script; reads past its end repeat
// the last one.
type fakeSource struct {
	readings []counters
	n        int
}

func (f *fakeSource) describe() string { return "fake" }
func (f *fakeSource) close()           {}
func (f *fakeSource) read(context.Context) (counters, error) {
	c := f.readings[min(f.n, len(f.readings)-1)]
	f.n++
	return c, nil
}

// PostgreSQL publishes a backend's transactions up to seconds late: the
// count is read again once it has settled, the CPU is not.
func TestMeter_ReadsTransactionsAgainAfterSettling(t *testing.T) {
	src := &fakeSource{readings: []counters{
		{cpu: map[string]float64{pgBackendsRow: 1}, xacts: 100, hasXacts: true}, // begin
		{cpu: map[string]float64{pgBackendsRow: 2}, xacts: 150, hasXacts: true}, // finish: not flushed yet
		{cpu: map[string]float64{pgBackendsRow: 9}, xacts: 300, hasXacts: true}, // after settling
	}}
	m := newMeter([]counterSource{src})
	m.settle = 0
	ctx := context.Background()
	m.begin(ctx)
	m.finish(ctx)
	rep := m.report(100, 100)
	if rep.DBTransactions == nil || rep.DBTransactions.Total != 200 {
		t.Errorf("transactions %+v, want the settled 200", rep.DBTransactions)
	}
	if !near(rep.CPUSeconds, 1) {
		t.Errorf("CPU %g s, want 1: the window ends before settling", rep.CPUSeconds)
	}
	if src.n != 3 {
		t.Errorf("%d readings, want 3", src.n)
	}
}

func TestParseCPUSource(t *testing.T) {
	for _, tc := range []struct{ in, name, url string }{
		{"http://127.0.0.1:9091", "127.0.0.1:9091", "http://127.0.0.1:9091/metrics"},
		{"api=http://127.0.0.1:9091", "api", "http://127.0.0.1:9091/metrics"},
		{"worker=http://127.0.0.1:8081/metrics", "worker", "http://127.0.0.1:8081/metrics"},
		{"http://127.0.0.1:9091/m?x=a=b", "127.0.0.1:9091", "http://127.0.0.1:9091/m?x=a=b"},
	} {
		got, err := ParseCPUSource(tc.in)
		if err != nil || got.Name != tc.name || got.URL != tc.url {
			t.Errorf("ParseCPUSource(%q) = %+v, %v; want %s %s", tc.in, got, err, tc.name, tc.url)
		}
	}
	for _, bad := range []string{"", "api=", "127.0.0.1:9091", "api=ftp://x"} {
		if _, err := ParseCPUSource(bad); err == nil {
			t.Errorf("ParseCPUSource(%q) accepted", bad)
		}
	}
}

func TestValidate_CPUSourcesFollowTheTargetRule(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"loopback everything", Options{CPUFrom: []CPUSource{{"api", "http://127.0.0.1:9091/metrics"}}, CPURedis: "redis://127.0.0.1:6379/3", CPUPostgres: "postgres://postgres@127.0.0.1:5432/x"}, ""},
		{"remote metrics refused", Options{CPUFrom: []CPUSource{{"api", "http://10.1.2.3:9091/metrics"}}}, "not loopback"},
		{"remote redis refused", Options{CPURedis: "redis://10.1.2.3:6379"}, "not loopback"},
		{"remote redis allowed", Options{CPURedis: "redis://10.1.2.3:6379", AllowRemote: []string{"10.1.2.3"}}, ""},
		{"remote metrics-url refused", Options{MetricsURL: "http://10.1.2.3:9091/metrics"}, "not loopback"},
		{"history measures no CPU", Options{Scenario: ScenarioHistory, CPURedis: "redis://127.0.0.1:6379"}, "not history"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// End to end against the fake: the readings frame exactly the measured
// sends, so each POST's CPU shows as the CPU per message.
func TestRun_CPUPerMessageFromTheMetricsEndpoint(t *testing.T) {
	f := newFakeServer(t)
	f.cpuPerPost = 0.001
	path := filepath.Join(t.TempDir(), "r.json")
	rep, err, out := runAgainst(t, f, Options{Users: 4, Senders: 2, Messages: 200, JSONPath: path,
		CPUFrom: []CPUSource{{Name: "api", URL: f.srv.URL + "/metrics"}}})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	c := rep.CPU
	if c == nil || len(c.Processes) != 1 || c.Messages != 200 {
		t.Fatalf("cpu report %+v\n%s", c, out)
	}
	if !near(c.USPerMessage, 1000) || !near(c.Processes[0].USPerMessage, 1000) || !near(c.USPerDelivery, 1000) {
		t.Errorf("%g µs/message (%g per delivery), want 1000", c.USPerMessage, c.USPerDelivery)
	}
	if !strings.Contains(out, "server CPU") || !strings.Contains(out, "1000 µs/message") {
		t.Errorf("the printed report has no CPU per message:\n%s", out)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"cpu_us_per_message": 1000`) {
		t.Errorf("the JSON report has no cpu_us_per_message 1000:\n%s", b)
	}
}

func TestRun_UnreadableCPUSourceFailsBeforeSignUp(t *testing.T) {
	f := newFakeServer(t)
	_, err, _ := runAgainst(t, f, Options{Users: 2, Messages: 1, CPUFrom: []CPUSource{{Name: "api", URL: f.srv.URL + "/nothing"}}})
	if err == nil || !strings.Contains(err.Error(), "reading server counters") {
		t.Fatalf("Run = %v, want a counters error", err)
	}
	f.mu.Lock()
	n := len(f.users)
	f.mu.Unlock()
	if n != 0 {
		t.Errorf("%d users signed up before the counters were checked", n)
	}
}

// With spec.observability.metricsAddr set, the public port has no
// /metrics: the idle scenario says where to point it, and reads it there.
func TestRun_IdleReadsMetricsFromTheAdminListener(t *testing.T) {
	f := newFakeServer(t)
	f.metricsElsewhere = true
	_, err, out := runAgainst(t, f, Options{Scenario: ScenarioIdle, Users: 1, Duration: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "--metrics-url") {
		t.Fatalf("idle without --metrics-url against a server without public metrics: %v\n%s", err, out)
	}
	rep, err, out := runAgainst(t, f, Options{Scenario: ScenarioIdle, Users: 2, ConnectionsPerUser: 3, Duration: 200 * time.Millisecond,
		MetricsURL: f.admin.URL + "/metrics", CPUFrom: []CPUSource{{Name: "api", URL: f.admin.URL}}})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if rep.Idle == nil || rep.Idle.RSSPerConnBytes != fakeRSSPerConn {
		t.Errorf("idle report %+v", rep.Idle)
	}
	if rep.CPU == nil || len(rep.CPU.Processes) != 1 || rep.CPU.WindowSeconds <= 0 {
		t.Errorf("idle CPU report %+v", rep.CPU)
	}
}

// Against a real Redis (MESSAGER_TEST_REDIS_URL): the INFO the source
// reads parses, and commands sent between two readings are counted.
func TestRedisSource_CountsCommandsOnRealRedis(t *testing.T) {
	base := os.Getenv("MESSAGER_TEST_REDIS_URL")
	if base == "" {
		// miniredis has no INFO cpu: the source must say so, not invent a figure.
		mr := miniredis.RunT(t)
		s, err := newRedisSource("redis://" + mr.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		if _, err := s.read(context.Background()); err == nil {
			t.Error("a reading from miniredis, which has no INFO cpu, succeeded")
		}
		return
	}
	s, err := newRedisSource(base)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx := context.Background()
	a, err := s.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if err := s.rdb.Echo(ctx, strconv.Itoa(i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := s.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep := summarizeCPU([]string{"r"}, []counters{a}, []counters{b}, time.Second, 10, 10)
	if rep.RedisCommands == nil || rep.RedisCommands.ByName["echo"] < 50 {
		t.Errorf("redis commands %+v, want at least the 50 ECHOs", rep.RedisCommands)
	}
	if rep.CPUSeconds < 0 || len(rep.Processes) != 1 {
		t.Errorf("redis CPU %+v", rep.Processes)
	}
}

// Against a real PostgreSQL (MESSAGER_TEST_DATABASE_URL): the source
// finds the database's backends on this machine and reads its
// transaction counter.
func TestPGSource_ReadsBackendsAndTransactions(t *testing.T) {
	base := os.Getenv("MESSAGER_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("MESSAGER_TEST_DATABASE_URL not set")
	}
	s, err := newPGSource(base)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx := context.Background()
	c, err := s.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !c.hasXacts || c.xacts <= 0 {
		t.Errorf("xacts %d (has %v)", c.xacts, c.hasXacts)
	}
	if s.local {
		if _, ok := c.cpu[pgBackgroundRow]; !ok {
			t.Errorf("local PostgreSQL but no %q row: %v", pgBackgroundRow, c.cpu)
		}
	}
	s.sample(ctx)
	d, err := s.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.cpu[pgBackgroundRow] < c.cpu[pgBackgroundRow] {
		t.Errorf("background CPU went back: %v then %v", c.cpu, d.cpu)
	}
}

// The same ticks must give the same seconds on every read: summing per-process
// seconds as floats in map order made a counter appear to go back in CI.
func TestProcTable_CumulativeIsExactWholeTicks(t *testing.T) {
	tb := newProcTable()
	var total int64
	for pid := 1; pid <= 40; pid++ {
		ticks := int64(pid*37 + 1)
		tb.observe(pgBackgroundRow, pid, ticks, 1)
		total += ticks
	}
	want := float64(total) / procTicksPerSecond
	for i := 0; i < 20; i++ {
		if got := tb.cumulative()[pgBackgroundRow]; got != want {
			t.Fatalf("cumulative = %v, want exactly %v", got, want)
		}
	}
}
