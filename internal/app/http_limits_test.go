package app

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/httpapi"
)

// 20,000 made-up methods once made /metrics 347 MB: every method was a
// label value. Unknown methods are refused before any metric is touched.
func TestHTTP_UnknownMethodsAre501AndAddNoMetricSeries(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	base := "http://" + a.Addr()
	// Known routes have their series from the start (pre-created at 0).
	before := httpSeries(t, base)
	for i := 0; i < 1000; i++ {
		var b [6]byte
		_, _ = rand.Read(b[:])
		method := "X" + strings.ToUpper(hex.EncodeToString(b[:]))
		req, err := http.NewRequest(method, base+"/api/v1/messages", nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotImplemented || res.Header.Get("Content-Type") != httpapi.ContentTypeProblem {
			t.Fatalf("%s: %d %s, want 501 problem+json", method, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	if series := httpSeries(t, base); series > before+20 {
		t.Fatalf("1000 made-up methods took the HTTP metric series from %d to %d; want a bounded handful more", before, series)
	}
}

// httpSeries counts the HTTP metric series base's /metrics exports.
func httpSeries(t *testing.T, base string) int {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	series := 0
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "messager_http_requests_total{") || strings.HasPrefix(sc.Text(), "messager_http_request_duration_seconds_count{") {
			series++
		}
	}
	return series
}

// A body sent a byte at a time once held a connection (and a file
// descriptor) for as long as the client liked.
func TestHTTP_SlowRequestBodyIsCutAtTheReadTimeout(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t), func(c *config.Config) { c.Spec.HTTP.ReadTimeout = config.Duration(time.Second) })
	conn, err := net.Dial("tcp", a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", a.Addr())
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// One byte a second, never finishing the body.
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(8 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestTimeout || res.Header.Get("Content-Type") != httpapi.ContentTypeProblem {
			t.Fatalf("slow body answered %d %s, want 408 problem+json", res.StatusCode, res.Header.Get("Content-Type"))
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("a body sent a byte a second was still being read after %s", time.Since(start).Round(time.Second))
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("slow body cut after %s, want about the 1s read timeout", d.Round(100*time.Millisecond))
	}
}

// OPTIONS on an authenticated route used to answer 401; the API has no
// CORS, so it answers 405 naming the allowed methods, as problem+json.
func TestHTTP_OptionsOnAPIRoutesIs405ProblemWithAllow(t *testing.T) {
	a := startApp(t, ModeAll, newBackends(t))
	for path, want := range map[string]string{
		"/api/v1/messages":   "GET, POST",
		"/api/v1/presence":   "GET",
		"/api/v1/auth/me":    "GET",
		"/api/v1/auth/login": "POST",
		"/api/v1/stream":     "GET",
	} {
		req, _ := http.NewRequest(http.MethodOptions, "http://"+a.Addr()+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Content-Type") != httpapi.ContentTypeProblem || res.Header.Get("Allow") != want {
			t.Errorf("OPTIONS %s: %d %q Allow %q; want 405 problem+json Allow %q", path, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Allow"), want)
		}
	}
	req, _ := http.NewRequest(http.MethodOptions, "http://"+a.Addr()+"/api/v1/nothing", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Type") != httpapi.ContentTypeProblem {
		t.Errorf("OPTIONS on an unknown API path: %d %q, want 404 problem+json", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
