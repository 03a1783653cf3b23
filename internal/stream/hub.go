package stream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/events"
)

// Frame is one event ready to write: the client JSON plus what SSE needs.
type Frame struct {
	Type string
	ID   string
	Data []byte
	// Seq is the message's position in the receiving user's mailbox; 0
	// for frames that are not ordered (presence, read receipts).
	Seq int64
	// Trace, set only on a frame of a sampled trace, is the stream.push
	// its write continues (stream.write); nil costs the write nothing.
	Trace *trace.SpanContext
}

// Hub holds this pod's connections by user and delivers frames to them.
// Delivery never blocks: a connection whose buffer is full is closed (the
// client recovers with after=), so one slow client never slows the others.
type Hub struct {
	mu    sync.RWMutex
	users map[int]map[*Conn]struct{}
	// wg counts WebSocket streams served outside their request's goroutine.
	wg sync.WaitGroup
	// streams holds each stream's slot: its place under the per-user cap
	// and the session it was opened with (slots.go).
	streams slotTable
	// bufferSize bounds each connection's queue of frames.
	bufferSize int
	closed     bool

	conns *prometheus.GaugeVec
	sent  *prometheus.CounterVec
	// sentByType caches sent's counters for the known event types, so the
	// per-frame count is a map read, not a label hash and lock.
	sentByType map[string]prometheus.Counter
	slow       prometheus.Counter
	total      atomic.Int64
}

// NewHub returns an empty hub registering its metrics on reg.
func NewHub(reg prometheus.Registerer, bufferSize int) *Hub {
	h := &Hub{
		users:      map[int]map[*Conn]struct{}{},
		bufferSize: bufferSize,
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "messager_stream_connections", Help: "Open client streams on this pod by transport.",
		}, []string{"transport"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messager_stream_events_sent_total", Help: "Events written to client streams by type.",
		}, []string{"type"}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "messager_stream_slow_consumers_total", Help: "Streams closed because the client could not keep up.",
		}),
	}
	reg.MustRegister(h.conns, h.sent, h.slow)
	h.sentByType = map[string]prometheus.Counter{}
	for _, typ := range []string{events.TypeMessage, events.TypePresence, events.TypeRead, events.TypeTyping} {
		h.sentByType[typ] = h.sent.WithLabelValues(typ)
	}
	return h
}

// Deliver hands env's frame to the connections of its audience.
func (h *Hub) Deliver(env events.Envelope) { h.deliver(env, nil, true) }

// DeliverTraced is Deliver for a frame whose writes to the clients are
// spans (stream.write) under push, the span of its delivery to this pod.
func (h *Hub) DeliverTraced(env events.Envelope, push *trace.SpanContext) {
	h.deliver(env, push, true)
}

// deliver hands env's frame to its audience's connections; direct says
// whether an idle WebSocket stream may get it written at once by this
// goroutine (Conn.push), rather than by its own.
func (h *Hub) deliver(env events.Envelope, push *trace.SpanContext, direct bool) {
	f := Frame{Type: env.Type, ID: env.ID, Data: env.Frame, Trace: push}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if env.All {
		for _, set := range h.users {
			for c := range set {
				c.push(f, direct)
			}
		}
		return
	}
	positioned := len(env.Seqs) == len(env.Users)
	for i, uid := range env.Users {
		if positioned {
			f.Seq = env.Seqs[i]
		}
		for c := range h.users[uid] {
			c.push(f, direct)
		}
	}
}

// ConnectedUsers returns the ids of users with a connection on this pod.
func (h *Hub) ConnectedUsers() []int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ids := make([]int, 0, len(h.users))
	for id := range h.users {
		ids = append(ids, id)
	}
	return ids
}

// connected reports whether userID has a connection on this pod.
func (h *Hub) connected(userID int) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.users[userID]) > 0
}

// Len is the number of open connections on this pod.
func (h *Hub) Len() int { return int(h.total.Load()) }

// register adds c; it is refused after CloseAll.
func (h *Hub) register(c *Conn) bool {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false
	}
	set := h.users[c.userID]
	if set == nil {
		set = map[*Conn]struct{}{}
		h.users[c.userID] = set
	}
	set[c] = struct{}{}
	h.mu.Unlock()
	h.total.Add(1)
	h.conns.WithLabelValues(c.transport).Inc()
	return true
}

func (h *Hub) unregister(c *Conn) {
	h.mu.Lock()
	set := h.users[c.userID]
	_, present := set[c]
	delete(set, c)
	if present && len(set) == 0 {
		delete(h.users, c.userID)
	}
	h.mu.Unlock()
	if present {
		h.total.Add(-1)
		h.conns.WithLabelValues(c.transport).Dec()
	}
}

// CloseAll closes every connection and refuses new ones (shutdown).
func (h *Hub) CloseAll() { h.closeEvery(true) }

// Wait returns when every stream has ended (after CloseAll).
func (h *Hub) Wait() { h.wg.Wait() }

// Resync closes every connection without refusing new ones: used when the
// pub/sub subscription was lost, since events may have been missed; clients
// reconnect with after= and the gap is replayed from the database.
func (h *Hub) Resync() { h.closeEvery(false) }

func (h *Hub) closeEvery(refuseNew bool) {
	h.mu.Lock()
	h.closed = h.closed || refuseNew
	var all []*Conn
	for _, set := range h.users {
		for c := range set {
			all = append(all, c)
		}
	}
	h.mu.Unlock()
	for _, c := range all {
		c.close(closeGoingAway)
	}
	// A writer stuck on a client that stopped reading must not hold the
	// shutdown: it gets closeGrace, not the whole write timeout.
	h.streams.cutWrites(time.Now().Add(closeGrace))
}

// Conn is one client stream. Its queue is a slice that grows only while
// frames wait, so an idle connection costs almost nothing, and the writer
// takes everything queued at once, so a burst is written in one go.
type Conn struct {
	userID    int
	transport string
	hub       *Hub
	notify    chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	reason    atomic.Int32

	mu sync.Mutex
	// queue holds frames not yet written; limit bounds it. While the
	// connection replays history, live frames wait here unannounced.
	queue     []Frame
	limit     int
	replaying bool
	// direct, set while the stream is live on a transport that allows it,
	// lets push write a frame itself (direct.go); under mu.
	direct *directWriter

	// wmu is held by whoever writes to the client: the stream's goroutine
	// for each batch, replay, ping or close, or push for a direct write.
	// The stream's goroutine takes it before taking the queue, so a frame
	// written directly never overtakes one taken before it.
	wmu sync.Mutex
	// seq orders the stream's message frames (order.go); under wmu once
	// the stream is live.
	seq *sequencer
}

// Reasons a connection was closed by the server.
const (
	closeNone int32 = iota
	closeSlow
	closeGoingAway
)

// maxPending bounds live frames held back during a replay.
const maxPending = 10000

func newConn(h *Hub, userID int, transport string, replaying bool) *Conn {
	c := &Conn{userID: userID, transport: transport, hub: h, notify: make(chan struct{}, 1), done: make(chan struct{}), replaying: replaying, limit: h.bufferSize}
	if c.limit <= 0 {
		c.limit = defaultBuffer
	}
	if replaying {
		c.limit = maxPending
	}
	return c
}

// push queues f for the stream's goroutine or, when direct allows and the
// stream is idle, writes it (writeDirect).
func (c *Conn) push(f Frame, direct bool) {
	c.mu.Lock()
	if len(c.queue) >= c.limit {
		c.mu.Unlock()
		c.slowConsumer()
		return
	}
	if direct && len(c.queue) == 0 && c.direct != nil && f.Trace == nil && len(f.Data) <= maxDirectFrame && c.wmu.TryLock() {
		sent, pending := c.writeDirect(f)
		c.wmu.Unlock()
		if sent {
			c.mu.Unlock()
			if pending {
				c.wake()
			}
			return
		}
	}
	c.queue = append(c.queue, f)
	wake := len(c.queue) == 1 && !c.replaying
	c.mu.Unlock()
	if wake {
		c.wake()
	}
}

// wake tells the stream's goroutine there is something to write.
func (c *Conn) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// writeDirect writes f to the client from the delivering goroutine, under
// mu and wmu with nothing queued: the stream's goroutine is idle and every
// earlier frame is written. sent is false when f must be queued instead
// (it waits for a gap, or the socket took none of it); pending is true when
// the socket took only part, which the stream's goroutine must finish.
func (c *Conn) writeDirect(f Frame) (sent, pending bool) {
	write, ok := c.seq.alone(f)
	if !ok {
		return false, false
	}
	if !write { // a position already written: dropped, as admit would
		return true, false
	}
	if err := c.direct.writeText(f.Data); err != nil {
		return false, false
	}
	c.seq.passed(f)
	c.hub.countSent(f.Type)
	return true, len(c.direct.pending) > 0
}

// endDirect stops direct writes: the stream's goroutine is about to close
// the connection or stop writing to it. It waits for one in progress.
func (c *Conn) endDirect() {
	c.mu.Lock()
	c.direct = nil
	c.mu.Unlock()
}

// take returns every queued frame and leaves spare (emptied) as the new queue.
func (c *Conn) take(spare []Frame) []Frame {
	c.mu.Lock()
	q := c.queue
	c.queue = spare[:0]
	c.mu.Unlock()
	return q
}

// goLive ends the replay: later frames are announced to the writer, or
// written directly through d when it is not nil, and the frames that
// waited are returned to be written now. The caller holds wmu, so no
// direct write starts before those are written.
func (c *Conn) goLive(bufferSize int, d *directWriter) []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue, c.replaying, c.limit, c.direct = nil, false, bufferSize, d
	return q
}

func (c *Conn) slowConsumer() {
	if c.reason.CompareAndSwap(closeNone, closeSlow) {
		c.hub.slow.Inc()
	}
	c.close(closeSlow)
}

func (c *Conn) close(reason int32) {
	c.reason.CompareAndSwap(closeNone, reason)
	c.closeOnce.Do(func() { close(c.done) })
}
