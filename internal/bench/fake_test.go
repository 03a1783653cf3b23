package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// fakeServer is a messager stand-in that speaks the public API the tool
// uses (register, login, presence, messages, history, stream over
// WebSocket and SSE, /metrics) and misbehaves on purpose when told to.
type fakeServer struct {
	srv *httptest.Server

	mu     sync.Mutex
	users  map[string]*fakeUser // by username
	byCode map[string]*fakeUser
	tokens map[string]*fakeUser
	conns  map[*fakeConn]bool
	seq    int

	// copies decides how many times message seq is written to recipient
	// connection c: 0 drops it, 2 repeats it. nil: always 1.
	copies func(seq int, c *fakeConn) int
	// leakTo, when set, also receives every DM (as if routing were wrong).
	leakTo string
	// histDup writes every n-th message twice into the recipient's history.
	histDup int
	// rejectEvery answers every n-th POST /api/v1/messages with 429.
	rejectEvery int
	// cpuPerPost is the CPU seconds each POST /api/v1/messages adds to
	// the fake's process_cpu_seconds_total.
	cpuPerPost float64
	// metricsElsewhere answers /metrics on the public port with 404, as a
	// server with spec.observability.metricsAddr does; admin serves them.
	metricsElsewhere bool
	admin            *httptest.Server
	posts            atomic.Int64
	rejected         atomic.Int64

	dropped  atomic.Int64 // recipient deliveries not written
	repeated atomic.Int64 // extra recipient deliveries written
	sent     atomic.Int64 // recipient deliveries written once or more
	histDups atomic.Int64
}

type fakeUser struct {
	name, code, pass string
	hist             []string // message ids, oldest first
}

type fakeConn struct {
	u  *fakeUser
	ch chan fakeFrame
}

type fakeFrame struct {
	id   string
	data []byte
}

func newFakeServer(t testing.TB) *fakeServer {
	f := &fakeServer{
		users:  map[string]*fakeUser{},
		byCode: map[string]*fakeUser{},
		tokens: map[string]*fakeUser{},
		conns:  map[*fakeConn]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/auth/register", f.register)
	mux.HandleFunc("POST /api/v1/auth/login", f.login)
	mux.HandleFunc("GET /api/v1/presence", f.presence)
	mux.HandleFunc("POST /api/v1/messages", f.send)
	mux.HandleFunc("GET /api/v1/messages", f.history)
	mux.HandleFunc("GET /api/v1/stream", f.ws)
	mux.HandleFunc("GET /api/v1/events", f.sse)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if f.metricsElsewhere {
			fakeJSON(w, 404, map[string]string{"title": "no such resource"})
			return
		}
		f.metrics(w, r)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.admin = httptest.NewServer(http.HandlerFunc(f.metrics))
	t.Cleanup(f.admin.Close)
	return f
}

func fakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeServer) auth(r *http.Request) *fakeUser {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
}

func (f *fakeServer) register(w http.ResponseWriter, r *http.Request) {
	var in registerReq
	if json.NewDecoder(r.Body).Decode(&in) != nil || in.Username == "" || !strings.Contains(in.Email, "@") || len(in.Password) < 8 {
		fakeJSON(w, 422, map[string]string{"title": "invalid"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users[in.Username] != nil {
		fakeJSON(w, 409, map[string]string{"title": "taken"})
		return
	}
	u := &fakeUser{name: in.Username, pass: in.Password, code: fmt.Sprintf("U%05d", len(f.users))}
	f.users[u.name], f.byCode[u.code] = u, u
	fakeJSON(w, 201, map[string]any{"user": map[string]string{"id": u.code, "username": u.name, "usercode": u.code}})
}

func (f *fakeServer) login(w http.ResponseWriter, r *http.Request) {
	var in loginReq
	_ = json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[in.Username]
	if u == nil || u.pass != in.Password {
		fakeJSON(w, 401, map[string]string{"title": "unauthorized"})
		return
	}
	tok := randomHex(16)
	f.tokens[tok] = u
	fakeJSON(w, 200, map[string]any{"token": tok, "user": map[string]string{"username": u.name, "usercode": u.code}})
}

func (f *fakeServer) presence(w http.ResponseWriter, r *http.Request) {
	me := f.auth(r)
	if me == nil {
		fakeJSON(w, 401, nil)
		return
	}
	f.mu.Lock()
	seen := map[*fakeUser]bool{}
	var online []map[string]string
	for c := range f.conns {
		if c.u != me && !seen[c.u] {
			seen[c.u] = true
			online = append(online, map[string]string{"usercode": c.u.code, "username": c.u.name})
		}
	}
	f.mu.Unlock()
	fakeJSON(w, 200, map[string]any{"online": online})
}

func (f *fakeServer) send(w http.ResponseWriter, r *http.Request) {
	me := f.auth(r)
	if me == nil {
		fakeJSON(w, 401, nil)
		return
	}
	if n := f.posts.Add(1); f.rejectEvery > 0 && n%int64(f.rejectEvery) == 0 {
		f.rejected.Add(1)
		w.Header().Set("Retry-After", "1")
		fakeJSON(w, 429, map[string]string{"title": "slow down"})
		return
	}
	var in sendReq
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fakeJSON(w, 400, nil)
		return
	}
	f.mu.Lock()
	var to *fakeUser
	if in.To != "" {
		if to = f.byCode[in.To]; to == nil {
			f.mu.Unlock()
			fakeJSON(w, 404, nil)
			return
		}
	}
	f.seq++
	seq := f.seq
	id := uuid.Must(uuid.NewV7()).String()
	msg := map[string]any{
		"id": id, "sender": map[string]string{"usercode": me.code, "username": me.name},
		"body": in.Body, "broadcast": to == nil, "to": nil,
		"created_at": time.Now().UTC().Format(time.RFC3339), "status": "delivered",
	}
	if to != nil {
		msg["to"] = to.code
	}
	data, _ := json.Marshal(map[string]any{"type": "message", "message": msg})
	frame := fakeFrame{id: id, data: data}

	// Persist: sender and recipients (online now, for a broadcast).
	me.hist = append(me.hist, id)
	recipients := map[*fakeUser]bool{}
	if to != nil {
		recipients[to] = true
	} else {
		for c := range f.conns {
			if c.u != me {
				recipients[c.u] = true
			}
		}
	}
	for u := range recipients {
		u.hist = append(u.hist, id)
		if f.histDup > 0 && seq%f.histDup == 0 {
			u.hist = append(u.hist, id)
			f.histDups.Add(1)
		}
	}
	var targets []*fakeConn
	for c := range f.conns {
		targets = append(targets, c)
	}
	f.mu.Unlock()

	deliver := func() {
		for _, c := range targets {
			n := 0
			switch {
			case recipients[c.u]:
				n = 1
				if f.copies != nil {
					n = f.copies(seq, c)
				}
				switch {
				case n == 0:
					f.dropped.Add(1)
				case n > 1:
					f.repeated.Add(int64(n - 1))
				}
				if n > 0 {
					f.sent.Add(1)
				}
			case c.u == me, f.leakTo != "" && to != nil && c.u.code == f.leakTo:
				n = 1
			}
			for i := 0; i < n; i++ {
				c.ch <- frame
			}
		}
	}
	// Half the messages reach the streams before the 202 is written, as
	// a fast real server can: the tool must match them all the same.
	if seq%2 == 0 {
		deliver()
	} else {
		defer func() { go deliver() }()
	}
	fakeJSON(w, 202, map[string]any{"message": map[string]any{"id": id, "status": "queued"}})
}

func (f *fakeServer) history(w http.ResponseWriter, r *http.Request) {
	me := f.auth(r)
	if me == nil {
		fakeJSON(w, 401, nil)
		return
	}
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit < 1 || limit > 200 {
		fakeJSON(w, 422, nil)
		return
	}
	before := r.URL.Query().Get("before")
	f.mu.Lock()
	end := len(me.hist)
	if before != "" {
		end = -1
		for i, id := range me.hist {
			if id == before {
				end = i
				break
			}
		}
		if end < 0 {
			f.mu.Unlock()
			fakeJSON(w, 422, nil)
			return
		}
	}
	var page []map[string]string
	for i := end - 1; i >= 0 && len(page) < limit; i-- {
		page = append(page, map[string]string{"id": me.hist[i]})
	}
	f.mu.Unlock()
	var next any
	if end-len(page) > 0 {
		next = page[len(page)-1]["id"]
	}
	fakeJSON(w, 200, map[string]any{"messages": page, "next_before": next})
}

func (f *fakeServer) attach(u *fakeUser) *fakeConn {
	c := &fakeConn{u: u, ch: make(chan fakeFrame, 1<<14)}
	f.mu.Lock()
	f.conns[c] = true
	f.mu.Unlock()
	return c
}

func (f *fakeServer) detach(c *fakeConn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

func (f *fakeServer) ws(w http.ResponseWriter, r *http.Request) {
	me := f.auth(r)
	if me == nil {
		fakeJSON(w, 401, nil)
		return
	}
	// Subscribe before the handshake completes: a message posted once the
	// client sees the stream open must reach it.
	c := f.attach(me)
	defer f.detach(c)
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ctx := ws.CloseRead(r.Context())
	presence := []byte(`{"type":"presence","user":{"usercode":"` + me.code + `","username":"` + me.name + `"},"online":true}`)
	if ws.Write(ctx, websocket.MessageText, presence) != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case fr := <-c.ch:
			if ws.Write(ctx, websocket.MessageText, fr.data) != nil {
				return
			}
		}
	}
}

func (f *fakeServer) sse(w http.ResponseWriter, r *http.Request) {
	me := f.auth(r)
	if me == nil {
		fakeJSON(w, 401, nil)
		return
	}
	c := f.attach(me)
	defer f.detach(c)
	fl := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	fmt.Fprintf(w, ": hello\n\nevent: presence\ndata: {\"type\":\"presence\",\"online\":true}\n\n")
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case fr := <-c.ch:
			fmt.Fprintf(w, "event: message\nid: %s\ndata: %s\n\n", fr.id, fr.data)
			fl.Flush()
		}
	}
}

// fakeRSSPerConn is what each open stream adds to the fake's reported RSS.
const fakeRSSPerConn = 20 << 10

// fakeHeapPerConn is what each open stream adds to the fake's Go heap; it
// also adds 8 KiB of stack and two goroutines.
const fakeHeapPerConn = 6 << 10

func (f *fakeServer) metrics(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := len(f.conns)
	f.mu.Unlock()
	fmt.Fprintf(w, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\n")
	fmt.Fprintf(w, "process_resident_memory_bytes %g\n", float64(50<<20+n*fakeRSSPerConn))
	fmt.Fprintf(w, "go_memstats_heap_inuse_bytes %d\ngo_memstats_stack_inuse_bytes %d\ngo_goroutines %d\n", 8<<20+n*fakeHeapPerConn, 1<<20+n*8192, 10+2*n)
	fmt.Fprintf(w, "messager_stream_connections{transport=\"ws\"} %d\nmessager_stream_connections{transport=\"sse\"} 0\n", n)
	fmt.Fprintf(w, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %g\n", 3.5+float64(f.posts.Load())*f.cpuPerPost)
}
