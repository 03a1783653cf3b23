// Package stream delivers events to connected clients in real time: the Hub
// holds this pod's WebSocket and SSE connections, the Bus carries events
// between pods on Redis pub/sub, and the handlers serve GET /api/v1/stream
// (WebSocket) and GET /api/v1/events (Server-Sent Events).
//
// A connection that passes the last message id it saw (?after=, or
// Last-Event-ID for SSE) first gets every later message replayed from the
// database (the Replayer) and then goes live with no gap and no duplicate
// at the seam: live events queue while the replay runs, and a per-stream
// sequencer (order.go) writes message frames in the order of the user's
// mailbox positions, drops a position already written (replayed, or
// published twice) and fills a gap it sees from the database.
//
// The package never decides who receives what: every event arrives with its
// audience already named (events.Envelope).
package stream
