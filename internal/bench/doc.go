// Package bench is the load tool behind `messager bench`: it drives a running
// messager over its public HTTP API only, exactly as browser clients do
// (register, log in, open WebSocket or SSE streams, POST messages, page
// history), and reports what it measured.
//
// It owns the measurement and the correctness accounting: accept latency
// (POST → 202) and end-to-end latency (POST → arrival on each recipient's
// stream) in HDR histograms, throughput, errors by HTTP status, and whether
// every accepted message arrived exactly once on every recipient connection
// and is in history exactly once. A run with any lost, duplicated or leaked
// delivery ends in an error, so a CI smoke run fails loudly.
//
// It must not reach into the server's packages, database or Redis to judge
// correctness: what it reports is what a client sees. The one exception is
// cost (cpu.go): when asked, it reads the server processes' CPU counters,
// Redis's INFO and PostgreSQL's statistics views, read-only, before and
// after the measured window. It refuses targets that are not loopback
// unless they are explicitly allowed, and bounds itself in users,
// connections, messages and time (see Options.Validate).
package bench
