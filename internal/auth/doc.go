// Package auth owns accounts and sessions: registration with a unique
// usercode, login with rate limiting of failures, opaque session tokens kept
// hashed in Redis with a sliding expiry, logout that revokes a token on
// every pod at once, and the HTTP middleware that authenticates requests.
//
// It is a go-kit service: service.go (rules), endpoint.go, transport.go
// (HTTP and the error→status mapping), logging.go and instrumenting.go.
package auth
