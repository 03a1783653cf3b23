package app

import (
	"errors"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
	"github.com/messager/messager/internal/messaging"
	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/typing"
	"github.com/messager/messager/internal/users"
)

// errorClassifier is the process's one error → HTTP status mapping,
// assembled once and handed to every transport.
func (a *App) errorClassifier() *httpapi.Classifier {
	c := &httpapi.Classifier{}
	auth.RegisterErrors(c)
	messaging.RegisterErrors(c)
	users.RegisterErrors(c)
	typing.RegisterErrors(c)
	// The database first: storage marks its outages ErrUnavailable, and a
	// dropped database connection can wrap the same EOF a dropped Redis
	// connection returns bare.
	c.Dependency("the database", func(err error) bool { return errors.Is(err, storage.ErrUnavailable) })
	c.Dependency("redis", storage.IsRedisDown)
	return c
}
