package app

import (
	"net/http"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
	"github.com/messager/messager/internal/messaging"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/typing"
	"github.com/messager/messager/internal/users"
)

// usersHandler serves /api/v1/users: finding people, online or not.
func (a *App) usersHandler(store *storage.Users, authn *auth.Authenticator, errs *httpapi.Classifier) http.Handler {
	var svc users.Service = users.NewService(store, a.tracker, auth.NewRedisLimiter(a.rdb))
	svc = users.NewLoggingService(a.logger, svc)
	return users.MakeHandler(svc, authn, errs)
}

// typingHandler serves /api/v1/typing: ephemeral typing events for DMs.
func (a *App) typingHandler(store *storage.Users, authn *auth.Authenticator, errs *httpapi.Classifier) http.Handler {
	svc := typing.NewService(messaging.NewCachedUsers(store, typingCacheSize), typing.NewRedisGate(a.rdb), a.bus)
	return typing.MakeHandler(svc, authn, errs)
}
