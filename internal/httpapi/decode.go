package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/messager/messager/internal/validation"
)

// MaxBodyBytes bounds every request body; larger bodies get 413.
const MaxBodyBytes = 64 << 10

// DecodeJSON reads one JSON object from r's body into dst. It answers with
// a *Problem: 415 unless the body is declared application/json (UTF-8),
// 413 for a body over MaxBodyBytes, 400 for malformed JSON or anything but
// a single object, 422 naming the field for a wrongly typed value. Unknown
// fields are ignored so older servers accept newer clients.
//
// The media type check is also a CSRF defence: a page on another site can
// send text/plain, form or multipart bodies without a CORS preflight, but
// not application/json.
func DecodeJSON(r *http.Request, dst any) error {
	if !isJSON(r.Header.Get("Content-Type")) {
		return NewProblem(http.StatusUnsupportedMediaType, "send the body as Content-Type: application/json")
	}
	body := http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	// Read the value whole first: json.Decoder turns `null` into a silent
	// no-op, and only an object is a request.
	var raw json.RawMessage
	err := dec.Decode(&raw)
	if err == nil && (len(raw) == 0 || raw[0] != '{') {
		return NewProblem(http.StatusBadRequest, "the request body must be a JSON object")
	}
	if err == nil {
		err = json.Unmarshal(raw, dst)
	}
	if err == nil {
		// Exactly one value: trailing garbage is malformed input.
		if _, terr := dec.Token(); terr != io.EOF {
			var mbe *http.MaxBytesError
			if errors.As(terr, &mbe) {
				return tooLarge()
			}
			return NewProblem(http.StatusBadRequest, "the request body must hold exactly one JSON object")
		}
		return nil
	}
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return tooLarge()
	case errors.Is(err, os.ErrDeadlineExceeded):
		// BodyReadTimeout: the body did not arrive within spec.http.readTimeout.
		return NewProblem(http.StatusRequestTimeout, "the request body did not arrive in time")
	case errors.Is(err, io.EOF):
		return NewProblem(http.StatusBadRequest, "the request body is empty; send a JSON object")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return NewProblem(http.StatusBadRequest, "the request body is not valid JSON")
	case errors.As(err, &ute):
		if ute.Field == "" {
			return NewProblem(http.StatusBadRequest, "the request body must be a JSON object")
		}
		return Invalid(validation.FieldError{Field: ute.Field, Message: fmt.Sprintf("must be a %s", jsonKind(ute.Type.Kind().String()))})
	default:
		return NewProblem(http.StatusBadRequest, "the request body could not be read as JSON")
	}
}

// isJSON accepts application/json with at most a UTF-8 charset: RFC 8259
// JSON is UTF-8, and a body declared otherwise would be misread.
func isJSON(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

func tooLarge() *Problem {
	return NewProblem(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes))
}

func jsonKind(goKind string) string {
	switch {
	case goKind == "string":
		return "string"
	case goKind == "bool":
		return "boolean"
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "number"
	case goKind == "slice", goKind == "array":
		return "array"
	default:
		return "object"
	}
}
