package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/delivery"
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
// nothing. Sends are admitted a group at a time through Gate: one
// pipelined round trip for every send of a delivery.GroupEnqueuer group.
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

// request returns the keys and arguments of admitScript for one send, or
// ok false when the send needs no admission (no limit, no client_id).
func (a *RedisAdmission) request(senderID int, clientID string, m events.Message) (keys []string, args []any, ok bool, err error) {
	if a.interval == 0 && clientID == "" {
		return nil, nil, false, nil
	}
	keys = []string{rateKey(senderID)}
	var data []byte
	if clientID != "" {
		if data, err = json.Marshal(m); err != nil {
			return nil, nil, false, err
		}
		keys = append(keys, dedupKey(senderID, clientID))
	}
	return keys, []any{a.interval, a.limit.Burst, data, a.ttl.Milliseconds()}, true, nil
}

// decodeAdmit reads admitScript's reply: nil (admitted), the earlier
// message of a repeated client_id, or a *RateLimitedError.
func decodeAdmit(res []any) (*events.Message, error) {
	if len(res) == 0 {
		return nil, errors.New("admit send: empty reply")
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

// Gate returns a's admission for delivery.GroupEnqueuer (delivery.WithGate):
// the sends of a group are admitted in one pipelined round trip, made when
// the group is taken, rather than one round trip each before they join
// it. Its refusals are a *RateLimitedError, or a *RepeatedSend carrying
// the message first sent under the client_id.
func (a *RedisAdmission) Gate() delivery.Gate {
	return admissionGate{a: a}
}

// RepeatedSend refuses a send whose client_id its sender already used
// within the window: Prev is the message sent then, which the send
// answers with (Service.Send).
type RepeatedSend struct{ Prev events.Message }

func (e *RepeatedSend) Error() string {
	return "client_id already used for message " + e.Prev.ID
}

type admissionGate struct{ a *RedisAdmission }

// AdmitGroup runs admitScript once per send in one pipeline, in the
// group's order, so a client_id sent twice in one group is admitted once
// and the second is its repeat. A script Redis no longer holds (NOSCRIPT,
// after a restart or SCRIPT FLUSH) did not run: it is loaded and only the
// sends it refused are run again.
func (g admissionGate) AdmitGroup(ctx context.Context, ds []delivery.Delivery) ([]error, error) {
	refusals := make([]error, len(ds))
	type req struct {
		i    int
		keys []string
		args []any
	}
	var todo []req
	for i, d := range ds {
		keys, args, ok, err := g.a.request(d.SenderID, d.ClientID, d.Message)
		if err != nil {
			return nil, err
		}
		if ok {
			todo = append(todo, req{i, keys, args})
		}
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		pipe := g.a.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(todo))
		for j, r := range todo {
			cmds[j] = admitScript.EvalSha(ctx, pipe, r.keys, r.args...)
		}
		_, _ = pipe.Exec(ctx) // each command's error is read below
		var again []req
		for j, c := range cmds {
			res, err := c.Slice()
			if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") && attempt == 0 {
				again = append(again, todo[j])
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("admit sends: %w", err)
			}
			prev, err := decodeAdmit(res)
			switch {
			case err != nil:
				refusals[todo[j].i] = err
			case prev != nil:
				refusals[todo[j].i] = &RepeatedSend{Prev: *prev}
			}
		}
		if len(again) > 0 {
			if err := admitScript.Load(ctx, g.a.rdb).Err(); err != nil {
				return nil, fmt.Errorf("admit sends: load script: %w", err)
			}
		}
		todo = again
	}
	return refusals, nil
}

// ReleaseGroup forgets the client_id reservations of ds in one round trip.
// The sends they took from their senders' buckets are not given back: a
// release follows a failed enqueue, which is rare.
func (g admissionGate) ReleaseGroup(ctx context.Context, ds []delivery.Delivery) error {
	var keys []string
	for _, d := range ds {
		if d.ClientID != "" {
			keys = append(keys, dedupKey(d.SenderID, d.ClientID))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	// One DEL per key: on Redis Cluster each sender's keys live in its own slot.
	pipe := g.a.rdb.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("release client_ids: %w", err)
	}
	return nil
}
