package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runAgainst(t *testing.T, f *fakeServer, o Options) (*Report, error, string) {
	t.Helper()
	var out bytes.Buffer
	o.Target = f.srv.URL
	o.Out = &out
	if o.Drain == 0 {
		o.Drain = 300 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Run(ctx, o)
	return rep, err, out.String()
}

func TestRun_CleanServerHasNothingLostOrDuplicated(t *testing.T) {
	cases := []struct {
		scenario, transport string
	}{
		{ScenarioDM, TransportWS},
		{ScenarioDM, TransportSSE},
		{ScenarioBroadcast, TransportWS},
		{ScenarioMixed, TransportSSE},
	}
	for _, tc := range cases {
		t.Run(tc.scenario+"/"+tc.transport, func(t *testing.T) {
			f := newFakeServer(t)
			rep, err, out := runAgainst(t, f, Options{
				Users: 5, ConnectionsPerUser: 2, Senders: 4, Messages: 200,
				Scenario: tc.scenario, Transport: tc.transport,
			})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, out)
			}
			if rep.Lost != 0 || rep.Duplicated != 0 || rep.Unexpected != 0 || rep.HistoryMissing != 0 || rep.HistoryDuplicated != 0 {
				t.Fatalf("clean server: lost=%d dup=%d unexpected=%d history missing=%d dup=%d\n%s",
					rep.Lost, rep.Duplicated, rep.Unexpected, rep.HistoryMissing, rep.HistoryDuplicated, out)
			}
			if rep.Accepted != 200 {
				t.Errorf("accepted = %d, want 200", rep.Accepted)
			}
			if rep.ExpectedDeliveries != f.sent.Load() || rep.Deliveries != f.sent.Load() {
				t.Errorf("expected=%d measured=%d deliveries, the fake wrote %d", rep.ExpectedDeliveries, rep.Deliveries, f.sent.Load())
			}
			if rep.EndToEndLatency.Count != rep.Deliveries || rep.AcceptLatency.Count != rep.Accepted {
				t.Errorf("latency counts: e2e %d (want %d), accept %d (want %d)",
					rep.EndToEndLatency.Count, rep.Deliveries, rep.AcceptLatency.Count, rep.Accepted)
			}
			if rep.HistoryUsersChecked != 5 {
				t.Errorf("history checked for %d users, want 5", rep.HistoryUsersChecked)
			}
			if rep.EchoDeliveries == 0 {
				t.Errorf("no sender echoes counted; the fake sends every message to its sender's connections")
			}
			if !strings.Contains(out, "OK: nothing lost") {
				t.Errorf("report does not say OK:\n%s", out)
			}
		})
	}
}

func TestRun_CountsExactlyWhatTheServerDroppedAndRepeated(t *testing.T) {
	for _, tc := range []struct{ scenario, transport string }{
		{ScenarioDM, TransportWS},
		{ScenarioBroadcast, TransportSSE},
		{ScenarioMixed, TransportWS},
	} {
		t.Run(tc.scenario+"/"+tc.transport, func(t *testing.T) {
			f := newFakeServer(t)
			// Deterministic faults spread over messages and connections.
			f.copies = func(seq int, c *fakeConn) int {
				switch {
				case seq%7 == 0 && c.u.code[len(c.u.code)-1]%2 == 0:
					return 0
				case seq%5 == 0:
					return 2
				case seq%11 == 0:
					return 3
				}
				return 1
			}
			rep, err, out := runAgainst(t, f, Options{
				Users: 4, ConnectionsPerUser: 2, Senders: 3, Messages: 150,
				Scenario: tc.scenario, Transport: tc.transport, HistorySample: -1,
			})
			if !errors.Is(err, ErrCorrectness) {
				t.Fatalf("Run error = %v, want ErrCorrectness\n%s", err, out)
			}
			if f.dropped.Load() == 0 || f.repeated.Load() == 0 {
				t.Fatalf("the fake injected no faults (dropped %d, repeated %d)", f.dropped.Load(), f.repeated.Load())
			}
			if rep.Lost != f.dropped.Load() {
				t.Errorf("lost = %d, the fake dropped %d", rep.Lost, f.dropped.Load())
			}
			if rep.Duplicated != f.repeated.Load() {
				t.Errorf("duplicated = %d, the fake repeated %d", rep.Duplicated, f.repeated.Load())
			}
			if rep.Unexpected != 0 || rep.EchoDuplicated != 0 {
				t.Errorf("unexpected = %d, echo duplicated = %d; want 0", rep.Unexpected, rep.EchoDuplicated)
			}
			if !strings.Contains(out, "FAIL") {
				t.Errorf("report does not say FAIL:\n%s", out)
			}
		})
	}
}

func TestRun_DMSeenByAThirdUserIsUnexpected(t *testing.T) {
	f := newFakeServer(t)
	f.leakTo = "U00000"
	rep, err, out := runAgainst(t, f, Options{Users: 3, Messages: 60, HistorySample: -1})
	if !errors.Is(err, ErrCorrectness) {
		t.Fatalf("Run error = %v, want ErrCorrectness\n%s", err, out)
	}
	if rep.Unexpected == 0 || rep.Lost != 0 || rep.Duplicated != 0 {
		t.Errorf("unexpected=%d lost=%d dup=%d; want unexpected>0, no loss, no dup", rep.Unexpected, rep.Lost, rep.Duplicated)
	}
}

func TestRun_HistoryDuplicateIsReported(t *testing.T) {
	f := newFakeServer(t)
	f.histDup = 9
	rep, err, out := runAgainst(t, f, Options{Users: 3, Messages: 90})
	if !errors.Is(err, ErrCorrectness) {
		t.Fatalf("Run error = %v, want ErrCorrectness\n%s", err, out)
	}
	if rep.HistoryDuplicated != f.histDups.Load() || rep.HistoryMissing != 0 {
		t.Errorf("history duplicated = %d (fake wrote %d extra), missing = %d", rep.HistoryDuplicated, f.histDups.Load(), rep.HistoryMissing)
	}
}

func TestRun_WritesJSONReport(t *testing.T) {
	f := newFakeServer(t)
	path := filepath.Join(t.TempDir(), "report.json")
	rep, err, out := runAgainst(t, f, Options{Users: 2, Messages: 20, JSONPath: path})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	if got.Accepted != rep.Accepted || got.RunID != rep.RunID || got.EndToEndLatency.Count == 0 {
		t.Errorf("JSON report %+v does not match %+v", got, rep)
	}
}

func TestRun_IdleReportsRSSPerConnection(t *testing.T) {
	f := newFakeServer(t)
	rep, err, out := runAgainst(t, f, Options{Scenario: ScenarioIdle, Users: 3, ConnectionsPerUser: 4, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if rep.Idle == nil {
		t.Fatal("no idle report")
	}
	if rep.Idle.Connections != 12 || rep.Idle.ServerConnections != 12 {
		t.Errorf("connections %d, server saw %g; want 12", rep.Idle.Connections, rep.Idle.ServerConnections)
	}
	if rep.Idle.RSSPerConnBytes != fakeRSSPerConn || rep.Idle.RSSPerConnEndBytes != fakeRSSPerConn {
		t.Errorf("RSS per connection = %g (end %g), want %d", rep.Idle.RSSPerConnBytes, rep.Idle.RSSPerConnEndBytes, fakeRSSPerConn)
	}
	if rep.Idle.HeapStackPerConnBytes != fakeHeapPerConn+8192 || rep.Idle.GoroutinesPerConn != 2 {
		t.Errorf("heap+stack per connection = %g, goroutines %g; want %d, 2", rep.Idle.HeapStackPerConnBytes, rep.Idle.GoroutinesPerConn, fakeHeapPerConn+8192)
	}
}

func TestRun_HistoryScenarioSeedsAndPages(t *testing.T) {
	f := newFakeServer(t)
	rep, err, out := runAgainst(t, f, Options{Scenario: ScenarioHistory, Users: 2, Messages: 300, Senders: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if rep.History == nil || rep.History.SeededMessages != 300 || rep.History.Pages == 0 || rep.History.Latency.Count != rep.History.Pages {
		t.Fatalf("history report %+v", rep.History)
	}
	if rep.Lost != 0 || rep.HistoryMissing != 0 {
		t.Errorf("lost %d, history missing %d", rep.Lost, rep.HistoryMissing)
	}
}

func TestRun_ErrorsAreCountedByStatus(t *testing.T) {
	f := newFakeServer(t)
	f.rejectEvery = 10
	rep, err, out := runAgainst(t, f, Options{Users: 3, Messages: 100})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if f.rejected.Load() == 0 || rep.Errors["429"] != f.rejected.Load() {
		t.Errorf("errors = %v, the fake answered 429 %d times", rep.Errors, f.rejected.Load())
	}
	if rep.Accepted+rep.Errors["429"] != 100 {
		t.Errorf("accepted %d + rejected %d != 100 attempts", rep.Accepted, rep.Errors["429"])
	}
}

func TestRun_SetupFailureIsAnError(t *testing.T) {
	f := newFakeServer(t)
	var out bytes.Buffer
	_, err := Run(context.Background(), Options{Target: f.srv.URL + "/nope", Users: 2, Messages: 1, Out: &out})
	var se *statusError
	if !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("Run against a wrong base path: %v, want a 404 status error", err)
	}
}

// A 429 on sends is the server's per-user send limit, not a fault: the
// report says so and how to measure past it.
func TestRun_RateLimitedSendsAreExplainedInANote(t *testing.T) {
	f := newFakeServer(t)
	f.rejectEvery = 10
	rep, err, out := runAgainst(t, f, Options{Users: 3, Messages: 50})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "spec.messaging.sendRateLimit") || !strings.Contains(out, "sendRateLimit") {
		t.Errorf("no note on the send limit: notes %q\n%s", rep.Notes, out)
	}
	clean := newFakeServer(t)
	rep, _, _ = runAgainst(t, clean, Options{Users: 3, Messages: 20})
	if strings.Contains(strings.Join(rep.Notes, "\n"), "sendRateLimit") {
		t.Errorf("a note on the send limit without any 429: %q", rep.Notes)
	}
}
