// Package httpapi holds the HTTP conventions every service shares: RFC 9457
// problem+json errors, JSON request decoding with size limits, JSON
// responses, request ids, access logs, panic recovery and HTTP metrics.
//
// Errors become problems in one place, the Classifier: each service
// package registers the statuses of its domain errors with it once, at
// assembly, and every handler answers errors through it and WriteProblem.
// This package itself maps only the errors that are not any one service's
// (malformed JSON, oversized bodies, invalid fields, unavailable
// dependencies, deadlines).
package httpapi
