package presence

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// onlineCollector exports how many users are online, read from the
// tracker at scrape time: one O(1) Redis call per scrape, and right even
// when nobody polls the list (clients get presence pushed).
type onlineCollector struct {
	t    *Tracker
	desc *prometheus.Desc
}

// NewOnlineCollector returns the collector of messager_presence_online_users.
// The count is global: every api pod reports the same value (aggregate
// with max, not sum). While Redis does not answer the series is absent
// rather than failing the scrape.
func NewOnlineCollector(t *Tracker) prometheus.Collector {
	return &onlineCollector{t: t, desc: prometheus.NewDesc("messager_presence_online_users", "Users online (an open stream, or a heartbeat or login within spec.presence.ttl), across all pods.", nil, nil)}
}

func (c *onlineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *onlineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := c.t.OnlineCount(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
