package auth

import (
	"context"
	"errors"
	"testing"
)

func TestRequirePrincipal_RefusesARequestWithoutACaller(t *testing.T) {
	called := false
	e := RequirePrincipal(func(context.Context, Principal, any) (any, error) {
		called = true
		return "served", nil
	})
	if _, err := e(context.Background(), nil); !errors.Is(err, ErrUnauthenticated) || called {
		t.Fatalf("without a principal: err %v, endpoint ran %v; want ErrUnauthenticated before it runs", err, called)
	}
}

func TestRequirePrincipal_HandsTheCallerToTheEndpoint(t *testing.T) {
	want := Principal{UserID: 7, Username: "ada", Usercode: "ABC123"}
	e := RequirePrincipal(func(_ context.Context, caller Principal, request any) (any, error) {
		if caller != want {
			t.Errorf("caller = %+v, want %+v", caller, want)
		}
		return request, nil
	})
	got, err := e(WithPrincipal(context.Background(), want, "token"), "req")
	if err != nil || got != "req" {
		t.Fatalf("got %v, %v", got, err)
	}
}
