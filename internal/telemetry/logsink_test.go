package telemetry

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records what is written to it and in how many calls;
// its Sync fails the test (a flush must not be an fsync).
type countingWriter struct {
	t      *testing.T
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *countingWriter) Sync() error {
	w.t.Error("the sink called its writer's Sync")
	return nil
}

func (w *countingWriter) read() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.writes
}

func newSinkLogger(t *testing.T) (*slog.Logger, *LogSink, *countingWriter) {
	w := &countingWriter{t: t}
	sink := NewLogSink(w)
	t.Cleanup(func() { _ = sink.Close() })
	return slog.New(sink.Handler(slog.NewJSONHandler(sink, nil))), sink, w
}

// Lines below warning are held and written together, in one call, within
// LogFlushInterval, not one call each.
func TestLogSink_WritesInfoLinesInBatches(t *testing.T) {
	logger, _, w := newSinkLogger(t)
	for i := range 20 {
		logger.Info("request", "i", i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if out, n := w.read(); strings.Count(out, "\n") == 20 {
			if n > 2 { // one, or two if a flush fell among the lines
				t.Fatalf("20 lines in %d writes, want them batched", n)
			}
			return
		}
		time.Sleep(LogFlushInterval / 4)
	}
	out, n := w.read()
	t.Fatalf("after 10 s: %d writes, %d lines", n, strings.Count(out, "\n"))
}

// A warning (or an error) goes out at once, with the lines before it.
func TestLogSink_WarningIsWrittenAtOnce(t *testing.T) {
	logger, _, w := newSinkLogger(t)
	logger.Info("before")
	logger.Warn("trouble")
	out, _ := w.read()
	if !strings.Contains(out, `"msg":"before"`) || !strings.Contains(out, `"msg":"trouble"`) {
		t.Fatalf("right after a warning the writer holds %q, want both lines", out)
	}
	logger.With("k", "v").WithGroup("g").Error("worse")
	if out, _ := w.read(); !strings.Contains(out, `"msg":"worse"`) {
		t.Fatalf("an error from a derived logger was held: %q", out)
	}
}

// Close writes what the sink still holds.
func TestLogSink_CloseWritesTheRest(t *testing.T) {
	logger, sink, w := newSinkLogger(t)
	logger.Info("last words")
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if out, _ := w.read(); !strings.Contains(out, "last words") {
		t.Fatalf("after Close the writer holds %q", out)
	}
}

// BenchmarkAccessLogLine logs one access-log-like line to a file, directly
// and through a LogSink: the difference is the system call per line that
// the sink saves.
func BenchmarkAccessLogLine(b *testing.B) {
	attrs := []slog.Attr{
		slog.String("request_id", "c55e157160d39800c9707cc6"), slog.String("method", "POST"),
		slog.String("path", "/api/v1/messages"), slog.String("route", "/api/v1/messages"),
		slog.Int("status", 202), slog.Int64("bytes", 180), slog.Duration("duration", 1500*time.Microsecond),
		slog.String("remote", "127.0.0.1:41194"),
	}
	for _, buffered := range []bool{false, true} {
		name := "direct"
		if buffered {
			name = "sink"
		}
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var w io.Writer = f
			var sink *LogSink
			if buffered {
				sink = NewLogSink(f)
				defer sink.Close()
				w = sink
			}
			h := slog.Handler(slog.NewJSONHandler(w, nil))
			if sink != nil {
				h = sink.Handler(h)
			}
			logger := slog.New(h)
			ctx := context.Background()
			for b.Loop() {
				logger.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
			}
		})
	}
}
