package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/messager/messager/internal/validation"
)

// ValidationError lists every problem found in a document.
type ValidationError struct {
	// Problems name each field by its path in the document.
	Problems []validation.FieldError
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "invalid MessagerConfig:\n  " + strings.Join(lines, "\n  ")
}

var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// Limits that validation enforces; exported so the API and docs quote them.
const (
	MaxBodyLengthLimit = 10000
	MaxHistoryPageSize = 200
	// MaxPasswordBytes bounds passwords (auth refuses longer ones, and
	// spec.auth.minPasswordLength cannot exceed it): argon2id reads every
	// byte, so this only limits work per request.
	MaxPasswordBytes     = 256
	maxWorkerConcurrency = 10000
	maxSendRate          = 10000
	maxSendBurst         = 100000
	maxTrustedProxies    = 16
	// MaxClientIDWindow bounds spec.messaging.clientIDWindow: past it the
	// database's unique index answers for duplicates, not Redis's memory.
	MaxClientIDWindow = 24 * time.Hour
	// MaxSendLinger bounds spec.messaging.sendLinger: a chat message held
	// longer would be noticed.
	MaxSendLinger = 100 * time.Millisecond
)

// Validate checks every field and returns a *ValidationError naming all
// problems, or nil.
func (c *Config) Validate() error {
	var v validator
	if c.APIVersion != APIVersion {
		v.add("apiVersion", "must be %q", APIVersion)
	}
	if c.Kind != Kind {
		v.add("kind", "must be %q", Kind)
	}
	if !dnsName.MatchString(c.Metadata.Name) || len(c.Metadata.Name) > 253 {
		v.add("metadata.name", "must be a DNS subdomain name such as \"default\"")
	}
	s := &c.Spec
	if strings.TrimSpace(s.DataDir) == "" {
		v.add("spec.dataDir", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(s.HTTP.Addr); err != nil {
		v.add("spec.http.addr", "must be host:port such as \":8080\"")
	}
	for i, o := range s.HTTP.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			v.add(fmt.Sprintf("spec.http.allowedOrigins[%d]", i), "must be an origin such as \"https://chat.example.com\"")
		}
	}
	v.between("spec.http.trustedProxies", s.HTTP.TrustedProxies, 0, maxTrustedProxies)
	v.positive("spec.http.shutdownTimeout", s.HTTP.ShutdownTimeout)
	v.positive("spec.http.readTimeout", s.HTTP.ReadTimeout)
	v.between("spec.http.maxStreamsPerUser", s.HTTP.MaxStreamsPerUser, 1, 10000)
	if u := s.Database.URL; strings.Contains(u, "://") {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") {
			v.add("spec.database.url", "must be postgres://… or a SQLite file path")
		}
	}
	switch s.Redis.Mode {
	case RedisStandalone:
		if s.Redis.URL != "" {
			if p, err := url.Parse(s.Redis.URL); err != nil || (p.Scheme != "redis" && p.Scheme != "rediss") || p.Host == "" {
				v.add("spec.redis.url", "must be redis://[:password@]host:port/db")
			}
		}
	case RedisSentinel:
		if s.Redis.MasterName == "" {
			v.add("spec.redis.masterName", "is required when mode is sentinel")
		}
		if len(s.Redis.Addrs) == 0 {
			v.add("spec.redis.addrs", "must list the sentinels when mode is sentinel")
		}
		v.nodesURL(s.Redis)
	case RedisCluster:
		if len(s.Redis.Addrs) == 0 {
			v.add("spec.redis.addrs", "must list cluster nodes when mode is cluster")
		}
		v.nodesURL(s.Redis)
	default:
		v.add("spec.redis.mode", "must be one of standalone, sentinel, cluster")
	}
	for i, a := range s.Redis.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.add(fmt.Sprintf("spec.redis.addrs[%d]", i), "must be host:port")
		}
	}
	v.positive("spec.auth.sessionTTL", s.Auth.SessionTTL)
	v.between("spec.auth.minPasswordLength", s.Auth.MinPasswordLength, 1, MaxPasswordBytes)
	v.positive("spec.auth.loginRateLimit.window", s.Auth.LoginRateLimit.Window)
	v.between("spec.auth.loginRateLimit.perUserIP", s.Auth.LoginRateLimit.PerUserIP, 1, 1_000_000)
	v.between("spec.auth.loginRateLimit.perUser", s.Auth.LoginRateLimit.PerUser, 1, 1_000_000)
	v.between("spec.auth.loginRateLimit.perIP", s.Auth.LoginRateLimit.PerIP, 1, 1_000_000)
	v.positive("spec.auth.registerRateLimit.window", s.Auth.RegisterRateLimit.Window)
	v.between("spec.auth.registerRateLimit.perIP", s.Auth.RegisterRateLimit.PerIP, 1, 1_000_000)
	v.between("spec.messaging.maxBodyLength", s.Messaging.MaxBodyLength, 1, MaxBodyLengthLimit)
	v.between("spec.messaging.historyPageSize", s.Messaging.HistoryPageSize, 1, MaxHistoryPageSize)
	v.between("spec.messaging.sendRateLimit.perSecond", s.Messaging.SendRateLimit.PerSecond, 0, maxSendRate)
	if s.Messaging.SendRateLimit.Enabled() {
		v.between("spec.messaging.sendRateLimit.burst", s.Messaging.SendRateLimit.Burst, 1, maxSendBurst)
	} else if s.Messaging.SendRateLimit.Burst < 0 {
		v.add("spec.messaging.sendRateLimit.burst", "must not be negative")
	}
	if w := s.Messaging.ClientIDWindow; w < Duration(time.Second) || w > Duration(MaxClientIDWindow) {
		v.add("spec.messaging.clientIDWindow", "must be between 1s and %s", MaxClientIDWindow)
	}
	if l := s.Messaging.SendLinger; l < 0 || l > Duration(MaxSendLinger) {
		v.add("spec.messaging.sendLinger", "must be between 0 (never hold a send) and %s", MaxSendLinger)
	}
	v.positive("spec.presence.ttl", s.Presence.TTL)
	v.between("spec.worker.concurrency", s.Worker.Concurrency, 1, maxWorkerConcurrency)
	v.between("spec.worker.queues.direct", s.Worker.Queues.Direct, 1, 100)
	v.between("spec.worker.queues.broadcast", s.Worker.Queues.Broadcast, 1, 100)
	if s.Worker.Queues.Maintenance != 0 {
		v.between("spec.worker.queues.maintenance", s.Worker.Queues.Maintenance, 1, 100)
	}
	v.positive("spec.worker.shutdownTimeout", s.Worker.ShutdownTimeout)
	if s.Worker.CompletedRetention < 0 {
		v.add("spec.worker.completedRetention", "must not be negative (0 keeps no completed tasks)")
	}
	if a := s.Observability.MetricsAddr; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil {
			v.add("spec.observability.metricsAddr", "must be host:port such as \":9091\", or empty to serve metrics on spec.http.addr")
		} else if a == s.HTTP.Addr && port != "0" {
			v.add("spec.observability.metricsAddr", "must differ from spec.http.addr: it is the admin listener, never the public one")
		}
	}
	if u := s.Observability.Asynqmon.PrometheusURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			v.add("spec.observability.asynqmon.prometheusURL", "must be an http(s) URL such as \"http://prometheus:9090\"")
		}
	}
	if r := s.Observability.Tracing.SampleRatio; math.IsNaN(r) || r < 0 || r > 1 {
		v.add("spec.observability.tracing.sampleRatio", "must be between 0 and 1")
	}
	if e := s.Observability.Tracing.OTLPEndpoint; e != "" {
		p, err := url.Parse(e)
		switch {
		case err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Opaque != "":
			v.add("spec.observability.tracing.otlpEndpoint", "must be an http(s) URL such as \"http://otel-collector:4318\"")
		case p.RawQuery != "" || p.Fragment != "" || p.User != nil:
			// The exporter sends to scheme://host/path and drops the rest.
			v.add("spec.observability.tracing.otlpEndpoint", "must not have user info, a query or a fragment: the exporter posts to scheme://host/path (default path /v1/traces)")
		}
	}
	if len(v.problems) > 0 {
		return &ValidationError{Problems: v.problems}
	}
	return nil
}

type validator struct{ problems []validation.FieldError }

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, validation.FieldError{Field: path, Message: fmt.Sprintf(format, args...)})
}

// nodesURL checks spec.redis.url in sentinel and cluster modes, where it
// carries only the credentials, database and TLS and its host is ignored
// (the nodes are spec.redis.addrs; storage.OpenRedis).
func (v *validator) nodesURL(r Redis) {
	if r.URL == "" {
		return
	}
	p, err := url.Parse(r.URL)
	switch {
	case err != nil || (p.Scheme != "redis" && p.Scheme != "rediss"):
		v.add("spec.redis.url", "must be redis[s]://[user:password@]host/db: in sentinel and cluster modes it carries the credentials, database and TLS; the nodes are spec.redis.addrs")
	case r.Mode == RedisCluster && strings.Trim(p.Path, "/") != "" && strings.Trim(p.Path, "/") != "0":
		v.add("spec.redis.url", "must name database 0 or none: Redis Cluster has database 0 only")
	}
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, "must be positive")
	}
}

func (v *validator) between(path string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(path, "must be between %d and %d", lo, hi)
	}
}
