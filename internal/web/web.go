// Package web serves the browser chat UI: a handful of static files (HTML, CSS
// and vanilla ES modules) embedded into the binary, so running messager needs
// no Node toolchain.
//
// It owns only the static assets and the security headers that go with them
// (a strict Content-Security-Policy, nosniff, referrer policy). It must not
// serve or proxy API routes: the server mounts Handler for every path that is
// not under /api, /metrics, /monitoring, /healthz or /readyz, and the UI talks
// to the API same-origin with the session cookie.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/messager/messager/internal/httpapi"
)

//go:embed static
var staticFiles embed.FS

// ContentSecurityPolicy is sent with every response of Handler. It allows no
// inline script or style and no third-party origin, so a message body that
// somehow reached the DOM as markup still could not run.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; " +
	"base-uri 'none'; form-action 'self'"

// asset is one embedded file with a strong ETag computed from its content.
type asset struct {
	name    string
	content []byte
	etag    string
}

// Handler returns the handler for the UI: "/" (and "/index.html") is the app
// page, "/static/<file>" its assets, and anything else a 404. Responses carry
// Cache-Control: no-cache with a content ETag, so browsers revalidate cheaply
// and never run a stale script after an upgrade.
func Handler() http.Handler {
	assets := make(map[string]asset)
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		assets["/"+p] = asset{name: path.Base(p), content: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic("web: reading embedded files: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")

		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			httpapi.MethodNotAllowed(w, r)
			return
		}
		p := r.URL.Path
		if p == "/" || p == "/index.html" {
			p = "/static/index.html"
		}
		a, ok := assets[p]
		if !ok || strings.HasSuffix(p, "/") {
			httpapi.NotFound(w, r)
			return
		}
		ctype := mime.TypeByExtension(path.Ext(a.name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.content))
	})
}
