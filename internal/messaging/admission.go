package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/events"
)

// RateLimitedError refuses a send over the sender's rate limit; the sender
// may send again after RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("send rate limit reached; retry in %v", e.RetryAfter)
}

// SendLimit is a token bucket per sender: up to Burst sends at once, and
// PerSecond more each second. PerSecond 0 means no limit.
type SendLimit struct {
	PerSecond int
	Burst     int
}

// RedisAdmission admits sends with one Lua script per send: it answers a
// repeated client_id from its reservation, else takes one send from the
// sender's token bucket (GCRA), else refuses, and reserves the client_id
// of an admitted send for the client_id window (DefaultClientIDWindow
// unless WithClientIDWindow says otherwise). One script makes the three
// steps atomic, so a refused send reserves nothing and a repeat spends
// nothing, and it keeps a send with a client_id at the one Redis round
// trip the reservation alone took. rdb may be an auto-pipelining client
// (storage.AutoPipeline), so concurrent sends share round trips.
//
// The bucket lives in Redis, so it holds across every api pod, and it is
// timed by Redis's clock, so pods whose clocks disagree agree on it.
type RedisAdmission struct {
	rdb   redis.Cmdable
	ttl   time.Duration
	limit SendLimit
	// interval is the time one send costs, in microseconds.
	interval int64
}

// DefaultClientIDWindow is how long a client_id is remembered unless
// configured otherwise: long enough for any client's retries of a lost
// answer (the web UI's take seconds), short enough that Redis holds only
// minutes of sends. A retry after the window is still stored and
// delivered at most once: the database's unique (sender, client_id)
// index makes the worker drop it (storage.Saved.Fresh is false).
const DefaultClientIDWindow = 5 * time.Minute

// AdmissionOption configures a RedisAdmission.
type AdmissionOption func(*RedisAdmission)

// WithClientIDWindow remembers client_ids for d
// (spec.messaging.clientIDWindow); d <= 0 keeps the default.
func WithClientIDWindow(d time.Duration) AdmissionOption {
	return func(a *RedisAdmission) {
		if d > 0 {
			a.ttl = d
		}
	}
}

// NewRedisAdmission returns the admission for limit on rdb.
func NewRedisAdmission(rdb redis.Cmdable, limit SendLimit, opts ...AdmissionOption) *RedisAdmission {
	a := &RedisAdmission{rdb: rdb, ttl: DefaultClientIDWindow, limit: limit}
	for _, o := range opts {
		o(a)
	}
	if limit.PerSecond > 0 {
		a.interval = int64(time.Second/time.Microsecond) / int64(limit.PerSecond)
		a.limit.Burst = max(limit.Burst, 1)
	}
	return a
}

// Both keys of a sender carry the same hash tag, so the script that uses
// them runs on Redis Cluster too.
func rateKey(senderID int) string { return fmt.Sprintf("messager:{u%d}:sendrate", senderID) }

func dedupKey(senderID int, clientID string) string {
	return fmt.Sprintf("messager:{u%d}:clientid:%s", senderID, clientID)
}

// admitScript: KEYS[1] the sender's bucket, KEYS[2] (optional) the
// client_id reservation; ARGV: interval (µs, 0: no limit), burst, the
// message JSON, the reservation TTL (ms). It returns {0, earlier message},
// {1, µs to wait} or {2} (admitted).
//
// The bucket is a GCRA "theoretical arrival time" in µs of Redis's clock:
// a send is admitted when it is no earlier than burst intervals before
// that time, and moves it one interval on. Numbers are written with %.0f:
// Lua's own number-to-string keeps 14 digits, too few for µs since 1970.
var admitScript = redis.NewScript(`
if #KEYS == 2 then
  local prev = redis.call('GET', KEYS[2])
  if prev then return {0, prev} end
end
local interval = tonumber(ARGV[1])
if interval > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  local allow = tat + interval - tonumber(ARGV[2]) * interval
  if now < allow then return {1, allow - now} end
  tat = tat + interval
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', string.format('%.0f', math.ceil((tat - now) / 1000)))
end
if #KEYS == 2 then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
end
return {2}
`)

// Admit implements Admission.
func (a *RedisAdmission) Admit(ctx context.Context, senderID int, clientID string, m events.Message) (*events.Message, error) {
	if a.interval == 0 && clientID == "" {
		return nil, nil
	}
	keys := []string{rateKey(senderID)}
	var data []byte
	if clientID != "" {
		var err error
		if data, err = json.Marshal(m); err != nil {
			return nil, err
		}
		keys = append(keys, dedupKey(senderID, clientID))
	}
	res, err := admitScript.Run(ctx, a.rdb, keys, a.interval, a.limit.Burst, data, a.ttl.Milliseconds()).Slice()
	if err != nil {
		return nil, fmt.Errorf("admit send: %w", err)
	}
	code, _ := res[0].(int64)
	switch {
	case code == 2:
		return nil, nil
	case code == 1 && len(res) == 2:
		wait, _ := res[1].(int64)
		return nil, &RateLimitedError{RetryAfter: time.Duration(wait) * time.Microsecond}
	case code == 0 && len(res) == 2:
		prev, _ := res[1].(string)
		var pm events.Message
		if err := json.Unmarshal([]byte(prev), &pm); err != nil {
			return nil, fmt.Errorf("decode client_id record: %w", err)
		}
		return &pm, nil
	}
	return nil, errors.New("admit send: unexpected reply " + strconv.Quote(fmt.Sprint(res)))
}

// Release implements Admission. The send it took from the bucket is not
// given back: a release follows a failed enqueue, which is rare.
func (a *RedisAdmission) Release(ctx context.Context, senderID int, clientID string) error {
	return a.rdb.Del(ctx, dedupKey(senderID, clientID)).Err()
}
