package main

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/messager/messager/internal/runtimetune"
	"github.com/messager/messager/internal/testsupport"
)

// `messager all` on the defaults restarts itself with sysmon kept awake and,
// idle, runs on one P; with spec.runtime.adaptiveScheduling false it does
// neither.
func TestAll_AdaptiveSchedulingByDefaultAndOffWhenConfigured(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the messager binary")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the child's environment from /proc")
	}
	if os.Getenv("GOMAXPROCS") != "" || strings.Contains(os.Getenv("GODEBUG"), "schedtrace") {
		t.Skip("GOMAXPROCS or GODEBUG schedtrace is set here, and the child would keep it")
	}
	bin := testsupport.MessagerBinary(t)

	t.Run("default", func(t *testing.T) {
		p := testsupport.StartMessager(t, bin, testsupport.Options{Args: []string{"all", "--data-dir", t.TempDir()}, StopGrace: 10 * time.Second})
		if got := childGODEBUG(t, p.Pid()); !strings.Contains(got, runtimetune.SysmonAwakeSetting) {
			t.Errorf("GODEBUG %q, want it to hold %s", got, runtimetune.SysmonAwakeSetting)
		}
		if runtime.NumCPU() < 2 {
			return // one CPU: one P either way
		}
		deadline := time.Now().Add(20 * time.Second)
		for procs := gomaxprocs(t, p.URL); procs != "1"; procs = gomaxprocs(t, p.URL) {
			if time.Now().After(deadline) {
				t.Fatalf("idle for 20 s and still on %s Ps", procs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("off", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "messager.yaml")
		doc := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: t}\nspec: {runtime: {adaptiveScheduling: false}}\n"
		if err := os.WriteFile(conf, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		p := testsupport.StartMessager(t, bin, testsupport.Options{Args: []string{"all", "--config", conf, "--data-dir", t.TempDir()}, StopGrace: 10 * time.Second})
		if got := childGODEBUG(t, p.Pid()); strings.Contains(got, "schedtrace") {
			t.Errorf("GODEBUG %q with adaptive scheduling off", got)
		}
		// Give a governor, were one running, time to act (it reads the CPU
		// every 500 ms), then find the runtime's default P count.
		time.Sleep(1500 * time.Millisecond)
		if many := runtime.GOMAXPROCS(0); many > 1 && gomaxprocs(t, p.URL) == "1" {
			t.Errorf("on one P with adaptive scheduling off, where the runtime's default is %d", many)
		}
	})
}

// childGODEBUG is the GODEBUG in a process's environment, as it started.
func childGODEBUG(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	for kv := range strings.SplitSeq(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			return v
		}
	}
	return ""
}

// gomaxprocs is the go_sched_gomaxprocs_threads a messager's /metrics reports.
func gomaxprocs(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_sched_gomaxprocs_threads "); ok {
			return v
		}
	}
	t.Fatalf("no go_sched_gomaxprocs_threads in %s/metrics (%v)", base, sc.Err())
	return ""
}
