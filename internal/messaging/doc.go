// Package messaging is the API side of sending messages and reading
// history: the go-kit Service, its endpoints and HTTP transport, and
// admission (per-sender rate limit and client_id de-duplication). Send
// validates a message, gives it a time-sortable id and hands a
// delivery.Delivery to the workers (package delivery), which persist and
// publish it.
package messaging
