package users

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
)

// refusing is a limiter every key is over.
type refusing struct{ auth.Limiter }

func (refusing) Take(context.Context, ...auth.LimitKey) error {
	return &auth.RateLimitedError{RetryAfter: 3 * time.Second}
}

// Search's limit shares auth's error type but not auth's advice; with both
// packages registered, as the process registers them, each keeps its own.
func TestSearchLimit_Is429WithTheSearchAdviceAndLoginLimitsKeepAuths(t *testing.T) {
	var c httpapi.Classifier
	auth.RegisterErrors(&c)
	RegisterErrors(&c)
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{UserID: 1}, "token")
	_, err := makeSearchEndpoint(NewService(nil, nil, refusing{}))(ctx, searchRequest{Q: "ada"})
	if p := c.Problem(err); p.Status != http.StatusTooManyRequests || p.Detail != "too many searches; wait a moment and search again" || p.RetryAfter != 3*time.Second {
		t.Fatalf("search over its limit: %d %q Retry-After %s", p.Status, p.Detail, p.RetryAfter)
	}
	login := &auth.RateLimitedError{RetryAfter: time.Minute, What: "sign-in attempts"}
	if p := c.Problem(login); p.Status != http.StatusTooManyRequests || p.Detail != "too many sign-in attempts; try again later" {
		t.Fatalf("login over its limit: %d %q", p.Status, p.Detail)
	}
	if p := c.Problem(ErrNotFound); p.Status != http.StatusNotFound || p.Detail != "no user has that usercode" {
		t.Fatalf("unknown usercode: %d %q", p.Status, p.Detail)
	}
}
