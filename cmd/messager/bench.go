package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/messager/messager/internal/bench"
)

// newBenchCmd is `messager bench`: flags to bench.Options, nothing else.
func newBenchCmd() *cobra.Command {
	var o bench.Options
	var cpuFrom []string
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
Only loopback targets are allowed unless listed in --allow-remote.

Server cost: --cpu-from (each server process's metrics endpoint),
--cpu-redis and --cpu-postgres are read when the warm-up ends and when the
deliveries have drained (idle: over the hold), and the report gives the
CPU µs per message and per delivery of each process and in sum, Redis
commands and database transactions per message. On a shared machine this,
not throughput, is the figure to compare.`,
		Example: `  messager bench --users 20 --messages 500
  messager bench --scenario broadcast --users 100 --senders 4 --duration 30s --json broadcast.json
  messager bench --scenario idle --users 100 --connections-per-user 100 --duration 30s
  messager bench --senders 32 --duration 30s --warmup 5s \
    --cpu-from api=http://127.0.0.1:9091 --cpu-from worker=http://127.0.0.1:9092 \
    --cpu-redis redis://127.0.0.1:6379/3 --cpu-postgres 'postgres://postgres@127.0.0.1:5432/messager?sslmode=disable'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			for _, s := range cpuFrom {
				src, err := bench.ParseCPUSource(s)
				if err != nil {
					return err
				}
				o.CPUFrom = append(o.CPUFrom, src)
			}
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
	fl.StringVar(&o.MetricsURL, "metrics-url", "", "the server's metrics endpoint for the idle scenario (default TARGET/metrics; with spec.observability.metricsAddr it is on that address)")
	fl.StringArrayVar(&cpuFrom, "cpu-from", nil, "[NAME=]URL of a server process's metrics endpoint (process_cpu_seconds_total); repeat for each process, e.g. api=http://127.0.0.1:9091")
	fl.StringVar(&o.CPURedis, "cpu-redis", "", "Redis URL whose INFO gives Redis's CPU and commands per message (instance-wide)")
	fl.StringVar(&o.CPUPostgres, "cpu-postgres", "", "URL of the server's database: transactions per message (pg_stat_database) and, when local, its processes' CPU (/proc)")
	fl.StringVar(&o.JSONPath, "json", "", "also write the report as JSON to this file")
	return cmd
}
