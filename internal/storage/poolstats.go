package storage

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// redisPoolCollector exports go-redis's connection pool statistics, read
// at scrape time (PoolStats is a few atomic loads).
type redisPoolCollector struct {
	rdb                                         redis.UniversalClient
	conns, hits, misses, timeouts, waits, stale *prometheus.Desc
}

// NewRedisPoolCollector returns a collector of rdb's pool statistics:
// messager_redis_pool_connections{state="total"|"idle"} and the counters
// messager_redis_pool_{hits,misses,timeouts,waits,stale}_total. A pool
// with no idle connections and growing waits or timeouts is too small for
// the load (go-redis PoolSize).
func NewRedisPoolCollector(rdb redis.UniversalClient) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("messager_redis_pool_"+name, help, labels, nil)
	}
	return &redisPoolCollector{
		rdb:      rdb,
		conns:    d("connections", "Redis connections in this process's pool, by state: total (open) and idle.", "state"),
		hits:     d("hits_total", "Times a free connection was found in the pool."),
		misses:   d("misses_total", "Times no free connection was in the pool and one was dialled or waited for."),
		timeouts: d("timeouts_total", "Times a command gave up waiting for a pool connection."),
		waits:    d("waits_total", "Times a command waited for a pool connection."),
		stale:    d("stale_total", "Stale connections removed from the pool."),
	}
}

func (c *redisPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.hits, c.misses, c.timeouts, c.waits, c.stale} {
		ch <- d
	}
}

func (c *redisPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.rdb.PoolStats()
	if s == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.TotalConns), "total")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.IdleConns), "idle")
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(c.timeouts, prometheus.CounterValue, float64(s.Timeouts))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.WaitCount))
	ch <- prometheus.MustNewConstMetric(c.stale, prometheus.CounterValue, float64(s.StaleConns))
}
