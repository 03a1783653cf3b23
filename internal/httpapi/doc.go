// Package httpapi holds the HTTP conventions every service shares: RFC 9457
// problem+json errors, JSON request decoding with size limits, JSON
// responses, request ids, access logs, panic recovery and HTTP metrics.
//
// Services map their own domain errors to a *Problem in their transport;
// this package maps only the errors that are not any one service's
// (malformed JSON, oversized bodies, unavailable dependencies).
package httpapi
