// Command wakeup measures what a thread wake-up costs in CPU time on this
// machine, beside a fixed amount of pure computation for scale: it sleeps
// 100 µs 2,000 times (each sleep parks the thread and a timer wakes it)
// and reads its own CPU time (getrusage) around each part.
//
//	go run .   # in this directory: its own module, outside messager's ./...
//
// On the session 8 VM the computation took the same CPU time whatever else
// ran, while each wake-up cost tens of µs of CPU: see docs/benchmarks.md,
// "Session 8".
package main

import (
	"crypto/sha256"
	"fmt"
	"syscall"
	"time"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	const hashes, sleeps = 200, 2000
	buf := make([]byte, 1<<20)
	for range 3 {
		c0 := cpu()
		for range hashes {
			sha256.Sum256(buf)
		}
		c1 := cpu()
		for range sleeps {
			time.Sleep(100 * time.Microsecond)
		}
		c2 := cpu()
		fmt.Printf("sha256 of 200 MiB: %v CPU; %d sleep/wake-ups: %v CPU, %.1f µs each\n",
			c1-c0, sleeps, c2-c1, float64((c2-c1).Microseconds())/sleeps)
	}
}
