package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/messager/messager/internal/validation"
)

// The 422 body is part of the API: clients read errors[].field and
// errors[].message, whichever package found the problem.
func TestWriteProblem_ValidationErrorsAreFieldAndMessage(t *testing.T) {
	var errs validation.Errors
	errs.Add("to", "must be a usercode")
	errs.Add("body", "must not be empty")
	var c *Classifier
	w := httptest.NewRecorder()
	WriteProblem(w, httptest.NewRequest(http.MethodPost, "/api/v1/messages", nil), c.Problem(errs.Err()))
	want := `{"type":"https://messager.io/problems/validation","title":"Unprocessable Entity","status":422,"detail":"the request has invalid fields","instance":"/api/v1/messages","errors":[{"field":"to","message":"must be a usercode"},{"field":"body","message":"must not be empty"}]}`
	if got := strings.TrimSpace(w.Body.String()); got != want || w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("got %d %s\nwant 422 %s", w.Code, got, want)
	}
}
