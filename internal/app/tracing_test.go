package app

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// One trace follows a message from the API through the queue and the
// worker to the push on the recipient's pod and the write to its socket,
// across processes (an api and a worker), with a tracer installed in the
// process rather than an exporter (see otlp_test.go for the exporter).
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
	waitStreams(t, api, 1)
	m := s.send(r.user.Usercode, "traced")
	if got, ok := st.nextMessage(deliveryTimeout); !ok || got.ID != m.ID {
		t.Fatal("message not delivered")
	}
	chain := []string{"message.send", "message.enqueue", "message.deliver", "stream.publish", "stream.push", "stream.write"}
	spans := map[string]sdktrace.ReadOnlySpan{}
	var missing []string
	deadline := time.Now().Add(deliveryTimeout)
	for {
		for _, sp := range rec.Ended() {
			spans[sp.Name()] = sp
		}
		missing = missing[:0]
		for _, name := range chain {
			if spans[name] == nil {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the message's trace lacks %v", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	id := spans[chain[0]].SpanContext().TraceID()
	for i, name := range chain[1:] {
		sp, parent := spans[name], spans[chain[i]]
		if sp.SpanContext().TraceID() != id {
			t.Errorf("%s is in trace %s, want %s", name, sp.SpanContext().TraceID(), id)
		}
		if sp.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s is not under %s", name, chain[i])
		}
	}
}
