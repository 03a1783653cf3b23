package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// ChildSpansOnly wraps tp so its tracers start a span only under a span
// that is recording. Client instrumentation (every Redis command, every
// SQL statement) then costs nothing outside a sampled request, task or
// push, and the shared Redis client's background traffic — asynq polls its
// queues hundreds of times a second — never starts a trace of its own.
func ChildSpansOnly(tp trace.TracerProvider) trace.TracerProvider { return childOnlyProvider{tp} }

type childOnlyProvider struct{ trace.TracerProvider }

func (p childOnlyProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childOnlyTracer{p.TracerProvider.Tracer(name, opts...)}
}

type childOnlyTracer struct{ trace.Tracer }

func (t childOnlyTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		// The caller ends what it gets; a span that does not record
		// ignores End.
		return ctx, parent
	}
	return t.Tracer.Start(ctx, name, opts...)
}
