package bench

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms hold microseconds from 1 µs to 1 h at 3 significant digits:
// every percentile is read from the full distribution, never averaged.
const (
	histMinMicros = 1
	histMaxMicros = int64(time.Hour / time.Microsecond)
	histSigFigs   = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
}

// recordDur records d in microseconds, clamped into the histogram's range
// (a value outside it would otherwise be dropped silently).
func recordDur(h *hdrhistogram.Histogram, d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < histMinMicros {
		us = histMinMicros
	}
	if us > histMaxMicros {
		us = histMaxMicros
	}
	_ = h.RecordValue(us) // cannot fail: clamped into range
}

// LatencySummary is one latency distribution, in microseconds.
type LatencySummary struct {
	Count  int64   `json:"count"`
	P50us  int64   `json:"p50_us"`
	P90us  int64   `json:"p90_us"`
	P99us  int64   `json:"p99_us"`
	P999us int64   `json:"p999_us"`
	MaxUs  int64   `json:"max_us"`
	MeanUs float64 `json:"mean_us"`
}

func summarize(h *hdrhistogram.Histogram) LatencySummary {
	if h == nil || h.TotalCount() == 0 {
		return LatencySummary{}
	}
	return LatencySummary{
		Count:  h.TotalCount(),
		P50us:  h.ValueAtQuantile(50),
		P90us:  h.ValueAtQuantile(90),
		P99us:  h.ValueAtQuantile(99),
		P999us: h.ValueAtQuantile(99.9),
		MaxUs:  h.Max(),
		MeanUs: h.Mean(),
	}
}

// lockedHist is a histogram safe for concurrent recording.
type lockedHist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newLockedHist() *lockedHist { return &lockedHist{h: newHist()} }

func (l *lockedHist) record(d time.Duration) {
	l.mu.Lock()
	recordDur(l.h, d)
	l.mu.Unlock()
}

func (l *lockedHist) mergeInto(dst *hdrhistogram.Histogram) {
	l.mu.Lock()
	dst.Merge(l.h)
	l.mu.Unlock()
}

// shardedHist spreads concurrent recorders (one per connection reader)
// over several locks so a broadcast arriving on every connection at once
// does not serialize on one mutex.
type shardedHist struct {
	shards [16]lockedHist
}

func newShardedHist() *shardedHist {
	s := &shardedHist{}
	for i := range s.shards {
		s.shards[i].h = newHist()
	}
	return s
}

func (s *shardedHist) record(shard int, d time.Duration) {
	s.shards[shard&(len(s.shards)-1)].record(d)
}

// snapshot merges every shard into a fresh histogram.
func (s *shardedHist) snapshot() *hdrhistogram.Histogram {
	h := newHist()
	for i := range s.shards {
		s.shards[i].mergeInto(h)
	}
	return h
}

// errorCounts counts failed requests by HTTP status ("net" for transport
// errors that never got a status).
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int64
	n  int64
}

func (e *errorCounts) add(key string) {
	e.mu.Lock()
	if e.m == nil {
		e.m = map[string]int64{}
	}
	e.m[key]++
	e.n++
	e.mu.Unlock()
}

func (e *errorCounts) total() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

func (e *errorCounts) snapshot() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int64, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}
