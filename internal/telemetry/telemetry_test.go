package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/config"
)

func TestResource_MergesWithTheSDKAndNamesTheInstance(t *testing.T) {
	t.Setenv("POD_NAME", "messager-api-7d9f-x2k4q")
	res, err := Resource(context.Background(), "messager-api", "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	// The merge that used to fail at every start.
	if _, err := resource.Merge(resource.Default(), res); err != nil {
		t.Fatalf("resource does not merge with the SDK's default: %v", err)
	}
	got := map[attribute.Key]string{}
	for _, kv := range res.Attributes() {
		got[kv.Key] = kv.Value.Emit()
	}
	for k, want := range map[attribute.Key]string{
		"service.name": "messager-api", "service.version": "1.2.3", "service.instance.id": "messager-api-7d9f-x2k4q",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if got["host.name"] == "" {
		t.Errorf("no host.name: %v", got)
	}
}

func TestCheck_RefusesWhatSetupWould(t *testing.T) {
	for endpoint, ok := range map[string]bool{
		"":                               true,
		"http://otel-collector:4318":     true,
		"https://collector.example/v1/x": true,
		"otel-collector:4318":            false,
		"grpc://otel-collector:4317":     false,
	} {
		err := Check(context.Background(), config.Tracing{OTLPEndpoint: endpoint, SampleRatio: 1})
		if (err == nil) != ok {
			t.Errorf("Check(%q) = %v, want ok=%v", endpoint, err, ok)
		}
	}
}

func TestSampler_NeverStartsATraceWithAClientSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(Sampler(1)), sdktrace.WithSpanProcessor(rec))
	tr := tp.Tracer("test")
	_, orphan := tr.Start(context.Background(), "evalsha", trace.WithSpanKind(trace.SpanKindClient))
	if orphan.IsRecording() {
		t.Error("a client span without a parent was sampled")
	}
	ctx, server := tr.Start(context.Background(), "POST /x", trace.WithSpanKind(trace.SpanKindServer))
	_, child := tr.Start(ctx, "evalsha", trace.WithSpanKind(trace.SpanKindClient))
	if !server.IsRecording() || !child.IsRecording() {
		t.Error("a request and its client spans were not sampled at ratio 1")
	}
	_, internal := tp.Tracer("x").Start(context.Background(), "y")
	if !internal.IsRecording() {
		t.Error("an internal root span was not sampled at ratio 1")
	}
	noneTP := sdktrace.NewTracerProvider(sdktrace.WithSampler(Sampler(0)))
	if _, s := noneTP.Tracer("t").Start(context.Background(), "POST /x", trace.WithSpanKind(trace.SpanKindServer)); s.IsRecording() {
		t.Error("ratio 0 sampled a new trace")
	}
}

func TestChildSpansOnly_StartsSpansOnlyUnderARecordingSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	clients := ChildSpansOnly(tp).Tracer("redis")
	_, s := clients.Start(context.Background(), "get")
	s.End()
	ctx, parent := tp.Tracer("app").Start(context.Background(), "message.deliver")
	_, c := clients.Start(ctx, "publish")
	c.End()
	parent.End()
	var names []string
	for _, sp := range rec.Ended() {
		names = append(names, sp.Name())
	}
	if len(names) != 2 || names[0] != "publish" || names[1] != "message.deliver" {
		t.Fatalf("spans = %v, want [publish message.deliver]", names)
	}
	if rec.Ended()[0].Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Error("the client span is not under its parent")
	}
}

func TestLogHandler_StampsTraceAndSpanIDs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("service", "messaging")
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "POST /api/v1/messages")
	logger.InfoContext(ctx, "traced")
	logger.Info("untraced")
	span.End()

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("log = %s", buf.Bytes())
	}
	var traced, untraced map[string]any
	if err := json.Unmarshal(lines[0], &traced); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &untraced); err != nil {
		t.Fatal(err)
	}
	sc := span.SpanContext()
	if traced["trace_id"] != sc.TraceID().String() || traced["span_id"] != sc.SpanID().String() || traced["service"] != "messaging" {
		t.Errorf("traced line = %v, want trace_id %s span_id %s", traced, sc.TraceID(), sc.SpanID())
	}
	if _, ok := untraced["trace_id"]; ok {
		t.Errorf("untraced line has a trace_id: %v", untraced)
	}
}
