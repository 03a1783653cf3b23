package bench

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// msgKey identifies a message id without keeping its string: the 16 bytes
// of a UUID, or a 128-bit hash of any other id form.
type msgKey [16]byte

var keySeed1, keySeed2 = maphash.MakeSeed(), maphash.MakeSeed()

func keyOf(id []byte) msgKey {
	if u, err := uuid.ParseBytes(id); err == nil {
		return msgKey(u)
	}
	var k msgKey
	a, b := maphash.Bytes(keySeed1, id), maphash.Bytes(keySeed2, id)
	for i := 0; i < 8; i++ {
		k[i] = byte(a >> (8 * i))
		k[8+i] = byte(b >> (8 * i))
	}
	return k
}

const broadcastTo = -1

// msgState is what the tool knows about one message id. A stream may see
// the id before the POST that created it has returned its 202, so the
// state is created by whichever side sees the id first; arrivals seen
// before the 202 wait in pending and are matched when it comes.
type msgState struct {
	idx int32 // dense index into every connection's bitset

	// start is the POST start (ns since the run's epoch), 0 until the 202
	// is back. sender, to, warmup and ours are written before start is
	// stored and only read after it is loaded non-zero.
	start  atomic.Int64
	sender int32
	to     int32 // recipient user index, or broadcastTo
	warmup bool
	ours   bool
	id     string

	mu      sync.Mutex
	pending []pendingArrival
}

type pendingArrival struct {
	c  *conn
	at int64
}

// isRecipient reports whether a user is an addressee of the message
// (the sender's own connections receive it too, but as an echo).
func (m *msgState) isRecipient(user int32) bool {
	if m.to == broadcastTo {
		return user != m.sender
	}
	return user == m.to
}

// tracker matches stream arrivals to sent messages.
type tracker struct {
	epoch   time.Time
	nextIdx atomic.Int32
	shards  [64]struct {
		mu sync.Mutex
		m  map[msgKey]*msgState
	}

	e2e        *shardedHist
	deliveries atomic.Int64 // measured recipient deliveries (first arrival per connection)
	frames     atomic.Int64 // every first arrival of any message on any connection
	lastArr    atomic.Int64 // latest measured recipient arrival, ns since epoch
}

func newTracker() *tracker {
	t := &tracker{epoch: time.Now(), e2e: newShardedHist()}
	for i := range t.shards {
		t.shards[i].m = make(map[msgKey]*msgState)
	}
	return t
}

// now is nanoseconds since the epoch on the monotonic clock; never 0.
func (t *tracker) now() int64 { return int64(time.Since(t.epoch)) + 1 }

func (t *tracker) state(k msgKey) *msgState {
	sh := &t.shards[k[15]&63]
	sh.mu.Lock()
	m, ok := sh.m[k]
	if !ok {
		m = &msgState{idx: t.nextIdx.Add(1) - 1}
		sh.m[k] = m
	}
	sh.mu.Unlock()
	return m
}

// arrived records message id on connection c at time at.
func (t *tracker) arrived(c *conn, id []byte, at int64) {
	m := t.state(keyOf(id))
	if !c.mark(m.idx) {
		return // a duplicate: counted by the connection
	}
	t.frames.Add(1)
	if m.start.Load() == 0 {
		m.mu.Lock()
		if m.start.Load() == 0 {
			m.pending = append(m.pending, pendingArrival{c, at})
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
	}
	t.observe(m, c, at)
}

// accepted records that the POST started at start (ns since epoch)
// returned id. It returns the message's state.
func (t *tracker) accepted(id string, start int64, sender, to int32, warmup bool) *msgState {
	m := t.state(keyOf([]byte(id)))
	m.mu.Lock()
	m.id, m.sender, m.to, m.warmup, m.ours = id, sender, to, warmup, true
	m.start.Store(start)
	pending := m.pending
	m.pending = nil
	m.mu.Unlock()
	for _, p := range pending {
		t.observe(m, p.c, p.at)
	}
	return m
}

func (t *tracker) observe(m *msgState, c *conn, at int64) {
	if !m.ours || m.warmup || !m.isRecipient(c.user) {
		return
	}
	t.e2e.record(c.idx, time.Duration(at-m.start.Load()))
	t.deliveries.Add(1)
	for {
		last := t.lastArr.Load()
		if at <= last || t.lastArr.CompareAndSwap(last, at) {
			break
		}
	}
}

// conn is one stream connection's arrival record.
type conn struct {
	idx  int
	user int32

	mu     sync.Mutex
	bits   []uint64 // bit i: message idx i arrived
	dups   []int32  // idx of every repeated arrival
	lastID []byte   // last message id seen, for reconnecting with after=

	disconnects atomic.Int64
}

// mark sets idx's bit and reports whether it was the first arrival.
func (c *conn) mark(idx int32) bool {
	w, b := int(idx>>6), uint64(1)<<(idx&63)
	c.mu.Lock()
	defer c.mu.Unlock()
	for w >= len(c.bits) {
		c.bits = append(c.bits, make([]uint64, len(c.bits)+8)...)
	}
	if c.bits[w]&b != 0 {
		c.dups = append(c.dups, idx)
		return false
	}
	c.bits[w] |= b
	return true
}

func (c *conn) has(idx int32) bool {
	w := int(idx >> 6)
	c.mu.Lock()
	defer c.mu.Unlock()
	return w < len(c.bits) && c.bits[w]&(uint64(1)<<(idx&63)) != 0
}

func (c *conn) setLast(id []byte) {
	c.mu.Lock()
	c.lastID = append(c.lastID[:0], id...)
	c.mu.Unlock()
}

func (c *conn) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.lastID)
}

// msgFramePrefix is how an encoding/json-encoded message event starts; the
// fast path takes the id from it without decoding the frame.
var msgFramePrefix = []byte(`{"type":"message","message":{"id":"`)

// eachMessageID calls fn with the id of every message event in a frame.
// A frame is normally one JSON event; several newline-separated events are
// accepted too. Presence, read and unknown events are skipped.
func eachMessageID(frame []byte, fn func(id []byte)) {
	if bytes.IndexByte(frame, '\n') < 0 || json.Valid(frame) {
		// One event (possibly pretty-printed over several lines).
		if id := messageID(frame); id != nil {
			fn(id)
		}
		return
	}
	for len(frame) > 0 {
		line := frame
		if i := bytes.IndexByte(frame, '\n'); i >= 0 {
			line, frame = frame[:i], frame[i+1:]
		} else {
			frame = nil
		}
		if id := messageID(line); id != nil {
			fn(id)
		}
	}
}

func messageID(ev []byte) []byte {
	ev = bytes.TrimSpace(ev)
	if len(ev) == 0 {
		return nil
	}
	if bytes.HasPrefix(ev, msgFramePrefix) {
		rest := ev[len(msgFramePrefix):]
		if i := bytes.IndexByte(rest, '"'); i > 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			return rest[:i]
		}
	}
	if !bytes.Contains(ev, []byte(`"message"`)) {
		return nil // presence, read: nothing to account for
	}
	var f struct {
		Type    string `json:"type"`
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	if json.Unmarshal(ev, &f) != nil || f.Type != "message" || f.Message.ID == "" {
		return nil
	}
	return []byte(f.Message.ID)
}
