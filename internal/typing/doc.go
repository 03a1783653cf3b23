// Package typing relays "is typing" signals between the two people of a
// direct message. A signal is an ephemeral stream event to the recipient's
// open streams: never stored, never replayed, coalesced to at most one per
// sender and recipient every Interval so a keyboard cannot flood a stream.
//
// It is a go-kit service (service.go, endpoint.go, transport.go); it owns
// no state besides the short-lived coalescing keys in Redis.
package typing
