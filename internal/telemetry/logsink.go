package telemetry

import (
	"context"
	"io"
	"log/slog"
	"time"

	"go.uber.org/zap/zapcore"
)

// LogFlushInterval is how long a LogSink holds a log line at most.
const LogFlushInterval = 200 * time.Millisecond

// logBufferSize is the most a LogSink holds before it writes: a write of
// at most this much is one system call.
const logBufferSize = 64 << 10

// LogSink gathers log lines and writes them in one system call every
// LogFlushInterval (or once logBufferSize is full), rather than one per
// line, as nginx's buffered access_log does: at a few hundred requests a
// second the api's access log alone was one write per request, 6.5 % of
// its CPU (docs/benchmarks.md, issue 12). Records at slog.LevelWarn and
// above, wrapped by Handler, are written at once with everything before
// them, so a warning or an error is never held back. What a process still
// holds when it is killed (at most LogFlushInterval of lines below
// warning) is lost; a Go panic's own report goes to stderr unbuffered.
//
// Close writes what is left and stops the flusher; the process's owner
// calls it last, after everything that logs has stopped.
type LogSink struct {
	bws *zapcore.BufferedWriteSyncer
}

// NewLogSink returns a sink writing to w. w's own Sync (os.File's fsync)
// is never called: a flush is a write, not a disk barrier.
func NewLogSink(w io.Writer) *LogSink {
	return &LogSink{bws: &zapcore.BufferedWriteSyncer{
		WS:            zapcore.AddSync(struct{ io.Writer }{w}), // hides w's Sync
		Size:          logBufferSize,
		FlushInterval: LogFlushInterval,
	}}
}

// Write buffers p, one whole log line from a slog handler.
func (s *LogSink) Write(p []byte) (int, error) { return s.bws.Write(p) }

// Flush writes what the sink holds.
func (s *LogSink) Flush() error { return s.bws.Sync() }

// Close stops the flusher and writes what the sink holds.
func (s *LogSink) Close() error { return s.bws.Stop() }

// Handler wraps h, which writes to s, so that a record at slog.LevelWarn
// or above is written out at once, with the lines before it.
func (s *LogSink) Handler(h slog.Handler) slog.Handler { return flushingHandler{h, s} }

type flushingHandler struct {
	slog.Handler
	sink *LogSink
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.sink.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.sink}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.sink}
}
