package presence

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/messager/messager/pkg/auth"
)

type instrumentingService struct {
	online prometheus.Gauge
	next   Service
}

// NewInstrumentingService exports the size of the last online list served.
func NewInstrumentingService(reg prometheus.Registerer, s Service) Service {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "messager_presence_online_users", Help: "Users online, as of the last presence list served by this pod (plus the caller).",
	})
	reg.MustRegister(g)
	return &instrumentingService{online: g, next: s}
}

func (s *instrumentingService) Online(ctx context.Context, caller auth.Principal) ([]OnlineUser, error) {
	users, err := s.next.Online(ctx, caller)
	if err == nil {
		s.online.Set(float64(len(users) + 1))
	}
	return users, err
}

func (s *instrumentingService) Heartbeat(ctx context.Context, caller auth.Principal) error {
	return s.next.Heartbeat(ctx, caller)
}
