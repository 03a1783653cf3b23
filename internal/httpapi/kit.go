package httpapi

import (
	"context"
	"net/http"

	kithttp "github.com/go-kit/kit/transport/http"
)

type kitKey int

const requestKey kitKey = iota

// KitOptions are the go-kit server options every service transport uses:
// the request is kept in the context (for encoders that need it), and an
// error is answered with WriteProblem as errs classifies it, so the kit
// error encoder is the one every endpoint shares.
func KitOptions(errs *Classifier) []kithttp.ServerOption {
	return []kithttp.ServerOption{
		kithttp.ServerBefore(func(ctx context.Context, r *http.Request) context.Context {
			return context.WithValue(ctx, requestKey, r)
		}),
		kithttp.ServerErrorEncoder(func(ctx context.Context, err error, w http.ResponseWriter) {
			WriteProblem(w, RequestFrom(ctx), errs.Problem(err))
		}),
	}
}

// RequestFrom returns the request a go-kit handler is serving, or nil.
func RequestFrom(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey).(*http.Request)
	return r
}
