package app

import (
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// One trace follows a message from the API through the queue and the
// worker to the push on the recipient's pod.
func TestTracing_MessageTraceSpansAPIWorkerAndPush(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	b := newBackends(t)
	api := startApp(t, ModeAPI, b)
	startApp(t, ModeWorker, b)
	s, r := newUser(t, api, "traces"), newUser(t, api, "tracer")
	st := r.stream("")
	m := s.send(r.user.Usercode, "traced")
	if got, ok := st.nextMessage(deliveryTimeout); !ok || got.ID != m.ID {
		t.Fatal("message not delivered")
	}
	spans := map[string]sdktrace.ReadOnlySpan{}
	waitFor(t, func() bool {
		for _, sp := range rec.Ended() {
			spans[sp.Name()] = sp
		}
		return len(spans) >= 3
	}, "three spans")
	send, deliver, push := spans["message.send"], spans["message.deliver"], spans["stream.push"]
	if send == nil || deliver == nil || push == nil {
		t.Fatalf("spans recorded: %v", keys(spans))
	}
	id := send.SpanContext().TraceID()
	if deliver.SpanContext().TraceID() != id || push.SpanContext().TraceID() != id {
		t.Fatalf("spans are not one trace: send %s deliver %s push %s", id, deliver.SpanContext().TraceID(), push.SpanContext().TraceID())
	}
	if deliver.Parent().SpanID() != send.SpanContext().SpanID() || push.Parent().SpanID() != deliver.SpanContext().SpanID() {
		t.Fatal("spans are not chained send → deliver → push")
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
