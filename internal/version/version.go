// Package version says which build is running: the release version and
// the VCS revision, from the build info Go stamps into every binary, so a
// plain `go build`, `go run` or `go install` reports something true. A
// release build may set the version at link time with
// -ldflags "-X github.com/messager/messager/internal/version.Version=v1.2.3".
package version

import (
	"runtime/debug"
	"strings"
)

// Version is the release version set at link time; empty (or "dev") means
// "take it from the build info" (see Number).
var Version = ""

// Number returns the version: the one set at link time, else the main
// module's version from the build info (a tag or a pseudo-version such as
// v0.0.0-20260102150405-abcdef123456+dirty with `go install module@v` or a
// `go build` inside a checkout), else "devel".
func Number() string {
	if Version != "" && Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// String returns the version with the VCS revision, commit time and
// whether the tree had changes, when the build recorded them:
// "devel (revision 0123456789ab, 2026-01-02T15:04:05Z, modified)".
func String() string {
	v := Number()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	var details []string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && s.Value != "":
			details = append([]string{"revision " + s.Value[:min(12, len(s.Value))]}, details...)
		case s.Key == "vcs.time" && s.Value != "":
			details = append(details, s.Value)
		case s.Key == "vcs.modified" && s.Value == "true":
			details = append(details, "modified")
		}
	}
	if len(details) == 0 {
		return v
	}
	return v + " (" + strings.Join(details, ", ") + ")"
}

// Revision returns the VCS revision the binary was built from, with
// "+dirty" when the tree had changes, or "unknown".
func Revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "unknown", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && rev != "unknown" {
		rev += "+dirty"
	}
	return rev
}
