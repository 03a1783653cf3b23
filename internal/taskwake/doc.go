// Package taskwake lets idle asynq workers sleep until there is work,
// instead of polling Redis every few milliseconds.
//
// asynq has no push: a server's processor runs its dequeue script on every
// queue, and when all are empty it sleeps Config.TaskCheckInterval and
// tries again. A short interval keeps delivery fast but costs hundreds of
// empty scripts a second per server, on the worker and on Redis, with no
// traffic at all; a long one puts its length on every message.
//
// This package moves the wait to where it can be cut short. Client wraps
// the Redis client an asynq server dequeues through: once a dequeue round
// has found every queue empty, the next dequeue waits until a Signal
// wakes it, or until a fallback interval has passed (tasks that arrive
// without a notification: retries and scheduled tasks moved in by asynq's
// forwarder, tasks queued by an older version). The API side's
// AnnouncingClient publishes a tiny message on a Redis channel with each
// enqueue, in the same round trip, saying how many tasks it announces, and
// Listen turns each one into a wake-up. A
// notification is never needed for correctness, only for speed: without
// one a task waits at most the fallback interval.
//
// The count also saves the round asynq runs after every task it finds:
// the Signal keeps the tasks announced and not yet found, and a server
// that has just found the last of them waits for the next announcement
// instead of looking at every queue to find them empty (at moderate rates
// that round is most of a worker's dequeue scripts). An unannounced task
// that spends another's credit delays that one by at most Recheck.
//
// It owns no task semantics and never touches a task: it only delays the
// dequeue script of an idle server.
package taskwake
