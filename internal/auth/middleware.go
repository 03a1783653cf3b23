package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/messager/messager/internal/httpapi"
)

// CookieName is the session cookie.
const CookieName = "messager_session"

type ctxKey int

const (
	principalKey ctxKey = iota
	tokenKey
)

// WithPrincipal stores the authenticated caller and its token in ctx.
func WithPrincipal(ctx context.Context, p Principal, token string) context.Context {
	return context.WithValue(context.WithValue(ctx, principalKey, p), tokenKey, token)
}

// PrincipalFrom returns the authenticated caller of the request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

// TokenFrom returns the session token the request was authenticated with.
func TokenFrom(ctx context.Context) string {
	s, _ := ctx.Value(tokenKey).(string)
	return s
}

// Authenticator is the HTTP middleware that resolves the session of a
// request from `Authorization: Bearer <token>` or the session cookie.
type Authenticator struct {
	svc     Service
	origins httpapi.Origins
	errors  *httpapi.Classifier
}

// NewAuthenticator returns the middleware. allowedOrigins are the extra
// origins (besides the serving host) whose cookie-authenticated
// state-changing requests are accepted; errs answers its errors and must
// have auth's registered (RegisterErrors).
func NewAuthenticator(svc Service, allowedOrigins []string, errs *httpapi.Classifier) *Authenticator {
	return &Authenticator{svc: svc, origins: httpapi.NewOrigins(allowedOrigins), errors: errs}
}

// Require authenticates the request or answers 401 (403 for a
// cookie-authenticated state-changing request from a foreign origin).
func (a *Authenticator) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, fromCookie := TokenFromRequest(r)
		if token == "" {
			httpapi.WriteProblem(w, r, a.errors.Problem(ErrUnauthenticated))
			return
		}
		if fromCookie && !safeMethod(r.Method) && !a.origins.Allowed(r) {
			httpapi.WriteProblem(w, r, crossOrigin())
			return
		}
		p, err := a.svc.Authenticate(r.Context(), token)
		if err != nil {
			httpapi.WriteProblem(w, r, a.errors.Problem(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p, token)))
	})
}

// RequireOrSignIn is Require for pages a person opens in a browser (the
// task monitor): a browser navigation (GET or HEAD accepting text/html)
// without a valid session is sent with 303 to signInPath with
// ?next=<the path asked for>, where the web UI signs the person in and
// comes back. Every other request is answered as Require answers it, so
// API clients still get a problem+json 401.
func (a *Authenticator) RequireOrSignIn(signInPath string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		required := a.Require(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !browserNavigation(r) {
				required.ServeHTTP(w, r)
				return
			}
			token, _ := TokenFromRequest(r)
			if token != "" {
				_, err := a.svc.Authenticate(r.Context(), token)
				if !errors.Is(err, ErrUnauthenticated) {
					// Signed in, or the session store is down: Require
					// answers (a 503 is the truth, not a sign-in page).
					required.ServeHTTP(w, r)
					return
				}
			}
			http.Redirect(w, r, signInPath+"?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
		})
	}
}

// browserNavigation reports whether r is a browser loading a page: a GET
// or HEAD whose Accept names text/html (fetch and XHR calls do not).
func browserNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// SameOrigin refuses with 403 a request whose Origin is neither the
// serving host nor allowed: for endpoints that set the session cookie.
func (a *Authenticator) SameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.origins.Allowed(r) {
			httpapi.WriteProblem(w, r, crossOrigin())
			return
		}
		next.ServeHTTP(w, r)
	})
}

func crossOrigin() *httpapi.Problem {
	return httpapi.NewProblem(http.StatusForbidden, "cross-origin request refused: the Origin is not allowed")
}

// TokenFromRequest returns the bearer token, else the cookie's, and
// whether it came from the cookie.
func TokenFromRequest(r *http.Request) (token string, fromCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), false
		}
		return "", false
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value, true
	}
	return "", false
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
