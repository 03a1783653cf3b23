package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// APIVersion and Kind identify a MessagerConfig document.
const (
	APIVersion = "messager.io/v1alpha1"
	Kind       = "MessagerConfig"
)

// Redis deployment modes accepted in spec.redis.mode.
const (
	RedisStandalone = "standalone"
	RedisSentinel   = "sentinel"
	RedisCluster    = "cluster"
)

// Config is the whole MessagerConfig document.
type Config struct {
	APIVersion string   `yaml:"apiVersion" json:"apiVersion"`
	Kind       string   `yaml:"kind" json:"kind"`
	Metadata   Metadata `yaml:"metadata" json:"metadata"`
	Spec       Spec     `yaml:"spec" json:"spec"`
}

// Metadata is the Kubernetes-style object metadata; only the name is used.
type Metadata struct {
	Name   string            `yaml:"name" json:"name"`
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// Spec is the desired state of a messager deployment.
type Spec struct {
	// DataDir holds the embedded SQLite database when database.url is empty.
	DataDir       string        `yaml:"dataDir" json:"dataDir"`
	HTTP          HTTP          `yaml:"http" json:"http"`
	Database      Database      `yaml:"database" json:"database"`
	Redis         Redis         `yaml:"redis" json:"redis"`
	Auth          Auth          `yaml:"auth" json:"auth"`
	Messaging     Messaging     `yaml:"messaging" json:"messaging"`
	Presence      Presence      `yaml:"presence" json:"presence"`
	Worker        Worker        `yaml:"worker" json:"worker"`
	Observability Observability `yaml:"observability" json:"observability"`
	Runtime       Runtime       `yaml:"runtime" json:"runtime"`
}

// HTTP configures the listener shared by the API, the UI and the operations endpoints.
type HTTP struct {
	Addr string `yaml:"addr" json:"addr"`
	// AllowedOrigins lists the extra origins (scheme://host[:port]) whose
	// cookie-authenticated state-changing requests are accepted.
	AllowedOrigins []string `yaml:"allowedOrigins" json:"allowedOrigins"`
	// TrustedProxies is how many reverse proxies (ingress controller, load
	// balancer) stand between clients and messager, each appending to
	// X-Forwarded-For. The client IP is the address that many hops from the
	// right of that header; 0 ignores the header and uses the peer address.
	// Too high a count lets clients forge their IP; too low blames a proxy.
	TrustedProxies int `yaml:"trustedProxies" json:"trustedProxies"`
	// TrustForwardedFor is deprecated: true means trustedProxies: 1 when
	// trustedProxies is 0.
	TrustForwardedFor bool     `yaml:"trustForwardedFor,omitempty" json:"trustForwardedFor,omitempty"`
	ShutdownTimeout   Duration `yaml:"shutdownTimeout" json:"shutdownTimeout"`
	// ReadTimeout bounds the time a client has to send a request body
	// once its headers arrived, so a body sent a byte at a time cannot hold
	// a connection; the stream endpoints have no body and are exempt.
	ReadTimeout Duration `yaml:"readTimeout" json:"readTimeout"`
	// MaxStreamsPerUser caps one user's open WebSocket and SSE streams on
	// one api pod; a stream over the cap is refused with 429.
	MaxStreamsPerUser int `yaml:"maxStreamsPerUser" json:"maxStreamsPerUser"`
}

// ProxyHops is the number of trusted proxies in effect, with the
// deprecated trustForwardedFor read as one.
func (h HTTP) ProxyHops() int {
	if h.TrustedProxies == 0 && h.TrustForwardedFor {
		return 1
	}
	return h.TrustedProxies
}

// Database selects the SQL store.
type Database struct {
	// URL is postgres://… or a SQLite file path; empty means a SQLite file in dataDir.
	URL string `yaml:"url" json:"url"`
}

// Redis selects the Redis deployment used for sessions, presence, pub/sub and the task queue.
type Redis struct {
	// URL is redis://[:password@]host:port/db; empty under `messager all` means the embedded server.
	URL        string   `yaml:"url" json:"url"`
	Mode       string   `yaml:"mode" json:"mode"`
	Addrs      []string `yaml:"addrs" json:"addrs"`
	MasterName string   `yaml:"masterName" json:"masterName"`
}

// Auth configures accounts and sessions.
type Auth struct {
	SessionTTL        Duration          `yaml:"sessionTTL" json:"sessionTTL"`
	MinPasswordLength int               `yaml:"minPasswordLength" json:"minPasswordLength"`
	LoginRateLimit    LoginRateLimit    `yaml:"loginRateLimit" json:"loginRateLimit"`
	RegisterRateLimit RegisterRateLimit `yaml:"registerRateLimit" json:"registerRateLimit"`
}

// LoginRateLimit bounds failed logins within a fixed window, across pods.
// Each attempt is counted before the password is checked; a successful
// login takes its attempt back. The small per-(username, IP) limit stops
// guessing from one address without letting a stranger lock the owner out
// (the owner signs in from another address); the larger per-username limit
// caps guessing spread over many addresses, and the per-IP limit caps one
// address trying many usernames.
type LoginRateLimit struct {
	Window Duration `yaml:"window" json:"window"`
	// PerUserIP is the failed logins allowed for one username from one client IP.
	PerUserIP int `yaml:"perUserIP" json:"perUserIP"`
	// PerUser is the failed logins allowed for one username from all addresses.
	PerUser int `yaml:"perUser" json:"perUser"`
	// PerIP is the failed logins allowed from one client IP for all usernames.
	PerIP int `yaml:"perIP" json:"perIP"`
}

// RegisterRateLimit bounds account registrations per client IP within a
// fixed window, across pods: each costs an argon2id hash and a row.
type RegisterRateLimit struct {
	Window Duration `yaml:"window" json:"window"`
	PerIP  int      `yaml:"perIP" json:"perIP"`
}

// Messaging configures message limits and history paging.
type Messaging struct {
	MaxBodyLength   int           `yaml:"maxBodyLength" json:"maxBodyLength"`
	HistoryPageSize int           `yaml:"historyPageSize" json:"historyPageSize"`
	SendRateLimit   SendRateLimit `yaml:"sendRateLimit" json:"sendRateLimit"`
	// ClientIDWindow is how long Redis remembers a send's client_id, so a
	// retry within it is answered with the first message. Memory is about
	// sends/s × window × (350 B + body). A retry after it is still stored
	// and delivered at most once (the database's unique (sender,
	// client_id) index), but is answered 202 with an id that is never
	// used.
	ClientIDWindow Duration `yaml:"clientIDWindow" json:"clientIDWindow"`
	// SendLinger is how long an api pod holds a send while other senders
	// are active, so that the sends of that moment travel in one task and
	// are stored in one commit: each task costs about the same CPU however
	// many messages it carries. It adds up to SendLinger to a busy send's
	// latency; 0 never holds one. A lone sender never waits, and a group
	// that holds enough to share (eight sends, or a broadcast to a room)
	// goes at once.
	SendLinger Duration `yaml:"sendLinger" json:"sendLinger"`
}

// SendRateLimit is a token bucket per user for POST /api/v1/messages,
// shared by every api pod through Redis: a user holds up to Burst sends
// and earns PerSecond more each second. A send over it is answered 429
// with Retry-After. PerSecond 0 turns the limit off.
type SendRateLimit struct {
	PerSecond int `yaml:"perSecond" json:"perSecond"`
	Burst     int `yaml:"burst" json:"burst"`
}

// Enabled reports whether sends are limited at all.
func (l SendRateLimit) Enabled() bool { return l.PerSecond > 0 }

// Presence configures how long a heartbeat or login keeps a user online.
type Presence struct {
	TTL Duration `yaml:"ttl" json:"ttl"`
}

// Worker configures the asynq task server.
type Worker struct {
	Concurrency     int      `yaml:"concurrency" json:"concurrency"`
	Queues          Queues   `yaml:"queues" json:"queues"`
	ShutdownTimeout Duration `yaml:"shutdownTimeout" json:"shutdownTimeout"`
	// CompletedRetention is how long a delivered task stays in Redis as
	// "completed", with its runtime and worker, for the task monitor's
	// history; 0 keeps none. Memory is roughly tasks/s × retention × task
	// size (a task carries its message bodies), so keep it short under load.
	CompletedRetention Duration `yaml:"completedRetention" json:"completedRetention"`
}

// Queues are the asynq queue priorities (weights).
type Queues struct {
	Direct    int `yaml:"direct" json:"direct"`
	Broadcast int `yaml:"broadcast" json:"broadcast"`
	// Maintenance is deprecated and ignored: no task ever used the
	// maintenance queue, so workers no longer poll it. It is still
	// accepted so configs written for earlier versions load; the process
	// warns when it is set.
	Maintenance int `yaml:"maintenance,omitempty" json:"maintenance,omitempty"`
}

// Observability configures metrics, tracing and the task monitor.
type Observability struct {
	Metrics bool `yaml:"metrics" json:"metrics"`
	// MetricsAddr, when set, is a second listener (host:port) that alone
	// serves /metrics, /metrics/queues and /debug/pprof/, so they are never
	// on the public port; empty keeps them on spec.http.addr.
	MetricsAddr string   `yaml:"metricsAddr" json:"metricsAddr"`
	Tracing     Tracing  `yaml:"tracing" json:"tracing"`
	Asynqmon    Asynqmon `yaml:"asynqmon" json:"asynqmon"`
}

// Tracing configures OpenTelemetry trace export; an empty endpoint disables export.
type Tracing struct {
	OTLPEndpoint string  `yaml:"otlpEndpoint" json:"otlpEndpoint"`
	SampleRatio  float64 `yaml:"sampleRatio" json:"sampleRatio"`
}

// Asynqmon configures the task monitor served at /monitoring/. Only
// admins open it: an account role in the database, set with `messager
// admin grant USERNAME` (and, under `messager all`, given to the first
// account registered), never a name in this document that anyone could
// register.
type Asynqmon struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// PrometheusURL is the Prometheus (http://prometheus:9090) the task
	// monitor queries for its Metrics charts; empty hides them.
	PrometheusURL string `yaml:"prometheusURL" json:"prometheusURL"`
}

// Runtime configures how each messager process uses the Go runtime.
type Runtime struct {
	// AdaptiveScheduling runs a process on one P (GOMAXPROCS=1) while it
	// needs less than a core, giving it the runtime's default P count back
	// as soon as it needs more, and starts it with the runtime's sysmon
	// thread kept out of its deep sleep (GODEBUG=schedtrace, set by
	// re-executing the process once at start). At moderate loads most of a
	// message's CPU is thread wake-ups; together these remove most of them
	// (docs/benchmarks.md, session 15). Off, the runtime's defaults apply.
	// A GOMAXPROCS or GODEBUG schedtrace in the environment always wins.
	AdaptiveScheduling bool `yaml:"adaptiveScheduling" json:"adaptiveScheduling"`
}

// Duration is a time.Duration written as a Go duration string ("24h", "60s") in YAML.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: must be a duration such as \"60s\"", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as \"60s\"", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText lets encoding/json and env handling share the string form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Default returns the complete default document.
func Default() *Config {
	return &Config{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata:   Metadata{Name: "default"},
		Spec: Spec{
			DataDir: "./data",
			HTTP: HTTP{
				Addr:              ":8080",
				AllowedOrigins:    []string{},
				ShutdownTimeout:   Duration(20 * time.Second),
				ReadTimeout:       Duration(15 * time.Second),
				MaxStreamsPerUser: 20,
			},
			Redis: Redis{Mode: RedisStandalone, Addrs: []string{}},
			Auth: Auth{
				SessionTTL:        Duration(24 * time.Hour),
				MinPasswordLength: 8,
				LoginRateLimit:    LoginRateLimit{Window: Duration(15 * time.Minute), PerUserIP: 10, PerUser: 100, PerIP: 50},
				RegisterRateLimit: RegisterRateLimit{Window: Duration(time.Hour), PerIP: 20},
			},
			Messaging: Messaging{
				MaxBodyLength:   1000,
				HistoryPageSize: 50,
				SendRateLimit:   SendRateLimit{PerSecond: 5, Burst: 20},
				ClientIDWindow:  Duration(5 * time.Minute),
				SendLinger:      Duration(20 * time.Millisecond),
			},
			Presence: Presence{TTL: Duration(60 * time.Second)},
			Worker: Worker{
				Concurrency:        20,
				Queues:             Queues{Direct: 6, Broadcast: 3},
				ShutdownTimeout:    Duration(25 * time.Second),
				CompletedRetention: Duration(time.Hour),
			},
			Observability: Observability{
				Metrics:  true,
				Tracing:  Tracing{SampleRatio: 0.1},
				Asynqmon: Asynqmon{Enabled: true},
			},
			Runtime: Runtime{AdaptiveScheduling: true},
		},
	}
}

// YAML renders the document.
func (c *Config) YAML() ([]byte, error) { return yaml.Marshal(c) }
