package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
)

// Run is what a completed task keeps as its result (see RecordRuns): where
// it ran and how long it took, which asynq does not record itself. The
// task monitor shows it beside the completion time.
type Run struct {
	Worker    string    `json:"worker"`
	StartedAt time.Time `json:"started_at"`
	RuntimeMS float64   `json:"runtime_ms"`
}

// RecordRuns returns a middleware that writes each successful task's Run
// as its asynq result, so a completed task kept for spec.worker.
// completedRetention shows its runtime and worker. It costs one Redis
// write per task: use it only when tasks are retained.
func RecordRuns() func(asynq.Handler) asynq.Handler {
	host, _ := os.Hostname()
	worker := host + ":" + strconv.Itoa(os.Getpid())
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			start := time.Now()
			if err := next.ProcessTask(ctx, t); err != nil {
				return err
			}
			w := t.ResultWriter()
			if w == nil {
				return nil
			}
			data, err := json.Marshal(Run{Worker: worker, StartedAt: start.UTC(), RuntimeMS: float64(time.Since(start).Microseconds()) / 1000})
			if err == nil {
				// The task is done either way; a lost record only leaves
				// its history without a runtime.
				_, _ = w.Write(data)
			}
			return nil
		})
	}
}

// summary is what the task monitor shows of one message of a task.
type summary struct {
	ID         string `json:"id"`
	SenderID   int    `json:"sender_id"`
	Broadcast  bool   `json:"broadcast,omitempty"`
	Audience   int    `json:"audience"`
	BodyLength int    `json:"body_length"`
}

// SummarizePayload is the task monitor's view of a task payload: for each
// message its id, sender, audience size and body length in characters,
// never its body or client id, which are the users' private data. It has
// asynqmon's PayloadFormatter signature.
func SummarizePayload(taskType string, payload []byte) string {
	var ds []Delivery
	switch taskType {
	case TypeDeliver:
		var d Delivery
		if json.Unmarshal(payload, &d) != nil {
			return fmt.Sprintf("(undecodable delivery, %d bytes)", len(payload))
		}
		ds = []Delivery{d}
	case TypeDeliverGroup:
		var b Group
		if json.Unmarshal(payload, &b) != nil {
			return fmt.Sprintf("(undecodable delivery group, %d bytes)", len(payload))
		}
		ds = b.Deliveries
	default:
		return fmt.Sprintf("(%d bytes, not shown)", len(payload))
	}
	out := struct {
		Messages []summary `json:"messages"`
	}{Messages: make([]summary, len(ds))}
	for i, d := range ds {
		out.Messages[i] = summary{ID: d.Message.ID, SenderID: d.SenderID, Broadcast: d.Message.Broadcast, Audience: len(d.Recipients), BodyLength: utf8.RuneCountInString(d.Message.Body)}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return fmt.Sprintf("(%d bytes, not shown)", len(payload))
	}
	return string(data)
}

// SummarizeResult is the task monitor's view of a task result: a Run,
// re-encoded so that nothing but its fields is ever shown. It has
// asynqmon's ResultFormatter signature.
func SummarizeResult(_ string, result []byte) string {
	if len(result) == 0 {
		return ""
	}
	var r Run
	if json.Unmarshal(result, &r) != nil {
		return fmt.Sprintf("(%d bytes, not shown)", len(result))
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Sprintf("(%d bytes, not shown)", len(result))
	}
	return string(data)
}
