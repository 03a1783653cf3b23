//go:build ignore

// wsd is the "bare coder/websocket" ceiling for idle connections: it accepts
// WebSocket connections and holds them, reading (so pings/close are handled),
// writing nothing. GET /rss returns the process RSS in bytes and the number of
// open connections, so wsclient can compute RSS per connection.
// Run: ulimit -n 65536; go run docs/benchmarks/ceiling/wsd.go -addr 127.0.0.1:18082
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"github.com/coder/websocket"
)

var open atomic.Int64

func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), "%d", &kb)
			return kb * 1024
		}
	}
	return -1
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18082", "listen address")
	flag.Parse()
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		open.Add(1)
		defer open.Add(-1)
		// Block in Read like a real server's read loop (handles ping/pong/close).
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	})
	http.HandleFunc("/rss", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") != "" {
			runtime.GC()
			debug.FreeOSMemory()
		}
		fmt.Fprintf(w, "%d %d\n", rss(), open.Load())
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
