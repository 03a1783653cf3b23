package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisSessions keeps sessions in Redis under the SHA-256 of the token, so
// a leaked Redis dump does not hold usable tokens. Pods that cache
// sessions (SessionCache) learn of a logout on the event bus. rdb may be an auto-pipelining
// client (storage.AutoPipeline): every request looks its session up, and
// concurrent lookups then share round trips.
type RedisSessions struct{ rdb redis.Cmdable }

// NewRedisSessions returns the Redis session store.
func NewRedisSessions(rdb redis.Cmdable) *RedisSessions { return &RedisSessions{rdb: rdb} }

func sessionKey(token string) string { return sessionKeyPrefix + SessionID(token) }

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

// maxTokenLength bounds a token worth looking up: Create's are 43 bytes.
const maxTokenLength = 128

// Lookup returns the principal of token and pushes its expiry ttl ahead
// (GETEX: one round trip).
func (s *RedisSessions) Lookup(ctx context.Context, token string, ttl time.Duration) (Principal, error) {
	if len(token) > maxTokenLength {
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

// RedisLimiter counts attempts in fixed windows in Redis, so a limit holds
// across pods. Each Take is one Lua script: it checks every key and counts
// the attempt against all of them in one atomic step.
//
// The keys share the hash tag {ratelimit}, so one script may touch several
// of them on Redis Cluster too.
type RedisLimiter struct{ rdb redis.UniversalClient }

// NewRedisLimiter returns the Redis limiter.
func NewRedisLimiter(rdb redis.UniversalClient) *RedisLimiter { return &RedisLimiter{rdb: rdb} }

func limitKey(k LimitKey) string { return "messager:{ratelimit}:" + k.Key }

// takeScript: KEYS are the limit keys, ARGV their limit and window (ms) in
// pairs. When a key is at its limit it counts nothing and returns the
// longest time (ms) until a full key's window ends; else it counts one
// against every key, starting a key's window on its first attempt, and
// returns 0.
var takeScript = redis.NewScript(`
local wait = 0
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= tonumber(ARGV[2*i-1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      ttl = tonumber(ARGV[2*i])
      redis.call('PEXPIRE', key, ttl)
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('PEXPIRE', key, ARGV[2*i])
  end
end
return 0
`)

// refundScript takes one attempt back from each key that still counts any.
var refundScript = redis.NewScript(`
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then
    redis.call('DECR', key)
  end
end
return 0
`)

// Take counts one attempt against every key, or none when a key is at its
// limit (a *RateLimitedError whose RetryAfter is when that key's window ends).
func (l *RedisLimiter) Take(ctx context.Context, keys ...LimitKey) error {
	names := make([]string, len(keys))
	args := make([]any, 0, 2*len(keys))
	for i, k := range keys {
		names[i] = limitKey(k)
		args = append(args, k.Limit, max(k.Window.Milliseconds(), 1))
	}
	wait, err := takeScript.Run(ctx, l.rdb, names, args...).Int64()
	if err != nil {
		return fmt.Errorf("count attempt: %w", err)
	}
	if wait > 0 {
		return &RateLimitedError{RetryAfter: time.Duration(wait) * time.Millisecond}
	}
	return nil
}

// Refund takes back one attempt from each key.
func (l *RedisLimiter) Refund(ctx context.Context, keys ...LimitKey) error {
	if len(keys) == 0 {
		return nil
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = limitKey(k)
	}
	if err := refundScript.Run(ctx, l.rdb, names).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("refund attempt: %w", err)
	}
	return nil
}

// Reset forgets key's attempts.
func (l *RedisLimiter) Reset(ctx context.Context, key LimitKey) error {
	if err := l.rdb.Del(ctx, limitKey(key)).Err(); err != nil {
		return fmt.Errorf("reset limit: %w", err)
	}
	return nil
}
