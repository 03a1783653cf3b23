package messaging

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/messager/messager/internal/httpapi"
)

func TestRegisterErrors_AnswersEachDomainError(t *testing.T) {
	var c httpapi.Classifier
	RegisterErrors(&c)
	for _, tc := range []struct {
		err        error
		status     int
		detail     string
		retryAfter time.Duration
	}{
		{fmt.Errorf("admit: %w", &RateLimitedError{RetryAfter: 1500 * time.Millisecond}), http.StatusTooManyRequests, "you are sending too fast; wait a moment and send again", 1500 * time.Millisecond},
		{ErrUnknownRecipient, http.StatusNotFound, "no user has that usercode", 0},
		{ErrMessageNotFound, http.StatusNotFound, "no such message among the ones you received", 0},
	} {
		p := c.Problem(tc.err)
		if p.Status != tc.status || p.Detail != tc.detail || p.RetryAfter != tc.retryAfter {
			t.Errorf("%v: got %d %q Retry-After %s, want %d %q Retry-After %s", tc.err, p.Status, p.Detail, p.RetryAfter, tc.status, tc.detail, tc.retryAfter)
		}
	}
}
