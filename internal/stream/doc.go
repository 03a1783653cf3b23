// Package stream delivers events to connected clients in real time: the Hub
// holds this pod's WebSocket and SSE connections, the Bus carries events
// between pods on Redis pub/sub, and the handlers serve GET /api/v1/stream
// (WebSocket) and GET /api/v1/events (Server-Sent Events).
//
// A connection that passes the last message id it saw (?after=, or
// Last-Event-ID for SSE) first gets every later message replayed from the
// database and then goes live with no gap and no duplicate at the seam:
// live events are held back while the replay runs and the replayed ids are
// skipped when they arrive live too.
//
// The package never decides who receives what: every event arrives with its
// audience already named (events.Envelope).
package stream
