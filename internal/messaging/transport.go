package messaging

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
	"github.com/messager/messager/internal/validation"
)

// MakeHandler returns the routes under /api/v1/messages; every route needs
// an authenticated caller. errs answers every error and must have
// messaging's and auth's errors registered (RegisterErrors).
func MakeHandler(s Service, authn *auth.Authenticator, errs *httpapi.Classifier) http.Handler {
	opts := httpapi.KitOptions(errs)
	send := kithttp.NewServer(makeSendEndpoint(s), decodeSend, encodeSend, opts...)
	list := kithttp.NewServer(makeListEndpoint(s), decodeList, encodeOK, opts...)
	unread := kithttp.NewServer(makeUnreadEndpoint(s), kithttp.NopRequestDecoder, encodeOK, opts...)
	read := kithttp.NewServer(makeReadEndpoint(s), decodeRead, encodeNoContent, opts...)

	r := chi.NewRouter()
	r.Use(authn.Require)
	r.Post("/", send.ServeHTTP)
	r.Get("/", list.ServeHTTP)
	r.Get("/unread", unread.ServeHTTP)
	r.Post("/{id}/read", read.ServeHTTP)
	return r
}

func decodeSend(_ context.Context, r *http.Request) (any, error) {
	var req sendRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeList(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	req := listRequest{Before: q.Get("before"), After: q.Get("after")}
	var errs validation.Errors
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs.Add("limit", "must be a whole number of at least 1")
		}
		req.Limit = n
	}
	if req.Before != "" && req.After != "" {
		errs.Add("after", "cannot be combined with before")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeRead(_ context.Context, r *http.Request) (any, error) {
	return readRequest{ID: chi.URLParam(r, "id")}, nil
}

func encodeSend(_ context.Context, w http.ResponseWriter, response any) error {
	res := response.(sendResponse)
	status := http.StatusAccepted
	if !res.created {
		// The same client_id again: the original message, not a new one.
		status = http.StatusOK
	}
	return httpapi.WriteJSON(w, status, res)
}

func encodeOK(_ context.Context, w http.ResponseWriter, response any) error {
	return httpapi.WriteJSON(w, http.StatusOK, response)
}

func encodeNoContent(_ context.Context, w http.ResponseWriter, _ any) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RegisterErrors registers with c the statuses messaging's domain errors
// are answered with. The process calls it once, at assembly.
func RegisterErrors(c *httpapi.Classifier) {
	c.Match(httpapi.As(func(rl *RateLimitedError) *httpapi.Problem {
		p := httpapi.NewProblem(http.StatusTooManyRequests, "you are sending too fast; wait a moment and send again")
		p.RetryAfter = rl.RetryAfter
		return p
	}))
	c.Is(ErrUnknownRecipient, http.StatusNotFound, "no user has that usercode")
	c.Is(ErrMessageNotFound, http.StatusNotFound, "no such message among the ones you received")
}
