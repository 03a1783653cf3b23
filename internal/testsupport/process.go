package testsupport

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FreeAddr returns a 127.0.0.1 address nothing listens on at the moment,
// for a child process's listener (a child cannot be handed a net.Listener).
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Options say how Start and StartMessager run one process.
type Options struct {
	// Name labels the process in failure messages and its output.
	Name string
	// Args are its arguments. StartMessager appends "--http-addr
	// 127.0.0.1:0".
	Args []string
	// Env is added to the test's own environment.
	Env []string
	// ReadyURL is polled until it answers 200 before Start returns; none
	// when empty. StartMessager ignores it and polls the /readyz of the
	// address the process logs.
	ReadyURL string
	// ReadyTimeout bounds the wait for ReadyURL, and for StartMessager the
	// wait for the address and its /readyz together (30 s when zero).
	ReadyTimeout time.Duration
	// StopGrace is how long the cleanup waits after SIGTERM before it
	// SIGKILLs the process; zero SIGKILLs at once.
	StopGrace time.Duration
}

// Defaults for Options' zero values, and how much output a failure shows.
const (
	defaultReadyTimeout = 30 * time.Second
	stopTimeout         = 30 * time.Second
	failureTailLines    = 60
	readyPollInterval   = 50 * time.Millisecond
)

// Process is one child process of a test. Its output goes to a file in the
// test's temporary directory; when the test fails, the cleanup logs the
// file's tail.
type Process struct {
	Name string
	// Addr is the host:port of a messager's --http-addr, URL the same as
	// http://Addr; both are empty for other processes.
	Addr, URL string
	// LogPath is the file holding its stdout and stderr.
	LogPath string

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // set before exited is closed
}

// StartMessager starts the messager binary bin with o on a port it picks
// itself ("--http-addr 127.0.0.1:0"), learns the address from its
// "messager started" log line, waits until its /readyz answers 200 and
// stops it when the test ends. A port picked here and released could be
// taken before the child binds it (`messager all` binds its embedded
// Redis to an ephemeral port first), and the child would exit at start.
func StartMessager(t testing.TB, bin string, o Options) *Process {
	t.Helper()
	if o.Name == "" {
		o.Name = "messager"
	}
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = defaultReadyTimeout
	}
	deadline := time.Now().Add(timeout)
	o.Args = append(append([]string(nil), o.Args...), "--http-addr", "127.0.0.1:0")
	o.ReadyURL = ""
	p := Start(t, bin, o)
	p.Addr = p.waitAddr(t, deadline)
	p.URL = "http://" + p.Addr
	p.waitReady(t, p.URL+"/readyz", time.Until(deadline))
	return p
}

// startedLine finds the address in messager's "messager started" log
// line, in the JSON format (`"addr":"127.0.0.1:…"`) and the text one
// (`addr=127.0.0.1:…`).
var startedLine = regexp.MustCompile(`messager started.*\baddr\W{1,3}(\d{1,3}(?:\.\d{1,3}){3}:\d+)`)

// startedAddr returns the address log's "messager started" line names.
func startedAddr(log string) (string, bool) {
	m := startedLine.FindStringSubmatch(log)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// waitAddr reads the process's log until it says where it listens. It
// fails the test when the process exits or deadline passes first.
func (p *Process) waitAddr(t testing.TB, deadline time.Time) string {
	t.Helper()
	for {
		log, _ := p.Log()
		if addr, ok := startedAddr(log); ok {
			return addr
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it listened: %v\n%s", p.Name, p.waitErr, p.Tail(failureTailLines))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log where it listens in time\n%s", p.Name, p.Tail(failureTailLines))
		}
		time.Sleep(readyPollInterval)
	}
}

// Start starts bin with o, waits until o.ReadyURL answers 200 and stops the
// process when the test ends. It fails the test when the process exits or
// is not ready in time, showing its output.
func Start(t testing.TB, bin string, o Options) *Process {
	t.Helper()
	if o.Name == "" {
		o.Name = filepath.Base(bin)
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = defaultReadyTimeout
	}
	p := &Process{
		Name:    o.Name,
		LogPath: filepath.Join(t.TempDir(), o.Name+".log"),
		exited:  make(chan struct{}),
	}
	logf, err := os.Create(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, o.Args...)
	p.cmd.Env = append(os.Environ(), o.Env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", o.Name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.shutdown(o.StopGrace)
		if t.Failed() {
			t.Logf("--- %s output (last %d lines) ---\n%s", p.Name, failureTailLines, p.Tail(failureTailLines))
		}
	})
	if o.ReadyURL != "" {
		p.waitReady(t, o.ReadyURL, o.ReadyTimeout)
	}
	return p
}

func (p *Process) waitReady(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it was ready: %v\n%s", p.Name, p.waitErr, p.Tail(failureTailLines))
		default:
		}
		res, err := client.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", res.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s after %s: %v\n%s", p.Name, url, timeout, err, p.Tail(failureTailLines))
		}
		time.Sleep(readyPollInterval)
	}
}

// shutdown ends the process if it still runs: SIGTERM and up to grace for
// it to exit, then SIGKILL.
func (p *Process) shutdown(grace time.Duration) {
	if grace > 0 {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			return
		case <-time.After(grace):
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Stop sends SIGTERM and fails the test unless the process exits within 30 s.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("%s did not exit within %s of SIGTERM", p.Name, stopTimeout)
	}
}

// Kill SIGKILLs the process, as a crash or an OOM kill would, and waits for it.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		select {
		case <-p.exited: // already gone: nothing to kill
			return
		default:
		}
		t.Fatalf("kill %s: %v", p.Name, err)
	}
	<-p.exited
}

// Pid is the process's ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Log returns everything the process has written so far.
func (p *Process) Log() (string, error) {
	b, err := os.ReadFile(p.LogPath)
	return string(b), err
}

// Tail returns the last n lines of the process's output.
func (p *Process) Tail(n int) string {
	s, err := p.Log()
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
