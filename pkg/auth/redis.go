package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisSessions keeps sessions in Redis under the SHA-256 of the token, so
// a leaked Redis dump does not hold usable tokens. Every pod sees a logout
// at once because there is no local cache. rdb may be an auto-pipelining
// client (storage.AutoPipeline): every request looks its session up, and
// concurrent lookups then share round trips.
type RedisSessions struct{ rdb redis.Cmdable }

// NewRedisSessions returns the Redis session store.
func NewRedisSessions(rdb redis.Cmdable) *RedisSessions { return &RedisSessions{rdb: rdb} }

func sessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "messager:session:" + hex.EncodeToString(sum[:])
}

// Create stores p under a new 256-bit random token.
func (s *RedisSessions) Create(ctx context.Context, p Principal, ttl time.Duration) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	data, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	if err := s.rdb.Set(ctx, sessionKey(token), data, ttl).Err(); err != nil {
		return "", fmt.Errorf("store session: %w", err)
	}
	return token, nil
}

// Lookup returns the principal of token and pushes its expiry ttl ahead
// (GETEX: one round trip).
func (s *RedisSessions) Lookup(ctx context.Context, token string, ttl time.Duration) (Principal, error) {
	if len(token) > 128 {
		return Principal{}, ErrUnauthenticated
	}
	data, err := s.rdb.GetEx(ctx, sessionKey(token), ttl).Bytes()
	if errors.Is(err, redis.Nil) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up session: %w", err)
	}
	var p Principal
	if err := json.Unmarshal(data, &p); err != nil {
		return Principal{}, ErrUnauthenticated
	}
	return p, nil
}

// Delete revokes token.
func (s *RedisSessions) Delete(ctx context.Context, token string) error {
	if err := s.rdb.Del(ctx, sessionKey(token)).Err(); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// RedisLimiter counts failures in fixed windows in Redis, so the limit
// holds across pods.
type RedisLimiter struct {
	rdb    redis.UniversalClient
	window time.Duration
}

// NewRedisLimiter returns a limiter whose counts reset window after the first failure.
func NewRedisLimiter(rdb redis.UniversalClient, window time.Duration) *RedisLimiter {
	return &RedisLimiter{rdb: rdb, window: window}
}

func limitKey(k LimitKey) string { return "messager:loginfail:" + k.Key }

// Check returns a *RateLimitedError when a key has reached its limit.
func (l *RedisLimiter) Check(ctx context.Context, keys ...LimitKey) error {
	pipe := l.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	for i, k := range keys {
		gets[i] = pipe.Get(ctx, limitKey(k))
		ttls[i] = pipe.PTTL(ctx, limitKey(k))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("check login limit: %w", err)
	}
	var retry time.Duration
	for i, k := range keys {
		n, err := gets[i].Int()
		if err != nil || n < k.Limit {
			continue
		}
		if d := ttls[i].Val(); d > retry {
			retry = d
		}
		if retry <= 0 {
			retry = l.window
		}
	}
	if retry > 0 {
		return &RateLimitedError{RetryAfter: retry}
	}
	return nil
}

// Fail counts a failure against each key, starting its window on the first.
func (l *RedisLimiter) Fail(ctx context.Context, keys ...LimitKey) error {
	pipe := l.rdb.TxPipeline()
	for _, k := range keys {
		pipe.Incr(ctx, limitKey(k))
		pipe.ExpireNX(ctx, limitKey(k), l.window)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("count login failure: %w", err)
	}
	return nil
}

// Reset forgets key's failures (after a successful login).
func (l *RedisLimiter) Reset(ctx context.Context, key LimitKey) error {
	if err := l.rdb.Del(ctx, limitKey(key)).Err(); err != nil {
		return fmt.Errorf("reset login limit: %w", err)
	}
	return nil
}
