package messaging

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/telemetry"
)

// instrumentingService counts and traces sends; every other method passes
// through to the embedded Service.
type instrumentingService struct {
	accepted *prometheus.CounterVec
	tracer   trace.Tracer
	Service
}

// NewInstrumentingService counts accepted messages by kind and opens the
// span a message's trace starts from (the worker and the push continue it).
func NewInstrumentingService(reg prometheus.Registerer, s Service) Service {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "messager_messages_accepted_total", Help: "Messages accepted (202) by the API, by kind.",
	}, []string{"kind"})
	reg.MustRegister(c)
	return &instrumentingService{accepted: c, tracer: otel.Tracer("github.com/messager/messager/internal/messaging"), Service: s}
}

func (s *instrumentingService) Send(ctx context.Context, sender auth.Principal, in SendInput) (events.Message, bool, error) {
	// Internal: the producer span is the message's message.enqueue.
	ctx, span := s.tracer.Start(ctx, "message.send", trace.WithSpanKind(trace.SpanKindInternal))
	defer span.End()
	m, created, err := s.Service.Send(ctx, sender, in)
	if err != nil {
		telemetry.Fail(span, err)
		return m, created, err
	}
	span.SetAttributes(attribute.String("messager.message_id", m.ID), attribute.Bool("messager.broadcast", m.Broadcast))
	if created {
		kind := "direct"
		if m.Broadcast {
			kind = "broadcast"
		}
		s.accepted.WithLabelValues(kind).Inc()
	}
	return m, created, err
}
