package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/stream"
	"github.com/messager/messager/internal/taskwake"
)

// unitsInOrder lists the process's components in start order; Shutdown
// stops them in the reverse order, so each outlives what depends on it:
//
//  1. event bus, presence tracker, session watch (api): they feed the
//     streams, so they stop after the HTTP server has closed them;
//  2. task wake-up listener: the dequeuers wait on it;
//  3. delivery writers, then the asynq servers (worker): the writers stop
//     only once every task handler has returned;
//  4. the group enqueuer (api): closed once no request can enqueue;
//  5. the admin listener, then the HTTP server: the first to stop, so
//     nothing new arrives while the rest drains.
func (a *App) unitsInOrder() []unit {
	var us []unit
	if a.hub != nil {
		every := stream.SessionCheckInterval(streamPingEvery, a.cfg.Spec.Auth.SessionTTL.D())
		sessions := auth.NewRedisSessions(a.rdb)
		us = append(us,
			unit{name: "event bus", run: func(ctx context.Context) error { return a.bus.Run(ctx, a.hub) }},
			unit{name: "presence tracker", run: func(ctx context.Context) error { a.tracker.Run(ctx, a.hub.ConnectedUsers); return nil }},
			// Streams whose session expired or was deleted end within every.
			unit{name: "session watch", run: func(ctx context.Context) error {
				a.hub.WatchSessions(ctx, sessions, every, a.logger)
				return nil
			}},
		)
	}
	if a.wake.signal != nil && a.embedded == nil {
		us = append(us, unit{name: "task wake-up listener", run: func(ctx context.Context) error {
			taskwake.Listen(ctx, a.rdb, a.taskChannel(), a.wake.signal, a.logger)
			return nil
		}})
	}
	if a.worker != nil {
		us = append(us,
			unit{name: "delivery writers", run: func(ctx context.Context) error { a.worker.Run(ctx); return nil }},
			a.asynqUnit(),
		)
	}
	if a.groups != nil {
		us = append(us, unit{name: "group enqueuer", run: func(ctx context.Context) error {
			<-ctx.Done()
			return a.groups.Close(drainContext(ctx))
		}})
	}
	if a.admin != nil {
		us = append(us, a.serverUnit("admin listener", a.admin, func() (net.Listener, error) {
			ln, err := listen(a.opts.MetricsListener, a.cfg.Spec.Observability.MetricsAddr, " (spec.observability.metricsAddr)")
			if err == nil {
				a.adminLn = ln
				a.logger.Info("metrics and profiles served on the admin listener only", "addr", ln.Addr().String())
			}
			return ln, err
		}, nil))
	}
	us = append(us, a.serverUnit("http server", a.srv, func() (net.Listener, error) {
		ln, err := listen(a.opts.Listener, a.cfg.Spec.HTTP.Addr, "")
		a.listener = ln
		return ln, err
	}, func() {
		if a.hub != nil {
			// Shutdown closed every stream (RegisterOnShutdown); WebSocket
			// streams run outside the server's goroutines, so wait for them.
			a.hub.Wait()
		}
	}))
	return us
}

// listen returns given when set (tests hand in their own listener), else
// a listener on addr; field names the config field addr came from.
func listen(given net.Listener, addr, field string) (net.Listener, error) {
	if given != nil {
		return given, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s%s: %w", addr, field, err)
	}
	return ln, nil
}

// serverUnit serves srv on the listener listen returns; stopping it stops
// accepting, lets requests in flight finish (bounded by the Shutdown's
// context) and then runs after, when set.
func (a *App) serverUnit(name string, srv *http.Server, listen func() (net.Listener, error), after func()) unit {
	var ln net.Listener
	return unit{
		name:  name,
		start: func() (err error) { ln, err = listen(); return err },
		run: func(ctx context.Context) error {
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			select {
			case err := <-served:
				return err // Serve never returns nil; the server was not shut down.
			case <-ctx.Done():
			}
			err := srv.Shutdown(drainContext(ctx))
			<-served // http.ErrServerClosed, at once
			if after != nil {
				after()
			}
			return err
		},
	}
}

// asynqUnit runs the asynq servers. Stopping it releases the idle
// dequeuers (or the servers would wait out idleFallback) and lets each
// server finish its running tasks or put them back on their queue within
// spec.worker.shutdownTimeout, so none is lost.
func (a *App) asynqUnit() unit {
	return unit{
		name: "asynq servers",
		start: func() error {
			for i, srv := range a.workers {
				if err := srv.Start(a.mux); err != nil {
					a.stopTaskWake()
					for _, started := range a.workers[:i] {
						started.Shutdown()
					}
					return fmt.Errorf("start worker: %w", err)
				}
			}
			a.tasks.SetUp(true)
			return nil
		},
		run: func(ctx context.Context) error {
			<-ctx.Done()
			a.tasks.SetUp(false)
			a.stopTaskWake()
			var wg sync.WaitGroup
			for _, srv := range a.workers {
				wg.Go(srv.Shutdown)
			}
			wg.Wait()
			return nil
		},
	}
}
