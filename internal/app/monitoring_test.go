package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/messager/messager/internal/storage"
)

// asynqmon has no authentication of its own, so messager guards it with
// an admin role that only an operator sets, in the database.
func TestMonitoring_AdminIsARoleOnlyAnOperatorGrants(t *testing.T) {
	b := newBackends(t)
	pod := startApp(t, ModeAPI, b)
	// Under the old rule, naming "admin1" in the config gave the monitor to
	// whoever registered it first.
	u := newUser(t, pod, "admin")
	if res, _ := (&client{t: t, base: u.base}).do("GET", "/monitoring/", nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d, want 401", res.StatusCode)
	}
	res, body := u.do("GET", "/monitoring/api/queues", nil)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("an account nobody granted admin: %d, want 403: %s", res.StatusCode, body)
	}
	if p := decodeProblem(t, res, body); !strings.Contains(p.Detail, "messager admin grant") {
		t.Fatalf("the 403 does not say how to grant admin: %s", body)
	}

	cfg := *pod.cfg
	if _, err := SetAdmin(context.Background(), &cfg, strings.ToUpper(u.user.Username), true); err != nil {
		t.Fatal(err)
	}
	if res, body := u.do("GET", "/monitoring/api/queues", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("after `messager admin grant`: %d, want 200: %s", res.StatusCode, body)
	}
	if _, err := SetAdmin(context.Background(), &cfg, u.user.Username, false); err != nil {
		t.Fatal(err)
	}
	if res, _ := u.do("GET", "/monitoring/api/queues", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("after `messager admin revoke`, with the same session: %d, want 403", res.StatusCode)
	}
	if _, err := SetAdmin(context.Background(), &cfg, "nobody-of-that-name", true); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("grant to an unknown username: %v, want ErrNotFound", err)
	}
}
