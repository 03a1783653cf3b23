package bench

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestSummarize_PercentilesFromTheWholeDistribution(t *testing.T) {
	h := newHist()
	// 1..1000 ms: p50 = 500 ms, p90 = 900 ms, p99 = 990 ms, max = 1000 ms.
	for i := 1; i <= 1000; i++ {
		recordDur(h, time.Duration(i)*time.Millisecond)
	}
	s := summarize(h)
	within := func(name string, got, want int64) {
		t.Helper()
		// 3 significant digits: at most 0.1% off.
		if d := got - want; d < -want/1000 || d > want/1000 {
			t.Errorf("%s = %d µs, want %d µs ± 0.1%%", name, got, want)
		}
	}
	if s.Count != 1000 {
		t.Errorf("count = %d", s.Count)
	}
	within("p50", s.P50us, 500_000)
	within("p90", s.P90us, 900_000)
	within("p99", s.P99us, 990_000)
	within("max", s.MaxUs, 1_000_000)
}

func TestSummarize_SkewedDistributionIsNotAveraged(t *testing.T) {
	h := newHist()
	for i := 0; i < 980; i++ {
		recordDur(h, time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		recordDur(h, time.Second)
	}
	s := summarize(h)
	if s.P50us > 1001 || s.P90us > 1001 {
		t.Errorf("p50 = %d, p90 = %d µs; want 1 ms", s.P50us, s.P90us)
	}
	if s.P99us < 999_000 {
		t.Errorf("p99 = %d µs; want 1 s (the slowest 2%%)", s.P99us)
	}
}

func TestRecordDur_ClampsOutOfRangeValues(t *testing.T) {
	h := newHist()
	recordDur(h, 0)
	recordDur(h, 3*time.Hour)
	if h.TotalCount() != 2 {
		t.Fatalf("recorded %d of 2 values", h.TotalCount())
	}
}

func TestShardedHist_SnapshotMergesAllShards(t *testing.T) {
	s := newShardedHist()
	for i := 0; i < 100; i++ {
		s.record(i, time.Duration(i+1)*time.Millisecond)
	}
	if got := s.snapshot().TotalCount(); got != 100 {
		t.Fatalf("snapshot count = %d, want 100", got)
	}
}

func TestMetricValue(t *testing.T) {
	text := `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 4.5056e+07
process_resident_memory_bytes_total 99
messager_stream_connections{transport="ws"} 10
messager_stream_connections{transport="sse",pod="a b"} 5 1700000000000
go_goroutines 12
`
	cases := []struct {
		name  string
		want  float64
		found bool
	}{
		{"process_resident_memory_bytes", 45056000, true},
		{"messager_stream_connections", 15, true},
		{"go_goroutines", 12, true},
		{"process_virtual_memory_bytes", 0, false},
		{"go_gorout", 0, false},
	}
	for _, tc := range cases {
		got, ok := metricValue(text, tc.name)
		if got != tc.want || ok != tc.found {
			t.Errorf("metricValue(%s) = %g, %v; want %g, %v", tc.name, got, ok, tc.want, tc.found)
		}
	}
}

func TestEachMessageID(t *testing.T) {
	cases := []struct {
		name, frame string
		want        []string
	}{
		{"fast path", `{"type":"message","message":{"id":"0190-a","sender":{"usercode":"X"},"body":"hi"}}`, []string{"0190-a"}},
		{"other key order", `{"message":{"body":"\"id\":\"fake\"","id":"m2"},"type":"message"}`, []string{"m2"}},
		{"spaces", `{ "type": "message", "message": { "id": "m3" } }`, []string{"m3"}},
		{"presence", `{"type":"presence","user":{"usercode":"X","username":"message"},"online":true}`, nil},
		{"read", `{"type":"read","message_id":"m1","reader":{"usercode":"X"}}`, nil},
		{"coalesced", "{\"type\":\"message\",\"message\":{\"id\":\"a\"}}\n{\"type\":\"presence\"}\n{\"type\":\"message\",\"message\":{\"id\":\"b\"}}", []string{"a", "b"}},
		{"garbage", `not json "message"`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			eachMessageID([]byte(tc.frame), func(id []byte) { got = append(got, string(id)) })
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("ids = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSSEStream_ParsesEvents(t *testing.T) {
	in := ": keepalive\n\n" +
		"event: presence\ndata: {\"type\":\"presence\"}\n\n" +
		"event: message\nid: m1\ndata: {\"type\":\"message\",\"message\":{\"id\":\"m1\"}}\n\n" +
		"event: message\r\ndata: {\"type\":\"message\",\"message\":{\"id\":\"m2\"}}\r\n\r\n" +
		"data: {\"type\":\"message\",\r\n" +
		"data: \"message\":{\"id\":\"m3\"}}\n\n" +
		"event: read\nid: m1\ndata: {\"type\":\"read\",\"message_id\":\"m1\"}\n\n"
	s := &sseStream{r: bufio.NewReader(bytes.NewBufferString(in))}
	var got []string
	for {
		if err := s.next(t.Context(), func(id []byte) { got = append(got, string(id)) }); err != nil {
			break
		}
	}
	if strings.Join(got, ",") != "m1,m2,m3" {
		t.Errorf("ids = %q, want m1,m2,m3", got)
	}
}

func TestKeyOf_DistinguishesIDs(t *testing.T) {
	a := keyOf([]byte("01890a5d-ac96-774b-bcce-b302099a8057"))
	b := keyOf([]byte("01890a5d-ac96-774b-bcce-b302099a8058"))
	c := keyOf([]byte("01ARZ3NDEKTSV4RRFFQ69G5FAV"))
	d := keyOf([]byte("01ARZ3NDEKTSV4RRFFQ69G5FAW"))
	if a == b || c == d || a == c {
		t.Fatal("distinct ids share a key")
	}
	if a != keyOf([]byte("01890a5d-ac96-774b-bcce-b302099a8057")) || c != keyOf([]byte("01ARZ3NDEKTSV4RRFFQ69G5FAV")) {
		t.Fatal("the same id gives different keys")
	}
}
