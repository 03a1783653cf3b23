package delivery

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// Task outcomes counted in messager_tasks_total. asynq's own failed
// counter counts attempts, so an outage that loses nothing still reads as
// failures; these say how each attempt ended.
const (
	// OutcomeSucceeded: the handler returned nil.
	OutcomeSucceeded = "succeeded"
	// OutcomeRetried: the attempt failed and the task will run again.
	OutcomeRetried = "retried"
	// OutcomeArchived: the task failed for good (retries exhausted, or
	// SkipRetry) and waits in the archive for an operator.
	OutcomeArchived = "archived"
)

// Histogram buckets, chosen per histogram for what it measures.
var (
	// deliveryBuckets: acceptance to publication is milliseconds when all
	// is well, but a message that waited out an outage (tasks are retried
	// for about twenty minutes, and a stopped worker pool leaves them
	// pending for as long as it is down) takes minutes to hours.
	deliveryBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600}
	// taskTimeBuckets: one task is one transaction and one publish.
	taskTimeBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	// taskSizeBuckets count messages, whole numbers. Boundaries halfway
	// between integers put each small size in a bucket of its own with the
	// size at its centre, so histogram_quantile, which interpolates within
	// a bucket, reads tasks of exactly 1 message as 1 (a bucket le="1" would have
	// them read as 0.5) and of exactly 2 as 2. le="1.5" is "tasks of 1 message".
	taskSizeBuckets = []float64{0.5, 1.5, 2.5, 4.5, 8.5, 16.5, 32.5, 64.5, 128.5, 256.5}
)

// TaskMetrics counts task outcomes by type and says that the process's
// task servers run. Use Middleware on the asynq ServeMux and Failed as
// (or from) the asynq Config's ErrorHandler.
type TaskMetrics struct {
	outcomes *prometheus.CounterVec
	// byType caches the counters of the known task types, so counting a
	// task is a map read, not a label hash.
	byType map[string]*[3]prometheus.Counter
	up     prometheus.Gauge
}

var outcomeNames = [3]string{OutcomeSucceeded, OutcomeRetried, OutcomeArchived}

// NewTaskMetrics registers messager_tasks_total, with every known (type,
// outcome) at zero so that increase() sees the first event, and
// messager_worker_up (0 until SetUp(true)) on reg.
func NewTaskMetrics(reg prometheus.Registerer) *TaskMetrics {
	m := &TaskMetrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messager_tasks_total", Help: "Task attempts by task type and how they ended: succeeded, retried (failed, will run again) or archived (failed for good).",
		}, []string{"type", "outcome"}),
		byType: map[string]*[3]prometheus.Counter{},
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "messager_worker_up", Help: "1 while this process's task servers are consuming tasks.",
		}),
	}
	for _, typ := range []string{TypeDeliver, TypeDeliverGroup} {
		var cs [3]prometheus.Counter
		for i, o := range outcomeNames {
			cs[i] = m.outcomes.WithLabelValues(typ, o)
		}
		m.byType[typ] = &cs
	}
	reg.MustRegister(m.outcomes, m.up)
	return m
}

// SetUp records whether the task servers run.
func (m *TaskMetrics) SetUp(up bool) {
	if up {
		m.up.Set(1)
	} else {
		m.up.Set(0)
	}
}

func (m *TaskMetrics) count(typ string, outcome int) {
	if cs, ok := m.byType[typ]; ok {
		cs[outcome].Inc()
		return
	}
	m.outcomes.WithLabelValues(typ, outcomeNames[outcome]).Inc()
}

// Middleware counts the tasks next handles successfully; failures are
// counted by Failed, which alone knows whether asynq retries them.
func (m *TaskMetrics) Middleware(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		err := next.ProcessTask(ctx, t)
		if err == nil {
			m.count(t.Type(), 0)
		}
		return err
	})
}

// Failed counts a failed attempt as retried or archived, as asynq decides
// it: archived once the retries are used up or the error wraps SkipRetry.
// asynq calls its ErrorHandler for every failed attempt, including a
// handler that overran its deadline.
func (m *TaskMetrics) Failed(ctx context.Context, t *asynq.Task, err error) {
	if errors.Is(err, asynq.RevokeTask) {
		return // neither retried nor archived: dropped on purpose
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried >= maxRetry || errors.Is(err, asynq.SkipRetry) {
		m.count(t.Type(), 2)
		return
	}
	m.count(t.Type(), 1)
}
