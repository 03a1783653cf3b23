package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one run. Latencies are in microseconds; the
// JSON form (--json) is stable for scripts and docs/benchmarks.md.
type Report struct {
	RunID              string    `json:"run_id"`
	Target             string    `json:"target"`
	Scenario           string    `json:"scenario"`
	Transport          string    `json:"transport"`
	Users              int       `json:"users"`
	ConnectionsPerUser int       `json:"connections_per_user"`
	Connections        int       `json:"connections"`
	Senders            int       `json:"senders"`
	Rate               float64   `json:"rate"`
	StartedAt          time.Time `json:"started_at"`
	// Duration is the measured phase, from the first measured POST to the
	// last measured 202, in seconds.
	Duration float64 `json:"duration_s"`

	Accepted         int64            `json:"accepted"`
	WarmupAccepted   int64            `json:"warmup_accepted"`
	AcceptedPerSec   float64          `json:"accepted_per_s"`
	Deliveries       int64            `json:"deliveries"`
	DeliveriesPerSec float64          `json:"deliveries_per_s"`
	AcceptLatency    LatencySummary   `json:"accept_latency"`
	EndToEndLatency  LatencySummary   `json:"end_to_end_latency"`
	Errors           map[string]int64 `json:"errors"`

	// Correctness, over every accepted message including the warmup.
	ExpectedDeliveries int64 `json:"expected_deliveries"`
	Lost               int64 `json:"lost"`       // expected on a recipient connection, never arrived
	Duplicated         int64 `json:"duplicated"` // extra arrivals of an id on one recipient connection
	Unexpected         int64 `json:"unexpected"` // arrived on a connection of a user it was not for
	EchoDeliveries     int64 `json:"echo_deliveries"`
	EchoDuplicated     int64 `json:"echo_duplicated"`
	Disconnects        int64 `json:"disconnects"`
	DrainComplete      bool  `json:"drain_complete"`

	HistoryUsersChecked int   `json:"history_users_checked"`
	HistoryMissing      int64 `json:"history_missing"`
	HistoryDuplicated   int64 `json:"history_duplicated"`

	Idle    *IdleReport    `json:"idle,omitempty"`
	History *HistoryReport `json:"history,omitempty"`
	// CPU is the server side's cost of the measured window, when
	// --cpu-from, --cpu-redis or --cpu-postgres name where to read it.
	CPU   *CPUReport `json:"cpu,omitempty"`
	Notes []string   `json:"notes,omitempty"`
}

// IdleReport is the idle scenario's memory figure, from the server's
// process_resident_memory_bytes.
type IdleReport struct {
	Connections        int     `json:"connections"`
	RSSBeforeBytes     float64 `json:"rss_before_bytes"`
	RSSAfterBytes      float64 `json:"rss_after_bytes"`
	RSSEndBytes        float64 `json:"rss_end_bytes"`
	RSSPerConnBytes    float64 `json:"rss_per_connection_bytes"`
	RSSPerConnEndBytes float64 `json:"rss_per_connection_end_bytes"`
	// HeapStackPerConnBytes is the growth of the Go heap and stacks in use
	// per connection: less noisy than RSS, which lags what Go releases.
	HeapStackPerConnBytes float64 `json:"heap_stack_per_connection_bytes"`
	GoroutinesPerConn     float64 `json:"goroutines_per_connection"`
	ServerConnections     float64 `json:"server_stream_connections"`
	HeldSeconds           float64 `json:"held_s"`
}

// HistoryReport is the history scenario's paging figure.
type HistoryReport struct {
	SeededMessages int64          `json:"seeded_messages"`
	SeedSeconds    float64        `json:"seed_s"`
	Pages          int64          `json:"pages"`
	PagesPerSec    float64        `json:"pages_per_s"`
	PageSize       int            `json:"page_size"`
	Latency        LatencySummary `json:"page_latency"`
}

func (r *Report) correctnessError() error {
	var bad []string
	add := func(n int64, what string) {
		if n > 0 {
			bad = append(bad, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Lost, "lost")
	add(r.Duplicated, "duplicated")
	add(r.Unexpected, "delivered to a user they were not for")
	add(r.HistoryMissing, "missing from history")
	add(r.HistoryDuplicated, "duplicated in history")
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrCorrectness, strings.Join(bad, ", "))
}

func ms(us int64) string { return fmt.Sprintf("%.2f ms", float64(us)/1000) }

func latencyRow(w io.Writer, name string, l LatencySummary) {
	if l.Count == 0 {
		fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\t0\n", name)
		return
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", name, ms(l.P50us), ms(l.P90us), ms(l.P99us), ms(l.P999us), ms(l.MaxUs), l.Count)
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// print writes the human-readable report.
func (r *Report) print(out io.Writer) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "messager bench  run %s  %s  scenario=%s transport=%s users=%d conns=%d senders=%d rate=%s\n",
		r.RunID, r.Target, r.Scenario, r.Transport, r.Users, r.Connections, r.Senders, rateString(r.Rate))
	switch {
	case r.Idle != nil:
		i := r.Idle
		fmt.Fprintf(w, "connections\t%d (server reports %.0f)\n", i.Connections, i.ServerConnections)
		fmt.Fprintf(w, "server RSS\tbefore %s\tafter open %s\tafter %.0fs %s\n", mib(i.RSSBeforeBytes), mib(i.RSSAfterBytes), i.HeldSeconds, mib(i.RSSEndBytes))
		fmt.Fprintf(w, "RSS per connection\t%.1f KiB\t(at end %.1f KiB)\n", i.RSSPerConnBytes/1024, i.RSSPerConnEndBytes/1024)
		fmt.Fprintf(w, "Go heap+stack per connection\t%.1f KiB\t%.1f goroutines per connection\n", i.HeapStackPerConnBytes/1024, i.GoroutinesPerConn)
	default:
		if r.History != nil {
			h := r.History
			fmt.Fprintf(w, "seeded\t%d messages in %.1fs\n", h.SeededMessages, h.SeedSeconds)
			fmt.Fprintf(w, "history pages\t%d in %.1fs\t%.0f pages/s (limit=%d)\n", h.Pages, r.Duration, h.PagesPerSec, h.PageSize)
			fmt.Fprintln(w, "latency\tp50\tp90\tp99\tp99.9\tmax\tcount")
			latencyRow(w, "history page", h.Latency)
		} else {
			fmt.Fprintf(w, "accepted\t%d in %.2fs\t%.0f msg/s\t(+%d warmup)\n", r.Accepted, r.Duration, r.AcceptedPerSec, r.WarmupAccepted)
			fmt.Fprintf(w, "deliveries\t%d\t%.0f /s\n", r.Deliveries, r.DeliveriesPerSec)
			fmt.Fprintln(w, "latency\tp50\tp90\tp99\tp99.9\tmax\tcount")
			latencyRow(w, "accept (POST→202)", r.AcceptLatency)
			latencyRow(w, "end-to-end (POST→stream)", r.EndToEndLatency)
		}
		fmt.Fprintf(w, "correctness\texpected %d\tlost %d\tduplicated %d\tunexpected %d\n", r.ExpectedDeliveries, r.Lost, r.Duplicated, r.Unexpected)
		fmt.Fprintf(w, "sender echoes\t%d\tduplicated %d\n", r.EchoDeliveries, r.EchoDuplicated)
		fmt.Fprintf(w, "history\t%d users checked\tmissing %d\tduplicated %d\n", r.HistoryUsersChecked, r.HistoryMissing, r.HistoryDuplicated)
	}
	if r.CPU != nil {
		r.CPU.print(w)
	}
	fmt.Fprintf(w, "disconnects\t%d\n", r.Disconnects)
	if len(r.Errors) == 0 {
		fmt.Fprintln(w, "errors\tnone")
	} else {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s×%d", k, r.Errors[k])
		}
		fmt.Fprintf(w, "errors\t%s\n", strings.Join(parts, " "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note\t%s\n", n)
	}
	if err := r.correctnessError(); err != nil {
		fmt.Fprintf(w, "RESULT\tFAIL: %v\n", err)
	} else if r.Idle == nil {
		fmt.Fprintln(w, "RESULT\tOK: nothing lost, nothing duplicated")
	}
	_ = w.Flush()
}

func rateString(r float64) string {
	if r == 0 {
		return "max"
	}
	return fmt.Sprintf("%g/s", r)
}
