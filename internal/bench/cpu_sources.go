package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// CPUSource names one server process's metrics endpoint for --cpu-from:
// "NAME=URL" or just "URL" (named after its host:port). A URL without a
// path reads /metrics.
type CPUSource struct {
	Name string
	URL  string
}

// ParseCPUSource parses a --cpu-from value.
func ParseCPUSource(s string) (CPUSource, error) {
	name, raw, ok := strings.Cut(s, "=")
	if !ok || strings.Contains(name, "/") || strings.Contains(name, ":") {
		name, raw = "", s
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return CPUSource{}, fmt.Errorf("cpu-from: %q is not [NAME=]http(s)://host:port[/path]", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/metrics"
	}
	if name == "" {
		name = u.Host
	}
	return CPUSource{Name: name, URL: u.String()}, nil
}

// checkHost applies the target rule to the host of another URL the tool
// reads: loopback, or listed in --allow-remote.
func checkHost(what, hostport string, allow []string) error {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "" || strings.HasPrefix(host, "/") || isLoopback(host) {
		return nil // a unix socket, or loopback
	}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if strings.EqualFold(a, host) || strings.EqualFold(a, hostport) {
			return nil
		}
	}
	return fmt.Errorf("%s: %q: %w", what, host, ErrTargetNotAllowed)
}

// cpuSources builds the sources the options name; nil when none.
func cpuSources(o Options) ([]counterSource, error) {
	var out []counterSource
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}}
	for _, s := range o.CPUFrom {
		out = append(out, &metricsSource{name: s.Name, url: s.URL, hc: hc})
	}
	if o.CPURedis != "" {
		s, err := newRedisSource(o.CPURedis)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, s)
	}
	if o.CPUPostgres != "" {
		s, err := newPGSource(o.CPUPostgres)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func closeAll(ss []counterSource) {
	for _, s := range ss {
		s.close()
	}
}

// redisSource reads Redis's CPU and command counts from INFO.
type redisSource struct {
	desc string
	rdb  *redis.Client
}

func newRedisSource(raw string) (*redisSource, error) {
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("cpu-redis: %w", err)
	}
	opt.DisableIdentity = true // no CLIENT SETINFO: Redis 7.0 does not know it
	opt.MaxRetries = 1
	opt.PoolSize = 1
	desc := "redis://" + opt.Addr
	return &redisSource{desc: desc, rdb: redis.NewClient(opt)}, nil
}

func (s *redisSource) describe() string { return s.desc }
func (s *redisSource) close()           { _ = s.rdb.Close() }

func (s *redisSource) read(ctx context.Context) (counters, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	// Two calls: INFO with several sections needs Redis 7.
	cpu, err := s.rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return counters{}, err
	}
	stats, err := s.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return counters{}, err
	}
	used, calls, err := parseRedisInfo(cpu + "\n" + stats)
	if err != nil {
		return counters{}, err
	}
	return counters{cpu: map[string]float64{"redis": used}, commands: calls}, nil
}

// Rows of the PostgreSQL source.
const (
	pgBackendsRow   = "postgres backends"
	pgBackgroundRow = "postgres background"
)

// pgSource reads the database's transaction count from pg_stat_database
// and, when PostgreSQL runs on this machine, the CPU of its processes
// from /proc: the backends connected to the database, and the instance's
// background processes (WAL writer, checkpointer, ...), which are shared
// with any other database on the instance.
//
// It connects to the instance's "postgres" database when it can, so its
// own queries are not counted in the measured database; otherwise it
// connects to the measured database and subtracts them.
type pgSource struct {
	desc     string
	db       string // the measured database
	conn     *pgx.Conn
	cfg      *pgx.ConnConfig
	local    bool
	procRoot string

	mu       sync.Mutex
	table    *procTable
	ownQ     int64 // queries this source ran in the measured database
	sameDB   bool
	notLocal string
}

func newPGSource(raw string) (*pgSource, error) {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("cpu-postgres: %w", err)
	}
	s := &pgSource{db: cfg.Database, cfg: cfg, procRoot: "/proc", table: newProcTable()}
	s.desc = fmt.Sprintf("postgres://%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	host := cfg.Host
	s.local = strings.HasPrefix(host, "/") || isLoopback(host)
	if !s.local {
		s.notLocal = "PostgreSQL is not on this machine: its CPU is not measured, only its transactions"
	} else if _, err := os.Stat("/proc/self/stat"); err != nil {
		s.local = false
		s.notLocal = "no /proc here: PostgreSQL's CPU is not measured, only its transactions"
	}
	return s, nil
}

func (s *pgSource) describe() string { return s.desc }

func (s *pgSource) close() {
	if s.conn != nil {
		_ = s.conn.Close(context.Background())
	}
}

func (s *pgSource) connect(ctx context.Context) error {
	if s.conn != nil && !s.conn.IsClosed() {
		return nil
	}
	other := s.cfg.Copy()
	other.Database = "postgres"
	if s.db != "postgres" {
		if c, err := pgx.ConnectConfig(ctx, other); err == nil {
			s.conn, s.sameDB = c, false
			return nil
		}
	}
	c, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return err
	}
	s.conn, s.sameDB = c, true
	return nil
}

// query counts the queries run in the measured database.
func (s *pgSource) counted() {
	if s.sameDB {
		s.ownQ++
	}
}

// observeProcesses reads the CPU of the database's backends and the
// instance's background processes.
func (s *pgSource) observeProcesses(ctx context.Context) error {
	if !s.local {
		return nil
	}
	rows, err := s.conn.Query(ctx, `SELECT pid, datname IS NOT NULL FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND (datname = $1 OR datname IS NULL)`, s.db)
	if err != nil {
		return err
	}
	type proc struct {
		pid     int
		backend bool
	}
	var procs []proc
	for rows.Next() {
		var p proc
		if err := rows.Scan(&p.pid, &p.backend); err != nil {
			rows.Close()
			return err
		}
		procs = append(procs, p)
	}
	rows.Close()
	s.counted()
	if err := rows.Err(); err != nil {
		return err
	}
	seen := 0
	for _, p := range procs {
		comm, ticks, start, err := readProcStat(s.procRoot, p.pid)
		if err != nil || !strings.HasPrefix(comm, "postgres") {
			continue // exited since, or not ours to read (another pid namespace)
		}
		seen++
		row := pgBackgroundRow
		if p.backend {
			row = pgBackendsRow
		}
		s.table.observe(row, p.pid, ticks, start)
	}
	if seen == 0 && len(procs) > 0 {
		s.local = false
		s.notLocal = "PostgreSQL's processes are not visible in this machine's /proc (another host or container): its CPU is not measured, only its transactions"
	}
	return nil
}

func (s *pgSource) read(ctx context.Context) (counters, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if err := s.connect(ctx); err != nil {
		return counters{}, err
	}
	if err := s.observeProcesses(ctx); err != nil {
		return counters{}, err
	}
	own := s.ownQ
	var xacts int64
	err := s.conn.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1`, s.db).Scan(&xacts)
	if errors.Is(err, pgx.ErrNoRows) {
		return counters{}, fmt.Errorf("no database %q in pg_stat_database", s.db)
	}
	if err != nil {
		return counters{}, err
	}
	s.counted()
	c := counters{xacts: xacts, hasXacts: true, ownXacts: own}
	if s.local {
		c.cpu = s.table.cumulative()
		// Both rows from the first reading on, so neither appears from
		// nowhere in the report.
		for _, row := range []string{pgBackendsRow, pgBackgroundRow} {
			if _, ok := c.cpu[row]; !ok {
				c.cpu[row] = 0
			}
		}
	}
	return c, nil
}

// notes says why PostgreSQL's CPU is missing, when it is.
func (s *pgSource) notes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notLocal == "" {
		return nil
	}
	return []string{s.notLocal}
}

// sample reads the processes only, between the window's two readings.
func (s *pgSource) sample(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if s.connect(ctx) == nil {
		_ = s.observeProcesses(ctx)
	}
}
