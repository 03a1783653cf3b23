package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/config"
)

// OpenRedis builds one shared client for the configured deployment mode;
// sessions, presence, pub/sub and asynq all use it.
func OpenRedis(c config.Redis) (redis.UniversalClient, error) {
	o, err := redisOptionsFor(c)
	if err != nil {
		return nil, err
	}
	switch {
	case o.sentinel != nil:
		return redis.NewFailoverClient(o.sentinel), nil
	case o.cluster != nil:
		return redis.NewClusterClient(o.cluster), nil
	}
	return redis.NewClient(o.standalone), nil
}

// redisOptions is the go-redis configuration of one deployment mode:
// exactly one field is set.
type redisOptions struct {
	standalone *redis.Options
	sentinel   *redis.FailoverOptions
	cluster    *redis.ClusterOptions
}

// Settings every mode shares.
const (
	redisPoolSize = 64
	// Fail fast while Redis is down so the API answers 503 promptly
	// instead of holding requests.
	redisDialTimeout = 2 * time.Second
	redisMaxRetries  = 1
)

// redisOptionsFor builds the client options for c. Standalone takes
// everything from spec.redis.url. Sentinel and Cluster take their
// addresses from spec.redis.addrs and, when spec.redis.url is set, the
// credentials, database and TLS (rediss://) from it, its host being
// ignored: the URL is the one secret the deployment supplies
// (MESSAGER_REDIS_URL), so a password-protected Sentinel or Cluster needs
// no other. TLS then verifies each node against its own address. The
// Sentinels themselves are reached without credentials: the config has
// no field for a Sentinel password.
func redisOptionsFor(c config.Redis) (redisOptions, error) {
	switch c.Mode {
	case config.RedisSentinel, config.RedisCluster:
		var auth redis.Options
		if c.URL != "" {
			u, err := redis.ParseURL(c.URL)
			if err != nil {
				return redisOptions{}, fmt.Errorf("redis url: %w", err)
			}
			auth = *u
			if auth.TLSConfig != nil {
				auth.TLSConfig.ServerName = ""
			}
		}
		if c.Mode == config.RedisSentinel {
			return redisOptions{sentinel: &redis.FailoverOptions{
				MasterName: c.MasterName, SentinelAddrs: c.Addrs,
				Username: auth.Username, Password: auth.Password, DB: auth.DB, TLSConfig: auth.TLSConfig,
				PoolSize: redisPoolSize, DialTimeout: redisDialTimeout, MaxRetries: redisMaxRetries,
			}}, nil
		}
		if auth.DB != 0 {
			return redisOptions{}, fmt.Errorf("redis url: database %d: Redis Cluster has database 0 only", auth.DB)
		}
		return redisOptions{cluster: &redis.ClusterOptions{
			Addrs:    c.Addrs,
			Username: auth.Username, Password: auth.Password, TLSConfig: auth.TLSConfig,
			PoolSize: redisPoolSize, DialTimeout: redisDialTimeout, MaxRetries: redisMaxRetries,
		}}, nil
	}
	if c.URL == "" {
		return redisOptions{}, errors.New("redis url is empty: set spec.redis.url or MESSAGER_REDIS_URL")
	}
	opt, err := redis.ParseURL(c.URL)
	if err != nil {
		return redisOptions{}, fmt.Errorf("redis url: %w", err)
	}
	opt.PoolSize = redisPoolSize
	opt.DialTimeout = redisDialTimeout
	opt.MaxRetries = redisMaxRetries
	return redisOptions{standalone: opt}, nil
}

// TraceRedis makes a span, on tp, of every command and pipeline rdb (and
// every client sharing its connections: pipelines, asynq, pub/sub) sends.
// Spans name the command only: arguments are session tokens and message
// bodies. Connection dials are not traced. Redis metrics are not taken
// from here (Prometheus has the pool's).
func TraceRedis(rdb redis.UniversalClient, tp trace.TracerProvider) error {
	err := redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(tp),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
		redisotel.WithDialFilter(true),
		redisotel.WithCommandFilter(redisotel.DefaultCommandFilter),
	)
	if err != nil {
		return fmt.Errorf("trace redis: %w", err)
	}
	return nil
}

// PubSubChannel names the pub/sub channel topic of the deployment using
// rdb. Pub/sub channels are shared by every logical database of a Redis
// server, so the database number is part of the name: two deployments (or
// two test runs) on one server in different databases never hear each
// other.
func PubSubChannel(rdb redis.UniversalClient, topic string) string {
	db := 0
	if c, ok := rdb.(*redis.Client); ok {
		db = c.Options().DB
	}
	return fmt.Sprintf("messager:%s:db%d", topic, db)
}

// AutoPipeline returns a client on rdb's connections for the single
// commands every request makes (session look-ups, client_id reservations).
// A command that is the only one in flight is sent
// the plain way, on the caller's goroutine; one issued while others are in
// flight goes through go-redis's automatic pipelining, which coalesces the
// commands of concurrent goroutines into shared round trips. Under load they
// then cost a fraction of a round trip each; alone, a command skips the
// pipeliner's hand-offs to its flusher goroutine and back, 40–60 µs of
// this process's CPU per command on the benchmark VM (BenchmarkLoneCommand;
// at 250 DMs/s 5–8 fewer context switches per DM, docs/benchmarks.md,
// session 12). It returns rdb itself when rdb cannot pipeline automatically.
func AutoPipeline(rdb redis.UniversalClient) redis.Cmdable {
	ap, ok := rdb.(interface {
		AutoPipeline() (*redis.AutoPipeliner, error)
	})
	if !ok {
		return rdb
	}
	p, err := ap.AutoPipeline()
	if err != nil {
		return rdb
	}
	return &adaptivePipeline{Cmdable: p, direct: rdb}
}

// adaptivePipeline sends the commands it overrides directly when none other
// is in flight on it and through the auto-pipeliner (the embedded Cmdable)
// otherwise; every other command always goes through the auto-pipeliner.
// Both paths wait for the reply, so one goroutine's commands stay in order.
type adaptivePipeline struct {
	redis.Cmdable
	direct   redis.Cmdable
	inFlight atomic.Int64
}

// pick returns the client for one command; the caller must call a.done
// once the command has returned.
func (a *adaptivePipeline) pick() redis.Cmdable {
	if a.inFlight.Add(1) == 1 {
		return a.direct
	}
	return a.Cmdable
}

func (a *adaptivePipeline) done() { a.inFlight.Add(-1) }

func (a *adaptivePipeline) GetEx(ctx context.Context, key string, expiration time.Duration) *redis.StringCmd {
	defer a.done()
	return a.pick().GetEx(ctx, key, expiration)
}

func (a *adaptivePipeline) Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd {
	defer a.done()
	return a.pick().Set(ctx, key, value, expiration)
}

func (a *adaptivePipeline) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	defer a.done()
	return a.pick().Del(ctx, keys...)
}

func (a *adaptivePipeline) Publish(ctx context.Context, channel string, message any) *redis.IntCmd {
	defer a.done()
	return a.pick().Publish(ctx, channel, message)
}

// Eval and EvalSha are what redis.Script.Run sends (the admission script).
func (a *adaptivePipeline) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	defer a.done()
	return a.pick().Eval(ctx, script, keys, args...)
}

func (a *adaptivePipeline) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	defer a.done()
	return a.pick().EvalSha(ctx, sha1, keys, args...)
}

// IsRedisDown reports whether err means Redis did not answer, as opposed
// to a command error; the API answers such errors with 503.
func IsRedisDown(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) ||
		// The server closed the connection: restarting, or a proxy in front of
		// a dead one.
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "LOADING") || strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "dial tcp")
}
