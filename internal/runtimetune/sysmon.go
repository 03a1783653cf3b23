package runtimetune

import (
	"fmt"
	"os"
	"strings"
)

// SysmonAwakeSetting is the GODEBUG entry that keeps sysmon out of its deep
// sleep. schedtrace=N also prints one line of scheduler state to stderr
// every N ms; N is the largest the runtime accepts (about 24.8 days), so a
// process prints one such line at start only on a machine up longer than
// that, and otherwise none. A crash also prints the scheduler's state.
const SysmonAwakeSetting = "schedtrace=2147483647"

// SysmonEnv returns environ with SysmonAwakeSetting added to GODEBUG, and
// whether it added it. It adds nothing when GODEBUG already sets schedtrace:
// an operator's own value wins. Of several GODEBUG entries it keeps the
// first, the one both os.Getenv and the runtime read.
func SysmonEnv(environ []string) ([]string, bool) {
	out := make([]string, 0, len(environ)+1)
	found := false
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if name != "GODEBUG" {
			out = append(out, kv)
			continue
		}
		if found {
			continue // a second GODEBUG entry: the first is the one getenv reads
		}
		found = true
		if setsSchedtrace(value) {
			return environ, false
		}
		if value == "" {
			kv = "GODEBUG=" + SysmonAwakeSetting
		} else {
			kv = "GODEBUG=" + value + "," + SysmonAwakeSetting
		}
		out = append(out, kv)
	}
	if !found {
		out = append(out, "GODEBUG="+SysmonAwakeSetting)
	}
	return out, true
}

func setsSchedtrace(godebug string) bool {
	for _, kv := range strings.Split(godebug, ",") {
		if name, _, _ := strings.Cut(strings.TrimSpace(kv), "="); name == "schedtrace" {
			return true
		}
	}
	return false
}

// KeepSysmonAwake replaces the running process with a fresh start of the
// same executable, arguments and environment plus SysmonAwakeSetting, so
// the runtime reads it at start (it reads GODEBUG's schedtrace nowhere
// else). The process keeps its PID, its parent and its standard streams (Go
// opens every other descriptor close-on-exec, so none leaks). It returns
// nil without doing anything when the setting is already there (the fresh
// start itself), and an error, having changed nothing, when the process
// cannot be replaced: the caller then runs on without it.
//
// Call it first thing, before any goroutine or listener exists.
func KeepSysmonAwake() error {
	env, changed := SysmonEnv(os.Environ())
	if !changed {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("keep sysmon awake: %w", err)
	}
	if err := execve(exe, os.Args, env); err != nil {
		return fmt.Errorf("keep sysmon awake: re-executing %s: %w", exe, err)
	}
	return nil // not reached: execve returns only on failure
}
