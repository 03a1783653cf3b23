// Package testsupport runs what a test needs outside its own goroutines:
// the messager binary (built once per test binary), messager processes on
// free ports with their output kept for a failing test, and a TCP proxy
// that cuts and refuses connections the way an outage does.
//
// It is the one harness the cross-process tests (cmd/messager's cluster
// test, the browser suite in e2e, test/observability) and the in-process
// fault tests (internal/app) share. The Redis and the database a test runs
// on come from internal/testenv, not from here. Only tests import this
// package; it must not import the application's packages, so that any
// package's internal tests can use it without an import cycle.
package testsupport
