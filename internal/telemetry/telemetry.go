// Package telemetry sets up OpenTelemetry tracing for a process: W3C trace
// context propagation always (so a trace crosses the API, the asynq task
// and the push even between processes), and span export over OTLP/HTTP when
// spec.observability.tracing.otlpEndpoint is set. It also holds the pieces
// that put traces where they are read: the HTTP server span middleware and
// the log handler that stamps trace ids on log lines.
//
// It must not decide what a span means for a service: the services start
// their own spans (message.send, message.deliver, stream.push, …).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	// The semconv version the SDK v1.47.0 itself uses; only its attribute
	// names are used here, the resource carries the SDK's schema URL.
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/config"
)

// Enabled reports whether c exports spans. Without an endpoint nothing
// is recorded, so the HTTP, Redis and database instrumentation is not
// installed at all and untraced traffic pays nothing for it.
func Enabled(c config.Tracing) bool { return c.OTLPEndpoint != "" }

// Setup installs the global propagator and, when an endpoint is
// configured, a tracer provider exporting to it. The returned function
// flushes and stops the exporter and puts the previous global provider
// back.
func Setup(ctx context.Context, c config.Tracing, service, version string) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !Enabled(c) {
		return func(context.Context) error { return nil }, nil
	}
	opts, err := exporterOptions(c)
	if err != nil {
		return nil, err
	}
	res, err := Resource(ctx, service, version)
	if err != nil {
		return nil, err
	}
	// New does not connect: an endpoint that is down costs dropped spans
	// (reported through otel's error handler), never a failed start.
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(Sampler(c.SampleRatio)),
	)
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	return func(ctx context.Context) error {
		otel.SetTracerProvider(prev)
		return tp.Shutdown(ctx)
	}, nil
}

// Check builds what Setup would from c without exporting anything, so
// `messager config validate` fails where a start would.
func Check(ctx context.Context, c config.Tracing) error {
	if !Enabled(c) {
		return nil
	}
	if _, err := exporterOptions(c); err != nil {
		return err
	}
	_, err := Resource(ctx, "messager", "check")
	return err
}

func exporterOptions(c config.Tracing) ([]otlptracehttp.Option, error) {
	u, err := url.Parse(c.OTLPEndpoint)
	if err != nil {
		return nil, fmt.Errorf("spec.observability.tracing.otlpEndpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("spec.observability.tracing.otlpEndpoint: %q is not an http(s) URL", c.OTLPEndpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	// No path: the OTLP/HTTP default, /v1/traces.
	if u.Path != "" && u.Path != "/" {
		opts = append(opts, otlptracehttp.WithURLPath(u.Path))
	}
	return opts, nil
}

// Resource describes this process: the service (messager-api,
// messager-worker, …), its version, and which instance it is, so the
// spans of two pods of one Deployment are told apart. OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES override what is set here.
//
// The attributes are added schemaless and merged into the SDK's own
// detectors, so the resource never carries two schema URLs (a semconv
// package of another version than the SDK's made every process exit at
// start with "conflicting Schema URL").
func Resource(ctx context.Context, service, version string) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(
			semconv.ServiceName(service),
			semconv.ServiceVersion(version),
			semconv.ServiceInstanceID(instanceID()),
		),
		resource.WithFromEnv(),
	)
	if errors.Is(err, resource.ErrPartialResource) {
		// A detector failed (no hostname); the rest still names the process.
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	return res, nil
}

// instanceID names this process among its service's: the pod name on
// Kubernetes (env POD_NAME where the Deployment passes it, else the host
// name, which Kubernetes sets to the pod name), elsewhere the host name and
// process id, which differ for every process even when several run on one
// machine.
func instanceID() string {
	if pod := os.Getenv("POD_NAME"); pod != "" {
		return pod
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return host
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// Sampler follows the caller's sampling decision and samples new traces at
// ratio. A client span that starts a trace (a Redis command or SQL
// statement with no request, task or push around it: asynq's polling, the
// presence sweep) is never sampled: it would be a trace of one span, and
// asynq alone polls Redis hundreds of times a second.
func Sampler(ratio float64) sdktrace.Sampler {
	return sdktrace.ParentBased(rootSampler{ratio: sdktrace.TraceIDRatioBased(ratio)})
}

type rootSampler struct{ ratio sdktrace.Sampler }

func (s rootSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if p.Kind == trace.SpanKindClient {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
	}
	return s.ratio.ShouldSample(p)
}

func (s rootSampler) Description() string {
	return "DropOrphanClientSpans{" + s.ratio.Description() + "}"
}
