package app

import (
	"context"
	"net/http"
	"time"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/httpapi"
	"github.com/messager/messager/internal/messaging"
	"github.com/messager/messager/internal/presence"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/stream"
)

// Sizes the API is assembled with.
const (
	// streamPingEvery is how often a stream pings its client.
	streamPingEvery = 25 * time.Second
	// hubBuffer is how many live frames one stream may have queued; a
	// stream that falls further behind is closed and its client resumes
	// with after= (stream.NewHub).
	hubBuffer = 1024
	// recipientCacheSize is how many usercode → user lookups the send
	// path keeps (an LRU in front of the database).
	recipientCacheSize = 100_000
	// typingCacheSize is the same for typing signals, which name their
	// recipient by usercode too; a miss costs one indexed lookup.
	typingCacheSize = 10_000
)

// apiServices are the API's services and handlers, each built once by
// buildAPI with its decorators; apiRouter only mounts them.
type apiServices struct {
	errs      *httpapi.Classifier
	authn     *auth.Authenticator
	auth      auth.Service
	presence  presence.Service
	messaging messaging.Service
	users     http.Handler
	typing    http.Handler
	streams   *stream.Handler
	admins    adminStore
}

// buildAPI builds every service the API serves, in one place: stores,
// decorators (logging, metrics, logout and presence hooks), handlers.
func (a *App) buildAPI() *apiServices {
	spec := a.cfg.Spec
	errs := a.errorClassifier()
	users := a.db.Users()
	messages := a.db.Messages()

	// Every request looks up its session, unless this pod did lately
	// (a.sessionCache): one command. Issued by many goroutines at once they
	// share pipelined round trips; a lone one goes straight to Redis.
	pipelined := storage.AutoPipeline(a.rdb)
	login, register := spec.Auth.LoginRateLimit, spec.Auth.RegisterRateLimit
	var authSvc auth.Service = auth.NewService(users, a.sessionCache.Store(auth.NewRedisSessions(pipelined)), auth.NewRedisLimiter(a.rdb), a.opts.PasswordHasher, auth.Options{
		SessionTTL:        spec.Auth.SessionTTL.D(),
		MinPasswordLength: spec.Auth.MinPasswordLength,
		Login:             auth.LoginLimits{Window: login.Window.D(), PerUserIP: login.PerUserIP, PerUser: login.PerUser, PerIP: login.PerIP},
		Register:          auth.RegisterLimits{Window: register.Window.D(), PerIP: register.PerIP},
		// On a laptop nobody runs `messager admin grant`: the first account is the admin.
		FirstUserAdmin: a.opts.Mode == ModeAll,
		OnLogin: func(ctx context.Context, p auth.Principal) {
			if err := a.tracker.Touch(ctx, p); err != nil {
				a.logger.WarnContext(ctx, "presence on login", "user_id", p.UserID, "err", err)
			}
		},
	})
	authSvc = auth.NewLoggingService(a.logger, auth.NewInstrumentingService(a.registry, authSvc))
	authn := auth.NewAuthenticator(authSvc, spec.HTTP.AllowedOrigins, errs)

	var presenceSvc presence.Service = presence.NewService(a.tracker)
	presenceSvc = presence.NewLoggingService(a.logger, presenceSvc)
	a.registry.MustRegister(presence.NewOnlineCollector(a.tracker))

	// A send is admitted (rate limit, client_id) with the group it joins:
	// one pipelined round trip per group, not one per send before it.
	admission := messaging.NewRedisAdmission(a.rdb, messaging.SendLimit(spec.Messaging.SendRateLimit), messaging.WithClientIDWindow(spec.Messaging.ClientIDWindow.D()))
	var msgSvc messaging.Service = messaging.NewService(messaging.NewCachedUsers(users, recipientCacheSize), a.tracker, messages, a.newGroupEnqueuer(admission.Gate()), a.bus, messaging.Limits{
		MaxBodyLength: spec.Messaging.MaxBodyLength, HistoryPageSize: spec.Messaging.HistoryPageSize, MaxPageSize: config.MaxHistoryPageSize,
	})
	msgSvc = messaging.NewLoggingService(a.logger, messaging.NewInstrumentingService(a.registry, msgSvc))

	// A logout ends the session's streams on every pod, and the user's
	// presence at once.
	authSvc = stream.EndStreamsOnLogout(authSvc, a.hub, a.bus, a.logger)
	authSvc = presence.EndOnLogout(authSvc, a.tracker, a.logger)
	// A user whose last stream closed goes offline after a short grace.
	streams := stream.NewHandler(a.hub, messaging.NewMailbox(messages), a.logger, spec.HTTP.AllowedOrigins, streamPingEvery, a.tracker.StreamOpened, stream.WithMaxStreamsPerUser(spec.HTTP.MaxStreamsPerUser), stream.WithHandlerMetrics(a.registry), stream.WithOnLastClose(a.tracker.StreamClosed))

	return &apiServices{
		errs: errs, authn: authn, auth: authSvc, presence: presenceSvc, messaging: msgSvc,
		users: a.usersHandler(users, authn, errs), typing: a.typingHandler(users, authn, errs),
		streams: streams, admins: users,
	}
}
