package app

import (
	"errors"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/httpapi"
	"github.com/messager/messager/internal/messaging"
	"github.com/messager/messager/internal/storage"
)

// errorClassifier is the process's one error → HTTP status mapping,
// assembled once and handed to every transport.
func (a *App) errorClassifier() *httpapi.Classifier {
	c := &httpapi.Classifier{}
	auth.RegisterErrors(c)
	messaging.RegisterErrors(c)
	c.Dependency("redis", storage.IsRedisDown)
	c.Dependency("the database", func(err error) bool { return errors.Is(err, storage.ErrUnavailable) })
	return c
}
