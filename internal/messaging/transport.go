package messaging

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
	"github.com/messager/messager/internal/validation"
)

// MakeHandler returns the routes under /api/v1/messages; every route needs
// an authenticated caller.
func MakeHandler(s Service, authn *auth.Authenticator, errs *httpapi.Classifier) http.Handler {
	opts := httpapi.KitOptions(func(err error) *httpapi.Problem { return problemFor(err, errs) })
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

// problemFor is the one place messaging's domain errors become statuses.
func problemFor(err error, errs *httpapi.Classifier) *httpapi.Problem {
	var rl *RateLimitedError
	switch {
	case errors.As(err, &rl):
		p := httpapi.NewProblem(http.StatusTooManyRequests, "you are sending too fast; wait a moment and send again")
		p.RetryAfter = rl.RetryAfter
		return p
	case errors.Is(err, ErrUnknownRecipient):
		return httpapi.NewProblem(http.StatusNotFound, "no user has that usercode")
	case errors.Is(err, ErrMessageNotFound):
		return httpapi.NewProblem(http.StatusNotFound, "no such message among the ones you received")
	case errors.Is(err, auth.ErrUnauthenticated):
		return httpapi.NewProblem(http.StatusUnauthorized, "sign in first")
	}
	return errs.Problem(err)
}
