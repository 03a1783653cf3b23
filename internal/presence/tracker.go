package presence

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/events"
)

// Redis keys share one hash tag so the scripts work on Redis Cluster.
const (
	keySeen    = "{messager:presence}:seen"    // ZSET user id → last heartbeat/login (unix ms)
	keyStreams = "{messager:presence}:streams" // ZSET user id → stream lease expiry (unix ms)
	keyOnline  = "{messager:presence}:online"  // HASH user id → OnlineUser JSON: the announced online set
)

// streamLease is how long a pod's report of an open stream counts; pods
// renew it every renewEvery while the stream stays open, so a pod that
// dies takes its users offline within the lease.
const streamLease = 20 * time.Second

// StreamCloseGrace is how long a user whose last stream closed still
// counts as online: a page reload reconnects well within it, so nobody
// flickers offline. The user is announced offline at the first sweep
// after it (within StreamCloseGrace + sweep interval, about 7 s).
const StreamCloseGrace = 5 * time.Second

// renewEvery is how often pods renew the leases of their streams. It is
// well under StreamCloseGrace: a pod whose stream closed cuts the user's
// lease to the grace, and another pod where the user still has a stream
// restores it before the grace runs out.
const renewEvery = 2 * time.Second

// OnlineUser is a user in the online list.
type OnlineUser struct {
	ID       int       `json:"-"`
	Usercode string    `json:"usercode"`
	Username string    `json:"username"`
	Since    time.Time `json:"since"`
}

type onlineRecord struct {
	ID       int       `json:"id"`
	Usercode string    `json:"usercode"`
	Username string    `json:"username"`
	Since    time.Time `json:"since"`
}

// Publisher sends presence events to every pod.
type Publisher interface {
	Publish(ctx context.Context, env events.Envelope) error
}

// LastSeenStore keeps when users went offline beyond Redis (the
// database): "last seen" for people who are offline. *storage.Users.
type LastSeenStore interface {
	SetLastSeen(ctx context.Context, ids []int, at time.Time) error
}

// Tracker keeps presence state in Redis.
type Tracker struct {
	rdb      redis.UniversalClient
	ttl      time.Duration
	pub      Publisher
	logger   *slog.Logger
	now      func() time.Time
	lastSeen LastSeenStore

	// streamers are the users with a stream on this pod as they opened
	// it: a user ended (logout of one session) while another session's
	// stream stays open here is announced online again at the next renewal.
	mu        sync.Mutex
	streamers map[int]auth.Principal
}

// TrackerOption configures a Tracker.
type TrackerOption func(*Tracker)

// WithLastSeen records in store when each user goes offline.
func WithLastSeen(store LastSeenStore) TrackerOption {
	return func(t *Tracker) { t.lastSeen = store }
}

// NewTracker returns a tracker; ttl is spec.presence.ttl.
func NewTracker(rdb redis.UniversalClient, ttl time.Duration, pub Publisher, logger *slog.Logger, opts ...TrackerOption) *Tracker {
	t := &Tracker{rdb: rdb, ttl: ttl, pub: pub, logger: logger, now: time.Now, streamers: map[int]auth.Principal{}}
	for _, o := range opts {
		o(t)
	}
	return t
}

// markScript records activity in a ZSET and adds the user to the online
// hash if absent; it returns 1 when the user just came online.
var markScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3])
`)

// sweepScript removes from the online hash everyone whose heartbeat and
// stream lease have both expired, returning their records. Doing the check
// and the removal in one script means a heartbeat can never race a sweep.
var sweepScript = redis.NewScript(`
local gone = {}
local ids = redis.call('HKEYS', KEYS[3])
for _, id in ipairs(ids) do
  local seen = tonumber(redis.call('ZSCORE', KEYS[1], id) or '0')
  local lease = tonumber(redis.call('ZSCORE', KEYS[2], id) or '0')
  if seen < tonumber(ARGV[2]) and lease < tonumber(ARGV[1]) then
    table.insert(gone, redis.call('HGET', KEYS[3], id))
    redis.call('HDEL', KEYS[3], id)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
  end
end
return gone
`)

// closeScript starts the grace of a user whose last stream on one pod
// closed: the stream lease and the heartbeat/login time are cut so that
// both lapse at ARGV[2] (never lengthened). Another pod where the user
// still has a stream restores the lease at its next renewal.
var closeScript = redis.NewScript(`
local lease = redis.call('ZSCORE', KEYS[2], ARGV[1])
if lease and tonumber(lease) > tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
end
local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
if seen and tonumber(seen) > tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 0
`)

// endScript takes a user offline at once; it returns 1 when the user was
// online (and so is to be announced offline).
var endScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[3], ARGV[1])
`)

// StreamClosed records that p's last stream on this pod ended: p stays
// online for StreamCloseGrace, then goes offline unless a stream is open
// on another pod or one reopens. A heartbeat-only client of the same user
// keeps it online again from its next heartbeat.
func (t *Tracker) StreamClosed(ctx context.Context, p auth.Principal) error {
	t.mu.Lock()
	delete(t.streamers, p.UserID)
	t.mu.Unlock()
	until := t.now().Add(StreamCloseGrace)
	if err := closeScript.Run(ctx, t.rdb, []string{keySeen, keyStreams}, p.UserID, until.UnixMilli(), until.Add(-t.ttl).UnixMilli()).Err(); err != nil {
		return fmt.Errorf("presence: stream closed: %w", err)
	}
	return nil
}

// End takes p offline at once on every pod (logout): it is announced
// offline and its last-seen time recorded. If p still has a stream of
// another session open, its pod announces p online again within
// renewEvery.
func (t *Tracker) End(ctx context.Context, p auth.Principal) error {
	removed, err := endScript.Run(ctx, t.rdb, []string{keySeen, keyStreams, keyOnline}, p.UserID).Int()
	if err != nil {
		return fmt.Errorf("presence: end: %w", err)
	}
	if removed == 0 {
		return nil
	}
	t.recordLastSeen(ctx, []int{p.UserID})
	return t.announce(ctx, events.UserRef{Usercode: p.Usercode, Username: p.Username}, false)
}

func (t *Tracker) recordLastSeen(ctx context.Context, ids []int) {
	if t.lastSeen == nil || len(ids) == 0 {
		return
	}
	if err := t.lastSeen.SetLastSeen(ctx, ids, t.now()); err != nil {
		t.logger.WarnContext(ctx, "recording last seen", "users", len(ids), "err", err)
	}
}

// Touch records a heartbeat or login of p.
func (t *Tracker) Touch(ctx context.Context, p auth.Principal) error {
	return t.mark(ctx, keySeen, p, t.now())
}

// StreamOpened records that p has an open stream on this pod.
func (t *Tracker) StreamOpened(ctx context.Context, p auth.Principal) error {
	t.mu.Lock()
	t.streamers[p.UserID] = p
	t.mu.Unlock()
	return t.mark(ctx, keyStreams, p, t.now().Add(streamLease))
}

func (t *Tracker) mark(ctx context.Context, key string, p auth.Principal, at time.Time) error {
	now := t.now().UTC()
	rec, err := json.Marshal(onlineRecord{ID: p.UserID, Usercode: p.Usercode, Username: p.Username, Since: now})
	if err != nil {
		return err
	}
	added, err := markScript.Run(ctx, t.rdb, []string{key, keyOnline}, p.UserID, at.UnixMilli(), rec).Int()
	if err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	if added == 1 {
		return t.announce(ctx, events.UserRef{Usercode: p.Usercode, Username: p.Username}, true)
	}
	return nil
}

// RenewStreams extends the stream lease of users connected to this pod.
func (t *Tracker) RenewStreams(ctx context.Context, userIDs []int) error {
	if len(userIDs) == 0 {
		return nil
	}
	exp := float64(t.now().Add(streamLease).UnixMilli())
	members := make([]redis.Z, len(userIDs))
	for i, id := range userIDs {
		members[i] = redis.Z{Score: exp, Member: id}
	}
	// GT: never shorten a lease another pod extended further.
	if err := t.rdb.ZAddGT(ctx, keyStreams, members...).Err(); err != nil {
		return fmt.Errorf("presence: renew stream leases: %w", err)
	}
	return t.restore(ctx, userIDs)
}

// restore announces online again the users with a stream here whom a
// logout of another session took offline (End).
func (t *Tracker) restore(ctx context.Context, userIDs []int) error {
	online, err := t.OnlineAmong(ctx, userIDs)
	if err != nil {
		return err
	}
	t.mu.Lock()
	var back []auth.Principal
	connected := make(map[int]bool, len(userIDs))
	for i, id := range userIDs {
		connected[id] = true
		if p, ok := t.streamers[id]; ok && !online[i] {
			back = append(back, p)
		}
	}
	for id := range t.streamers {
		if !connected[id] {
			delete(t.streamers, id)
		}
	}
	t.mu.Unlock()
	for _, p := range back {
		if err := t.mark(ctx, keyStreams, p, t.now().Add(streamLease)); err != nil {
			return err
		}
	}
	return nil
}

// Sweep announces everyone whose heartbeat and streams have lapsed as offline.
func (t *Tracker) Sweep(ctx context.Context) error {
	now := t.now()
	gone, err := sweepScript.Run(ctx, t.rdb, []string{keySeen, keyStreams, keyOnline}, now.UnixMilli(), now.Add(-t.ttl).UnixMilli()).StringSlice()
	if err != nil {
		return fmt.Errorf("presence: sweep: %w", err)
	}
	recs := make([]onlineRecord, 0, len(gone))
	ids := make([]int, 0, len(gone))
	for _, g := range gone {
		var rec onlineRecord
		if json.Unmarshal([]byte(g), &rec) == nil {
			recs = append(recs, rec)
			ids = append(ids, rec.ID)
		}
	}
	t.recordLastSeen(ctx, ids)
	for _, rec := range recs {
		if err := t.announce(ctx, events.UserRef{Usercode: rec.Usercode, Username: rec.Username}, false); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tracker) announce(ctx context.Context, u events.UserRef, online bool) error {
	env, err := events.NewPresence(u, online)
	if err != nil {
		return err
	}
	return t.pub.Publish(ctx, env)
}

// Online lists everyone online, oldest session first.
func (t *Tracker) Online(ctx context.Context) ([]OnlineUser, error) {
	all, err := t.rdb.HGetAll(ctx, keyOnline).Result()
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	out := make([]OnlineUser, 0, len(all))
	for _, v := range all {
		var rec onlineRecord
		if json.Unmarshal([]byte(v), &rec) == nil {
			out = append(out, OnlineUser{ID: rec.ID, Usercode: rec.Usercode, Username: rec.Username, Since: rec.Since})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].Username < out[j].Username
	})
	return out, nil
}

// OnlineCount returns how many users are online.
func (t *Tracker) OnlineCount(ctx context.Context) (int64, error) {
	n, err := t.rdb.HLen(ctx, keyOnline).Result()
	if err != nil {
		return 0, fmt.Errorf("presence: %w", err)
	}
	return n, nil
}

// onlineCollector exports OnlineCount at scrape time: one O(1) Redis call
// per scrape, and right even when nobody polls the list (clients get
// presence pushed). It lives beside the count because the online set is
// the tracker's, not any request's: no Service decorator sees it.
type onlineCollector struct {
	t    *Tracker
	desc *prometheus.Desc
}

// NewOnlineCollector returns the collector of messager_presence_online_users.
// The count is global: every api pod reports the same value (aggregate
// with max, not sum). While Redis does not answer the series is absent
// rather than failing the scrape.
func NewOnlineCollector(t *Tracker) prometheus.Collector {
	return &onlineCollector{t: t, desc: prometheus.NewDesc("messager_presence_online_users", "Users online (an open stream, or a heartbeat or login within spec.presence.ttl), across all pods.", nil, nil)}
}

func (c *onlineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *onlineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := c.t.OnlineCount(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}

// OnlineAmong reports, for each of ids, whether that user is online.
func (t *Tracker) OnlineAmong(ctx context.Context, ids []int) ([]bool, error) {
	out := make([]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	fields := make([]string, len(ids))
	for i, id := range ids {
		fields[i] = strconv.Itoa(id)
	}
	vals, err := t.rdb.HMGet(ctx, keyOnline, fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	for i, v := range vals {
		out[i] = v != nil
	}
	return out, nil
}

// OnlineIDs returns the ids of everyone online: the audience of a broadcast.
func (t *Tracker) OnlineIDs(ctx context.Context) ([]int, error) {
	keys, err := t.rdb.HKeys(ctx, keyOnline).Result()
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	ids := make([]int, 0, len(keys))
	for _, k := range keys {
		if id, err := strconv.Atoi(k); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Run renews this pod's stream leases and sweeps until ctx ends.
// connected reports the users with a stream on this pod.
func (t *Tracker) Run(ctx context.Context, connected func() []int) {
	// Sweeps come often enough that a closed stream is offline within
	// StreamCloseGrace + 2 s, and a lapsed heartbeat within ttl + ttl/6.
	sweepEvery := min(max(t.ttl/6, 500*time.Millisecond), 2*time.Second)
	renew := time.NewTicker(renewEvery)
	sweep := time.NewTicker(sweepEvery)
	defer renew.Stop()
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			if err := t.RenewStreams(ctx, connected()); err != nil && ctx.Err() == nil {
				t.logger.Warn("presence renew failed", "err", err)
			}
		case <-sweep.C:
			if err := t.Sweep(ctx); err != nil && ctx.Err() == nil {
				t.logger.Warn("presence sweep failed", "err", err)
			}
		}
	}
}
