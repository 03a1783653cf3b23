package app

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/messager/messager/internal/config"
)

// otlpReceiver is an OTLP/HTTP trace receiver, the part of a collector a
// process exports to: it decodes ExportTraceServiceRequest protobufs and
// keeps every span with its resource.
type otlpReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	spans []receivedSpan
}

// receivedSpan is one span as the receiver got it.
type receivedSpan struct {
	*tracepb.Span
	resource map[string]string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the endpoint to configure as spec.observability.tracing.otlpEndpoint.
func (r *otlpReceiver) URL() string { return r.srv.URL }

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.Error(w, "not an OTLP trace export: "+req.Method+" "+req.URL.Path, http.StatusNotFound)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var export collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &export); err != nil {
		r.t.Errorf("undecodable OTLP export (%s): %v", req.Header.Get("Content-Type"), err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range export.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				r.spans = append(r.spans, receivedSpan{Span: sp, resource: res})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// received returns the spans so far.
func (r *otlpReceiver) received() []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedSpan(nil), r.spans...)
}

// trace returns the spans of one trace, ordered by start time.
func (r *otlpReceiver) trace(id []byte) []receivedSpan {
	var out []receivedSpan
	for _, s := range r.received() {
		if bytes.Equal(s.GetTraceId(), id) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetStartTimeUnixNano() < out[j].GetStartTimeUnixNano() })
	return out
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.GetStringValue()
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = strconv.FormatInt(v.GetIntValue(), 10)
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = strconv.FormatBool(v.GetBoolValue())
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}

// withOTLP points a process's traces at rcv, sampling every trace, and
// makes its batch exporter send within milliseconds rather than seconds.
func withOTLP(t *testing.T, rcv *otlpReceiver) func(*config.Config) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	return func(c *config.Config) {
		c.Spec.Observability.Tracing.OTLPEndpoint = rcv.URL()
		c.Spec.Observability.Tracing.SampleRatio = 1
	}
}

// A process with an OTLP endpoint starts (it used to exit at once on a
// resource schema conflict) and exports its spans to the endpoint, on a
// resource that tells its pods apart.
func TestTracing_ProcessWithOTLPEndpointStartsAndExports(t *testing.T) {
	rcv := newOTLPReceiver(t)
	// Embedded defaults: `messager all` with nothing configured but tracing.
	a := startApp(t, ModeAll, backends{}, withOTLP(t, rcv))
	newUser(t, a, "exported")
	var got []receivedSpan
	waitFor(t, func() bool {
		got = rcv.received()
		return len(got) > 0
	}, "a span at the OTLP receiver")
	res := got[0].resource
	if res["service.name"] != "messager-all" {
		t.Errorf("service.name = %q, want messager-all", res["service.name"])
	}
	for _, k := range []string{"service.version", "service.instance.id", "host.name", "telemetry.sdk.language"} {
		if res[k] == "" {
			t.Errorf("resource has no %s: %v", k, res)
		}
	}
}

// spanLine renders a span for the test log: name, parent, duration.
func spanLine(s receivedSpan, names map[string]string) string {
	parent := "(root)"
	if p := hex.EncodeToString(s.GetParentSpanId()); p != "" {
		parent = names[p]
		if parent == "" {
			parent = "?" + p
		}
	}
	d := time.Duration(s.GetEndTimeUnixNano() - s.GetStartTimeUnixNano())
	return strings.Join([]string{s.GetName(), "parent=" + parent, d.Round(time.Microsecond).String()}, "  ")
}

// spanNames maps span ids (hex) to span names.
func spanNames(spans []receivedSpan) map[string]string {
	m := make(map[string]string, len(spans))
	for _, s := range spans {
		m[hex.EncodeToString(s.GetSpanId())] = s.GetName()
	}
	return m
}

// lockedBuffer is a log destination shared by the app's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes the JSON log lines written so far.
func (b *lockedBuffer) lines(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// A DM sent to a user with an open WebSocket, on a process exporting to
// an OTLP endpoint, arrives at the endpoint as one trace: the HTTP
// request, the send, the enqueue (with its Redis call), the worker's
// delivery (with its retry count and its database writes), the publish
// (with its Redis PUBLISH), the push to the pod and the write to the
// recipient's socket, each under the one before; and the request's log
// lines carry the trace's id.
func TestTracing_DMIsOneConnectedTraceAtTheOTLPEndpoint(t *testing.T) {
	rcv := newOTLPReceiver(t)
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := startAppLogging(t, ModeAll, newBackends(t), logger, withOTLP(t, rcv))
	sender, reader := newUser(t, a, "tracesender"), newUser(t, a, "tracereader")
	st := reader.stream("")
	waitStreams(t, a, 1)
	m := sender.send(reader.user.Usercode, "traced")
	if got, ok := st.nextMessage(deliveryTimeout); !ok || got.ID != m.ID {
		t.Fatal("message not delivered")
	}

	chain := []string{"POST /api/v1/messages", "message.send", "message.enqueue", "message.deliver", "stream.publish", "stream.push", "stream.write"}
	var spans []receivedSpan
	byName := map[string]receivedSpan{}
	waitFor(t, func() bool {
		var traceID []byte
		for _, s := range rcv.received() {
			if s.GetName() == "message.send" && attrs(s.GetAttributes())["messager.message_id"] == m.ID {
				traceID = s.GetTraceId()
			}
		}
		if traceID == nil {
			return false
		}
		spans = rcv.trace(traceID)
		clear(byName)
		for _, s := range spans {
			if _, seen := byName[s.GetName()]; !seen {
				byName[s.GetName()] = s
			}
		}
		for _, name := range chain {
			if _, ok := byName[name]; !ok {
				return false
			}
		}
		return true
	}, "the DM's trace with every hop")

	names := spanNames(spans)
	for _, s := range spans {
		t.Log(spanLine(s, names))
	}
	parentName := func(s receivedSpan) string { return names[hex.EncodeToString(s.GetParentSpanId())] }

	if root := byName[chain[0]]; len(root.GetParentSpanId()) != 0 || root.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("%s: parent %x, kind %v; want a root server span", chain[0], root.GetParentSpanId(), root.GetKind())
	}
	for i := 1; i < len(chain); i++ {
		if got := parentName(byName[chain[i]]); got != chain[i-1] {
			t.Errorf("parent of %s is %q, want %q", chain[i], got, chain[i-1])
		}
	}
	for _, s := range spans {
		if len(s.GetParentSpanId()) > 0 && parentName(s) == "" {
			t.Errorf("span %s has a parent outside the trace: the trace is not connected", s.GetName())
		}
	}
	if got := attrs(byName["message.deliver"].GetAttributes())["messaging.retry_count"]; got != "0" {
		t.Errorf("message.deliver messaging.retry_count = %q, want 0", got)
	}
	if got := attrs(byName["stream.write"].GetAttributes())["messager.message_id"]; got != m.ID {
		t.Errorf("stream.write is for message %q, want %s", got, m.ID)
	}

	// Client spans under the hops that make them.
	under := func(parent, system string) bool {
		for _, s := range spans {
			a := attrs(s.GetAttributes())
			sys := a["db.system"] + a["db.system.name"]
			if s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && parentName(s) == parent && strings.Contains(system, sys) && sys != "" {
				return true
			}
		}
		return false
	}
	for _, c := range []struct{ parent, system string }{
		{"message.enqueue", "redis"},             // asynq's enqueue script
		{"message.deliver", "sqlite postgresql"}, // the message and its recipient rows
		{"stream.publish", "redis"},              // PUBLISH
	} {
		if !under(c.parent, c.system) {
			t.Errorf("no %s client span under %s", c.system, c.parent)
		}
	}

	// Every log line of the traced request names its trace.
	traceID := hex.EncodeToString(byName[chain[0]].GetTraceId())
	var access, send bool
	for _, l := range logs.lines(t) {
		switch {
		case l["msg"] == "request" && l["method"] == "POST" && l["route"] == "/api/v1/messages":
			access = true
			if l["trace_id"] != traceID || l["span_id"] != hex.EncodeToString(byName[chain[0]].GetSpanId()) {
				t.Errorf("access log line %v: want trace_id %s and the server span's span_id", l, traceID)
			}
		case l["msg"] == "send" && l["message_id"] == m.ID:
			// The logging middleware wraps the span-making one, so it
			// logs in the server span.
			send = true
			if l["trace_id"] != traceID || l["span_id"] != hex.EncodeToString(byName[chain[0]].GetSpanId()) {
				t.Errorf("send log line %v: want trace_id %s and the server span's span_id", l, traceID)
			}
		}
	}
	if !access || !send {
		t.Errorf("log lines of the send not found (access log %v, service log %v)", access, send)
	}
}
