//go:build ignore

// httpd is the "bare Go net/http" ceiling: one handler that answers a small
// JSON document, nothing else. Run: go run docs/benchmarks/ceiling/httpd.go -addr 127.0.0.1:18081
// then: wrk -t2 -c64 -d15s http://127.0.0.1:18081/
package main

import (
	"flag"
	"log"
	"net/http"
)

var body = []byte(`{"id":"0192f3a4-5b6c-7d8e-9f00-112233445566","status":"queued"}` + "\n")

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	flag.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
