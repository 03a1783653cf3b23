// Command messager is the whole product in one binary: `messager all` runs
// everything on embedded defaults, `api` and `worker` are the scaled-out
// roles, `migrate` and `config` are for operators. It only wires flags to
// internal/app and internal/config; the decisions live in pkg/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/spf13/cobra"

	"github.com/messager/messager/internal/app"
	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/runtimetune"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/telemetry"
	"github.com/messager/messager/internal/version"
)

func main() {
	if err := newRootCmd(os.Stdout, os.Stderr).Execute(); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			os.Exit(int(exit))
		}
		fmt.Fprintln(os.Stderr, "messager:", err)
		os.Exit(1)
	}
}

// exitError ends the process with a status after the command printed its own output.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// runFlags are the flags of the commands that run the product.
type runFlags struct {
	configFile  string
	httpAddr    string
	metricsAddr string
	dataDir     string
	migrate     bool
	logFormat   string
	pprof       bool
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &runFlags{}
	root := &cobra.Command{
		Use:           "messager",
		Short:         "A horizontally scalable browser chat platform",
		Long:          "messager runs the chat API, real-time streams, web UI and task workers.\nWith no subcommand it runs `messager all`: everything in one process on an embedded Redis and SQLite.",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMode(cmd, f, app.ModeAll, stderr)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	addRunFlags(root, f, false)

	for _, m := range []struct {
		mode  app.Mode
		short string
	}{
		{app.ModeAll, "Run the API and the worker on embedded Redis and SQLite (the default)"},
		{app.ModeAPI, "Serve the HTTP API, streams and UI (real Redis and database)"},
		{app.ModeWorker, "Run the asynq worker that persists and delivers messages"},
	} {
		mf := &runFlags{}
		cmd := &cobra.Command{
			Use:   string(m.mode),
			Short: m.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return runMode(cmd, mf, m.mode, stderr)
			},
		}
		addRunFlags(cmd, mf, m.mode != app.ModeAll)
		root.AddCommand(cmd)
	}
	root.AddCommand(newMigrateCmd(), newAdminCmd(), newConfigCmd(), newVersionCmd(), newBenchCmd())
	return root
}

func addRunFlags(cmd *cobra.Command, f *runFlags, withMigrate bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.configFile, "config", "", "MessagerConfig YAML file (env MESSAGER_CONFIG)")
	fl.StringVar(&f.httpAddr, "http-addr", "", "listen address, default :8080 (env MESSAGER_HTTP_ADDR)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "admin listen address for /metrics and /debug/pprof/, e.g. :9091; empty serves them on the http address (env MESSAGER_METRICS_ADDR)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for the embedded SQLite database, default ./data (env MESSAGER_DATA_DIR)")
	fl.StringVar(&f.logFormat, "log-format", "", "log format: json or text (default: text for all, json otherwise)")
	fl.BoolVar(&f.pprof, "pprof", false, "serve Go profiles under /debug/pprof/ (exposes internals: never on a public port)")
	if withMigrate {
		fl.BoolVar(&f.migrate, "migrate", false, "migrate the database schema on start")
	}
}

// loadConfig applies the precedence: flags beat env, env beats the file,
// the file beats defaults.
func loadConfig(f *runFlags) (*config.Config, error) {
	path := f.configFile
	if path == "" {
		path = os.Getenv(config.EnvConfig)
	}
	cfg := config.Default()
	if path != "" {
		var err error
		if cfg, err = config.LoadFile(path); err != nil {
			return nil, err
		}
	}
	cfg.ApplyEnv(os.LookupEnv)
	if f.httpAddr != "" {
		cfg.Spec.HTTP.Addr = f.httpAddr
	}
	if f.metricsAddr != "" {
		cfg.Spec.Observability.MetricsAddr = f.metricsAddr
	}
	if f.dataDir != "" {
		cfg.Spec.DataDir = f.dataDir
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func newLogger(format string, mode app.Mode, sink *telemetry.LogSink) *slog.Logger {
	if format == "" {
		format = "json"
		if mode == app.ModeAll {
			format = "text"
		}
	}
	// Lines logged in a traced request carry its trace_id and span_id.
	// Warnings and errors are written out at once (LogSink.Handler).
	var h slog.Handler
	if format == "text" {
		h = slog.NewTextHandler(sink, nil)
	} else {
		h = slog.NewJSONHandler(sink, nil)
	}
	return slog.New(telemetry.LogHandler(sink.Handler(h)))
}

func runMode(cmd *cobra.Command, f *runFlags, mode app.Mode, stderr io.Writer) error {
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	if mode != app.ModeAll && cfg.Spec.Redis.URL == "" && cfg.Spec.Redis.Mode == config.RedisStandalone {
		return fmt.Errorf("%s needs a real Redis: set MESSAGER_REDIS_URL or spec.redis.url (use `messager all` for the embedded one)", mode)
	}
	// The access log is a line per request: written a batch at a time
	// (telemetry.LogSink), it costs a system call per batch, not per line.
	sink := telemetry.NewLogSink(stderr)
	defer func() { _ = sink.Close() }()
	logger := newLogger(f.logFormat, mode, sink)
	slog.SetDefault(logger)
	// A test binary that runs a mode in-process must not be replaced.
	tune := cfg.Spec.Runtime.AdaptiveScheduling && !testing.Testing()
	if tune {
		_ = sink.Flush() // the process image is replaced, buffer and all
		// Returns only if the process already runs with sysmon awake, or
		// cannot be restarted; nothing has started yet either way.
		if err := runtimetune.KeepSysmonAwake(); err != nil {
			logger.Warn("running with the runtime's default sysmon", "err", err)
		}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, app.Options{Config: cfg, Mode: mode, Migrate: f.migrate, Logger: logger, Pprof: f.pprof})
	if err != nil {
		return err
	}
	if tune {
		// Only now: app.New sizes what scales with the CPUs (the password
		// hashing slots) by GOMAXPROCS, which the governor then lowers.
		gctx, stopGovernor := context.WithCancel(ctx)
		governed := make(chan struct{})
		go func() {
			defer close(governed)
			runtimetune.NewGovernor(runtimetune.DefaultPolicy, logger).Run(gctx)
		}()
		defer func() { stopGovernor(); <-governed }()
	}
	return a.Run(ctx)
}

func newMigrateCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the pending versioned schema migrations, then exit",
		Long: "Apply the versioned migrations built into this binary that the database has not run yet, in order,\n" +
			"each in its own transaction, and record them in the schema_revisions table. Safe to run again and\n" +
			"from several processes at once; a database made by the automatic migration of earlier releases is\n" +
			"adopted at the first (baseline) migration.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(f)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := storage.Open(ctx, cfg.Spec.Database.URL, cfg.Spec.DataDir)
			if err != nil {
				return err
			}
			defer db.Close()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			if err := db.Migrate(ctx, storage.WithMigrateLogger(logger)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema migrated (%s)\n", db.Dialect())
			return nil
		},
	}
	cmd.Flags().StringVar(&f.configFile, "config", "", "MessagerConfig YAML file (env MESSAGER_CONFIG)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "directory for the embedded SQLite database (env MESSAGER_DATA_DIR)")
	return cmd
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Validate or print MessagerConfig documents"}
	var file string
	validate := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a MessagerConfig document; print every problem and exit 1 if there are any",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			cfg, err := config.Parse(data)
			if err != nil {
				var ve *config.ValidationError
				if errors.As(err, &ve) {
					for _, p := range ve.Problems {
						fmt.Fprintln(cmd.ErrOrStderr(), p.String())
					}
					return exitError(1)
				}
				return err
			}
			// What a start would build from the document beyond its fields.
			if err := telemetry.Check(cmd.Context(), cfg.Spec.Observability.Tracing); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return exitError(1)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", file)
			return nil
		},
	}
	validate.Flags().StringVarP(&file, "file", "f", "", "the document to check")
	_ = validate.MarkFlagRequired("file")
	defaults := &cobra.Command{
		Use:   "defaults",
		Short: "Print the complete default document",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := config.Default().YAML()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.AddCommand(validate, defaults)
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "messager", version.String())
		},
	}
}
