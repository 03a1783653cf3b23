package app

import (
	"context"
	"strings"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/storage"
)

// SetAdmin grants (admin true) or revokes the admin role of the account
// named username in the configured database: `messager admin grant|revoke`.
// An unknown username is storage.ErrNotFound. The schema must be migrated.
func SetAdmin(ctx context.Context, cfg *config.Config, username string, admin bool) (auth.User, error) {
	db, err := storage.Open(ctx, cfg.Spec.Database.URL, cfg.Spec.DataDir)
	if err != nil {
		return auth.User{}, err
	}
	defer db.Close()
	u, err := db.Users().SetAdmin(ctx, strings.TrimSpace(username), admin)
	if err != nil {
		return auth.User{}, err
	}
	return auth.UserFrom(u), nil
}

// logAdmins says at start who may open the task monitor, or how someone
// will: an operator otherwise finds out from a 403.
func (a *App) logAdmins(ctx context.Context) {
	if !a.cfg.Spec.Observability.Asynqmon.Enabled {
		return
	}
	admins, anyAccount, err := a.db.Users().Admins(ctx)
	switch {
	case err != nil:
		a.logger.Warn("could not list the admins", "err", err)
	case len(admins) > 0:
		names := make([]string, len(admins))
		for i, u := range admins {
			names[i] = u.Username
		}
		a.logger.Info("task monitor admins (grant more with `messager admin grant USERNAME`)", "admins", strings.Join(names, ","), "path", "/monitoring/")
	case a.opts.Mode == ModeAll && !anyAccount:
		a.logger.Info("no account yet: the first account registered becomes the admin and may open /monitoring/; grant more with `messager admin grant USERNAME`")
	default:
		a.logger.Warn("no admin: /monitoring/ is closed to everyone until an operator runs `messager admin grant USERNAME`")
	}
}
