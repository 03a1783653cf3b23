// Package presence owns who is online. A user is online while they have an
// open stream on any pod, or sent a heartbeat or logged in within
// spec.presence.ttl. The state lives in Redis so every pod agrees, and each
// online/offline transition is published once as a presence event.
//
// It is a go-kit service (service.go, endpoint.go, transport.go, logging.go,
// instrumenting.go); the Tracker in tracker.go keeps the Redis state and is
// also used by auth (login), stream (open connections) and messaging (the
// audience of a broadcast).
package presence
