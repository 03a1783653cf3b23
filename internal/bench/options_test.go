package bench

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		o       Options
		wantErr string // substring; "" means valid
	}{
		{"defaults", Options{}, ""},
		{"loopback v4", Options{Target: "http://127.0.0.2:9000"}, ""},
		{"loopback v6", Options{Target: "http://[::1]:8080"}, ""},
		{"localhost", Options{Target: "https://LOCALHOST:8443"}, ""},
		{"remote refused", Options{Target: "http://10.0.0.5:8080"}, "not loopback"},
		{"name refused even if it resolves to loopback", Options{Target: "http://chat.example.com"}, "not loopback"},
		{"remote allowed by host", Options{Target: "http://chat.example.com:8080", AllowRemote: []string{"chat.example.com"}}, ""},
		{"remote allowed by host:port", Options{Target: "http://10.0.0.5:8080", AllowRemote: []string{"10.0.0.5:8080"}}, ""},
		{"allow list is exact", Options{Target: "http://10.0.0.5:8080", AllowRemote: []string{"10.0.0.50"}}, "not loopback"},
		{"bad scheme", Options{Target: "ftp://127.0.0.1"}, "scheme"},
		{"users cap", Options{Users: MaxUsers + 1}, "users"},
		{"connections cap", Options{Users: 2000, ConnectionsPerUser: 100}, "at most"},
		{"per-user cap", Options{ConnectionsPerUser: MaxConnectionsPerUser + 1}, "connections-per-user"},
		{"duration cap", Options{Duration: 2 * time.Hour}, "duration"},
		{"messages cap", Options{Messages: MaxMessages + 1}, "messages"},
		{"negative rate", Options{Rate: -1}, "rate"},
		{"senders cap", Options{Senders: MaxSenders + 1}, "senders"},
		{"negative warmup", Options{Warmup: -time.Second}, "warmup"},
		{"unknown scenario", Options{Scenario: "storm"}, "scenario"},
		{"unknown transport", Options{Transport: "grpc"}, "transport"},
		{"dm needs two users", Options{Users: 1}, "at least 2"},
		{"idle with one user", Options{Users: 1, Scenario: ScenarioIdle}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidate_RemoteTargetIsErrTargetNotAllowed(t *testing.T) {
	err := Options{Target: "http://192.0.2.1"}.Validate()
	if !errors.Is(err, ErrTargetNotAllowed) {
		t.Fatalf("Validate() = %v, want ErrTargetNotAllowed", err)
	}
}

func TestValidate_ReportsEveryProblemAtOnce(t *testing.T) {
	err := Options{Users: -1, Senders: -1, Duration: -time.Second}.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, want := range []string{"users", "senders", "duration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
