package httpapi

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// BodyReadTimeout gives a request's body d to arrive, from the moment its
// headers were read, so a client sending a byte now and then cannot hold
// a connection. It is a per-request deadline, not http.Server.ReadTimeout:
// the stream endpoints, whose requests have no body, are not touched, and
// the deadline is lifted once the body has been read, so a handler that
// takes a while to answer is not cut off by it (net/http's background read
// would otherwise hit the deadline and cancel the request's context).
func BodyReadTimeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d <= 0 || r.Body == nil || r.Body == http.NoBody {
				next.ServeHTTP(w, r)
				return
			}
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(d)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// deadlineBody lifts the read deadline when the body has been read whole.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
