package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Scenarios understood by Run.
const (
	ScenarioDM        = "dm"        // each send goes to a random other user
	ScenarioBroadcast = "broadcast" // each send goes to everyone online
	ScenarioMixed     = "mixed"     // 90% dm, 10% broadcast
	ScenarioIdle      = "idle"      // open connections, measure server RSS per connection
	ScenarioHistory   = "history"   // seed deep histories, measure history paging
)

// Transports understood by Run.
const (
	TransportWS  = "ws"  // GET /api/v1/stream (WebSocket)
	TransportSSE = "sse" // GET /api/v1/events (Server-Sent Events)
)

// Hard caps: the tool refuses to go past them whatever it is asked, so a
// typo cannot turn a benchmark into a denial of service.
const (
	MaxUsers              = 20000
	MaxConnectionsPerUser = 100
	MaxConnections        = 100000
	MaxSenders            = 1000
	MaxRate               = 1_000_000
	MaxDuration           = time.Hour
	MaxWarmup             = 10 * time.Minute
	MaxDrain              = 10 * time.Minute
	MaxMessages           = 10_000_000
	MaxHistorySample      = 1000
)

// Defaults used for zero-valued Options fields.
const (
	DefaultTarget        = "http://127.0.0.1:8080"
	DefaultUsers         = 10
	DefaultSenders       = 1
	DefaultDuration      = 10 * time.Second
	DefaultDrain         = 5 * time.Second
	DefaultHistorySample = 20
)

// Options configures one benchmark run. Zero values mean the documented
// default; negative values are errors.
type Options struct {
	// Target is the base URL of the messager to drive (http or https).
	Target string
	// AllowRemote lists hosts (or host:port) other than loopback that may be
	// targeted. Loopback (127.0.0.0/8, ::1, localhost) is always allowed.
	AllowRemote []string

	// Users is how many users are registered and signed in (default 10).
	Users int
	// ConnectionsPerUser is how many streams each user opens (default 1).
	ConnectionsPerUser int
	// Transport is "ws" (default) or "sse".
	Transport string
	// Scenario is "dm" (default), "broadcast", "mixed", "idle" or "history".
	Scenario string

	// Senders is the number of concurrent senders (default 1). In the
	// history scenario it is also the number of concurrent history readers.
	Senders int
	// Rate is the overall send rate in messages/s; 0 sends as fast as the
	// server accepts (closed loop).
	Rate float64
	// Duration bounds the measured phase (after Warmup). When both Duration
	// and Messages are zero, Duration defaults to 10 s. In the idle scenario
	// it is how long the connections are held; in the history scenario how
	// long history is paged.
	Duration time.Duration
	// Messages bounds the measured phase by count; whichever of Duration and
	// Messages is reached first ends it. In the history scenario it is the
	// number of messages seeded.
	Messages int
	// Warmup is sent before the measured phase and not counted in latency
	// or throughput (its messages are still checked for loss).
	Warmup time.Duration
	// Drain is how long to wait, after the last send, for deliveries still
	// in flight (default 5 s; the wait ends early once all have arrived).
	Drain time.Duration
	// HistorySample is how many recipients' histories are paged through to
	// check every message is there exactly once (default 20; all users when
	// fewer; negative skips the check).
	HistorySample int

	// MetricsURL is the server's Prometheus endpoint the idle scenario
	// reads memory from (default Target + "/metrics"; a server with
	// spec.observability.metricsAddr set serves it on that address only).
	MetricsURL string
	// CPUFrom lists server processes' metrics endpoints whose
	// process_cpu_seconds_total is read before and after the measured
	// window (see CPUReport).
	CPUFrom []CPUSource
	// CPURedis is a Redis URL whose INFO (CPU, commands) is read before
	// and after the measured window.
	CPURedis string
	// CPUPostgres is the URL of the database the server uses: its
	// transactions (pg_stat_database) and, when PostgreSQL runs on this
	// machine, its processes' CPU (/proc) are read before and after the
	// measured window.
	CPUPostgres string

	// JSONPath, when set, is where the report is written as JSON.
	JSONPath string
	// Out receives the progress lines and the human-readable report; nil
	// discards them.
	Out io.Writer
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.Target == "" {
		o.Target = DefaultTarget
	}
	if o.Users == 0 {
		o.Users = DefaultUsers
	}
	if o.ConnectionsPerUser == 0 {
		o.ConnectionsPerUser = 1
	}
	if o.Transport == "" {
		o.Transport = TransportWS
	}
	if o.Scenario == "" {
		o.Scenario = ScenarioDM
	}
	if o.Senders == 0 {
		o.Senders = DefaultSenders
	}
	if o.Duration == 0 && (o.Messages == 0 || o.Scenario == ScenarioIdle || o.Scenario == ScenarioHistory) {
		o.Duration = DefaultDuration
	}
	if o.Messages == 0 && o.Scenario == ScenarioHistory {
		o.Messages = 1000
	}
	if o.Drain == 0 {
		o.Drain = DefaultDrain
	}
	if o.HistorySample == 0 {
		o.HistorySample = DefaultHistorySample
	}
	if o.MetricsURL == "" {
		o.MetricsURL = strings.TrimRight(o.Target, "/") + "/metrics"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

// Validate reports every problem with the options at once, defaults
// applied first. It refuses non-loopback targets not listed in AllowRemote
// and anything past the hard caps.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if err := checkTarget(o.Target, o.AllowRemote); err != nil {
		errs = append(errs, err)
	}
	switch o.Scenario {
	case ScenarioDM, ScenarioBroadcast, ScenarioMixed, ScenarioHistory:
		if o.Users < 2 {
			bad("users: scenario %q needs at least 2 users, got %d", o.Scenario, o.Users)
		}
	case ScenarioIdle:
	default:
		bad("scenario: must be one of dm, broadcast, mixed, idle, history; got %q", o.Scenario)
	}
	switch o.Transport {
	case TransportWS, TransportSSE:
	default:
		bad("transport: must be ws or sse; got %q", o.Transport)
	}
	if o.Users < 1 || o.Users > MaxUsers {
		bad("users: must be between 1 and %d; got %d", MaxUsers, o.Users)
	}
	if o.ConnectionsPerUser < 1 || o.ConnectionsPerUser > MaxConnectionsPerUser {
		bad("connections-per-user: must be between 1 and %d; got %d", MaxConnectionsPerUser, o.ConnectionsPerUser)
	} else if o.Users > 0 && o.Users*o.ConnectionsPerUser > MaxConnections {
		bad("users × connections-per-user: at most %d connections; got %d", MaxConnections, o.Users*o.ConnectionsPerUser)
	}
	if o.Senders < 1 || o.Senders > MaxSenders {
		bad("senders: must be between 1 and %d; got %d", MaxSenders, o.Senders)
	}
	if o.Rate < 0 || o.Rate > MaxRate {
		bad("rate: must be between 0 (as fast as accepted) and %d messages/s; got %g", MaxRate, o.Rate)
	}
	if o.Duration < 0 || o.Duration > MaxDuration {
		bad("duration: must be between 0 and %s; got %s", MaxDuration, o.Duration)
	}
	if o.Messages < 0 || o.Messages > MaxMessages {
		bad("messages: must be between 0 and %d; got %d", MaxMessages, o.Messages)
	}
	if o.Warmup < 0 || o.Warmup > MaxWarmup {
		bad("warmup: must be between 0 and %s; got %s", MaxWarmup, o.Warmup)
	}
	if o.Drain < 0 || o.Drain > MaxDrain {
		bad("drain: must be between 0 and %s; got %s", MaxDrain, o.Drain)
	}
	if o.HistorySample > MaxHistorySample {
		bad("history sample: at most %d users; got %d", MaxHistorySample, o.HistorySample)
	}
	if u, err := url.Parse(o.MetricsURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		bad("metrics-url: must be an http(s) URL; got %q", o.MetricsURL)
	} else if err := checkHost("metrics-url", u.Host, o.AllowRemote); err != nil {
		errs = append(errs, err)
	}
	measured := len(o.CPUFrom) > 0 || o.CPURedis != "" || o.CPUPostgres != ""
	if measured && o.Scenario == ScenarioHistory {
		bad("cpu-from, cpu-redis, cpu-postgres: CPU is measured in the dm, broadcast, mixed and idle scenarios, not history")
	}
	for _, s := range o.CPUFrom {
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			bad("cpu-from: %q is not an http(s) URL", s.URL)
		} else if err := checkHost("cpu-from", u.Host, o.AllowRemote); err != nil {
			errs = append(errs, err)
		}
	}
	if o.CPURedis != "" {
		if opt, err := redis.ParseURL(o.CPURedis); err != nil {
			bad("cpu-redis: %v", err)
		} else if err := checkHost("cpu-redis", opt.Addr, o.AllowRemote); err != nil {
			errs = append(errs, err)
		}
	}
	if o.CPUPostgres != "" {
		if cfg, err := pgx.ParseConfig(o.CPUPostgres); err != nil {
			bad("cpu-postgres: %v", err)
		} else if err := checkHost("cpu-postgres", cfg.Host, o.AllowRemote); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ErrTargetNotAllowed is returned (wrapped) for a target that is neither
// loopback nor listed in AllowRemote.
var ErrTargetNotAllowed = errors.New("target host is not loopback and not in --allow-remote")

func checkTarget(target string, allow []string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target: scheme must be http or https; got %q", target)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("target: no host in %q", target)
	}
	if isLoopback(host) {
		return nil
	}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if strings.EqualFold(a, host) || strings.EqualFold(a, u.Host) {
			return nil
		}
	}
	return fmt.Errorf("target: %q: %w", host, ErrTargetNotAllowed)
}

// isLoopback is deliberately literal: a name is not resolved, so only
// "localhost" and loopback addresses pass without --allow-remote.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
