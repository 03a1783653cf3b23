//go:build ignore

// wsclient opens N idle WebSocket connections to a server, measuring the
// server's RSS before and after (from its /rss endpoint: "bytes open").
// Run: ulimit -n 65536; go run docs/benchmarks/ceiling/wsclient.go -url ws://127.0.0.1:18082/ws -rss http://127.0.0.1:18082/rss -n 10000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

func serverRSS(u string) (int64, int64) {
	resp, err := http.Get(u + "?gc=1")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var rss, open int64
	fmt.Sscanf(string(b), "%d %d", &rss, &open)
	return rss, open
}

func main() {
	url := flag.String("url", "ws://127.0.0.1:18082/ws", "websocket URL")
	rssURL := flag.String("rss", "http://127.0.0.1:18082/rss", "server RSS endpoint")
	n := flag.Int("n", 1000, "connections")
	par := flag.Int("parallel", 50, "concurrent dials")
	hold := flag.Duration("hold", 5*time.Second, "hold time before measuring")
	flag.Parse()

	time.Sleep(500 * time.Millisecond)
	before, _ := serverRSS(*rssURL)
	conns := make([]*websocket.Conn, *n)
	sem := make(chan struct{}, *par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var fails int
	start := time.Now()
	for i := 0; i < *n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, *url, nil)
			if err != nil {
				mu.Lock()
				fails++
				if fails < 5 {
					log.Print(err)
				}
				mu.Unlock()
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	dial := time.Since(start)
	time.Sleep(*hold)
	after, open := serverRSS(*rssURL)
	ok := int64(*n - fails)
	fmt.Printf("connections=%d failed=%d dial=%s server_open=%d rss_before=%.1fMiB rss_after=%.1fMiB per_conn=%.1fKiB\n",
		ok, fails, dial.Round(time.Millisecond), open, float64(before)/(1<<20), float64(after)/(1<<20),
		float64(after-before)/float64(ok)/1024)
	for _, c := range conns {
		if c != nil {
			c.Close(websocket.StatusNormalClosure, "")
		}
	}
}
