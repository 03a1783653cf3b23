// Package app assembles a messager process from its configuration: it opens
// Redis (or starts the embedded one) and the database, builds the auth,
// presence and messaging services and the stream hub, serves HTTP, runs the
// asynq worker, and shuts all of it down gracefully. cmd/messager only
// parses flags and calls it; tests start whole processes with it too.
package app
