package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/messager/messager/pkg/bench"
)

// newBenchCmd is `messager bench`: flags to bench.Options, nothing else.
func newBenchCmd() *cobra.Command {
	var o bench.Options
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a running messager over its public API",
		Long: `bench registers fresh users on a running messager, opens their streams and
drives it like real browser clients, then reports accept and end-to-end
latency (p50/p90/p99/max), throughput, errors by status, and correctness:
every accepted message must arrive exactly once on every recipient's
connection and be in history exactly once. It exits non-zero when any
message was lost or duplicated.

Scenarios: dm, broadcast, mixed (90% dm), idle (server RSS per open
connection, from /metrics), history (seed --messages, then page history).
Only loopback targets are allowed unless listed in --allow-remote.`,
		Example: `  messager bench --users 20 --messages 500
  messager bench --scenario broadcast --users 100 --senders 4 --duration 30s --json broadcast.json
  messager bench --scenario idle --users 100 --connections-per-user 100 --duration 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, err := bench.Run(ctx, o)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Target, "target", bench.DefaultTarget, "base URL of the messager to drive")
	fl.StringSliceVar(&o.AllowRemote, "allow-remote", nil, "non-loopback hosts (host or host:port) that may be targeted")
	fl.IntVar(&o.Users, "users", bench.DefaultUsers, "users to register and sign in")
	fl.IntVar(&o.ConnectionsPerUser, "connections-per-user", 1, "streams opened per user")
	fl.StringVar(&o.Transport, "transport", bench.TransportWS, "stream transport: ws or sse")
	fl.StringVar(&o.Scenario, "scenario", bench.ScenarioDM, "dm, broadcast, mixed, idle or history")
	fl.IntVar(&o.Senders, "senders", bench.DefaultSenders, "concurrent senders (history: concurrent readers)")
	fl.Float64Var(&o.Rate, "rate", 0, "overall messages/s; 0 sends as fast as the server accepts")
	fl.DurationVar(&o.Duration, "duration", 0, "measured phase length (default 10s unless --messages is set; idle: hold time; history: paging time)")
	fl.IntVar(&o.Messages, "messages", 0, "messages to send in the measured phase (history: messages to seed, default 1000)")
	fl.DurationVar(&o.Warmup, "warmup", 0, "send for this long first, not measured")
	fl.DurationVar(&o.Drain, "drain", bench.DefaultDrain, "after sending, give up waiting for deliveries once none arrived for this long")
	fl.IntVar(&o.HistorySample, "history-sample", bench.DefaultHistorySample, "users whose history is checked (negative: skip)")
	fl.StringVar(&o.JSONPath, "json", "", "also write the report as JSON to this file")
	return cmd
}
