// Package e2e holds the browser end-to-end tests of messager: they build the
// real binary, run `messager all` on a fresh data dir and drive Debian's
// headless chromium through the web UI with chromedp, as people would use it.
//
// The tests skip unless MESSAGER_E2E=1 and a chromium is installed
// (/usr/bin/chromium, or MESSAGER_CHROMIUM), so a plain `go test ./...`
// passes on a machine without a browser:
//
//	MESSAGER_E2E=1 MESSAGER_E2E_SCREENSHOTS=/tmp/messager-shots go test -v -count=1 -timeout 15m ./e2e
//
// This package has no code of its own; everything is in its _test files.
package e2e
