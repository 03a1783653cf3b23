// Package runtimetune fits the Go runtime's scheduler to a server that spends
// most of its time idle between short bursts of work, which is what a chat
// pod is at all but its busiest moments.
//
// At such loads the cost of a message is mostly thread wake-ups, not work
// (docs/benchmarks.md, sessions 8, 9 and 14): each goroutine made ready
// while a second P is idle wakes a thread to run it, and the runtime's
// sysmon thread, after each deep sleep, ticks every 20 µs for a millisecond.
// Two measures take most of those wake-ups away:
//
//   - [Governor] runs the process on one P (GOMAXPROCS=1) while it needs
//     less than a core, and restores the runtime's default as soon as it
//     needs more, so a busy pod still uses every core it is given;
//   - [KeepSysmonAwake] starts the process again with sysmon kept out of its
//     deep sleep (GODEBUG=schedtrace, the runtime's only switch for it,
//     read only at start: golang/go#18236).
//
// Together, measured at 250 direct messages a second, they cut the CPU per
// message by about a quarter; apart, neither does (docs/benchmarks.md,
// session 15). This package decides nothing about messages and must not:
// it only touches process-wide runtime settings, so only cmd/messager calls
// it, once per process, never a library or a test's App. Whatever is sized
// by GOMAXPROCS must be sized before a Governor starts, since it lowers it.
package runtimetune
