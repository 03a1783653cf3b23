package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// streamReadLimit is far above any single event; the server may coalesce
// several events into one frame.
const streamReadLimit = 16 << 20

// dialTimeout bounds opening one stream.
const dialTimeout = 30 * time.Second

// stream is one open WebSocket or SSE connection, read by exactly one
// goroutine.
type stream interface {
	// next blocks for the next frame and calls fn with each message id in it.
	next(ctx context.Context, fn func(id []byte)) error
	close()
}

// openStream opens a stream for token; after, when set, asks the server to
// replay what came after that id first (the reconnect path). dialCtx
// bounds the opening (with dialTimeout on top), life the stream's life.
func (c *client) openStream(life, dialCtx context.Context, transport, token, after string) (stream, error) {
	dialCtx, cancel := context.WithTimeout(dialCtx, dialTimeout)
	defer cancel()
	if transport == TransportSSE {
		return c.openSSE(life, dialCtx, token, after)
	}
	return c.openWS(dialCtx, token, after)
}

func streamURL(base, path, after string) string {
	u := base + path
	if after != "" {
		u += "?after=" + url.QueryEscape(after)
	}
	return u
}

type wsStream struct {
	c   *websocket.Conn
	buf []byte
}

func (c *client) openWS(ctx context.Context, token, after string) (stream, error) {
	u := streamURL(c.base, "/api/v1/stream", after)
	u = "ws" + strings.TrimPrefix(u, "http") // http→ws, https→wss
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &statusError{Method: "GET", Path: "/api/v1/stream", Status: resp.StatusCode, Body: err.Error()}
		}
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	conn.SetReadLimit(streamReadLimit)
	return &wsStream{c: conn, buf: make([]byte, 0, 1024)}, nil
}

func (s *wsStream) next(ctx context.Context, fn func(id []byte)) error {
	typ, r, err := s.c.Reader(ctx)
	if err != nil {
		return err
	}
	// Read the frame into a buffer reused across frames: no allocation
	// per frame once the buffer has grown to the largest frame.
	s.buf = s.buf[:0]
	for {
		if len(s.buf) == cap(s.buf) {
			s.buf = append(s.buf, 0)[:len(s.buf)]
		}
		n, err := r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if typ == websocket.MessageText {
		eachMessageID(s.buf, fn)
	}
	return nil
}

func (s *wsStream) close() { _ = s.c.CloseNow() }

type sseStream struct {
	body  io.ReadCloser
	r     *bufio.Reader
	event []byte
	id    []byte
	data  []byte
}

func (c *client) openSSE(life, ctx context.Context, token, after string) (stream, error) {
	// The stream must outlive the dial timeout: the request carries the
	// stream's life context, cancelled when the stream is closed.
	sctx, cancel := context.WithCancel(life)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, streamURL(c.base, "/api/v1/events", after), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if after != "" {
		req.Header.Set("Last-Event-ID", after)
	}
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.hc.Do(req)
		done <- result{resp, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		cancel()
		res = <-done
		if res.err == nil {
			res.resp.Body.Close()
		}
		return nil, fmt.Errorf("sse: no response headers: %w", ctx.Err())
	}
	if res.err != nil {
		cancel()
		return nil, fmt.Errorf("sse: %w", res.err)
	}
	if res.resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.resp.Body, 512))
		res.resp.Body.Close()
		cancel()
		return nil, &statusError{Method: "GET", Path: "/api/v1/events", Status: res.resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	return &sseStream{body: cancelOnClose{res.resp.Body, cancel}, r: bufio.NewReaderSize(res.resp.Body, 16<<10)}, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	c.cancel()
	return c.ReadCloser.Close()
}

// next reads up to the end of one event (a blank line).
func (s *sseStream) next(ctx context.Context, fn func(id []byte)) error {
	s.event, s.id, s.data = s.event[:0], s.id[:0], s.data[:0]
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := s.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// An over-long data line: gather it whole.
			rest, err2 := s.r.ReadBytes('\n')
			line, err = append(append([]byte(nil), line...), rest...), err2
		}
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			s.dispatch(fn)
			return nil
		}
		if line[0] == ':' {
			continue // comment / keepalive
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			s.event = append(s.event[:0], value...)
		case "id":
			s.id = append(s.id[:0], value...)
		case "data":
			if len(s.data) > 0 {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
		}
	}
}

func (s *sseStream) dispatch(fn func(id []byte)) {
	switch string(s.event) {
	case "message":
		if len(s.id) > 0 {
			fn(s.id) // the id line is the message id: no JSON to decode
			return
		}
		eachMessageID(s.data, fn)
	case "":
		eachMessageID(s.data, fn) // unnamed event: trust its JSON type
	}
}

func (s *sseStream) close() { _ = s.body.Close() }
