// Package delivery owns the path from an accepted message to its
// recipients' streams: the asynq task contract (Delivery, Group, the task
// types and queues), the API side's GroupEnqueuer, and the Worker, which
// persists each message and its recipient rows idempotently and publishes
// the delivery event. A retried task never writes a second row, and
// clients de-duplicate pushes by message id.
//
// Messages are gathered at two tiers, each with its own word:
//   - a group: deliveries the API accepted while an enqueue was in
//     flight, travelling as one TypeDeliverGroup task (group.go);
//   - a commit: messages of concurrently running task handlers, stored in
//     one transaction and published in one pipeline (commit.go).
//
// Direct messages and broadcasts travel on separate queues (QueueDirect,
// QueueBroadcast) whose priorities come from spec.worker.queues, so a flood
// of broadcasts never starves direct messages.
package delivery
