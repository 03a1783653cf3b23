// Package messaging owns sending messages and reading history. The API side
// (Service) validates a message, gives it a time-sortable id and enqueues an
// asynq task; the worker side (Worker) persists the message and its
// recipients idempotently and publishes the delivery event. A retried task
// never writes a second row, and clients de-duplicate pushes by message id.
//
// Direct messages and broadcasts travel on separate queues (QueueDirect,
// QueueBroadcast) whose priorities come from spec.worker.queues, so a flood
// of broadcasts never starves direct messages.
package messaging
