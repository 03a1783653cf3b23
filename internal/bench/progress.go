package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// progress prints a live status line: rewritten in place with \r on a
// terminal, plain periodic lines otherwise (logs, CI).
type progress struct {
	out     io.Writer
	tty     bool
	every   time.Duration
	status  func(phase string) string
	mu      sync.Mutex
	phase   func() string
	started time.Time
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	running bool
	lastLen int
}

func newProgress(out io.Writer, status func(phase string) string) *progress {
	p := &progress{out: out, status: status, every: 5 * time.Second, done: make(chan struct{})}
	if f, ok := out.(*os.File); ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		p.tty, p.every = true, 500*time.Millisecond
	}
	return p
}

func (p *progress) setPhase(f func() string) {
	p.mu.Lock()
	p.phase = f
	p.mu.Unlock()
}

func (p *progress) start() {
	if p.out == io.Discard {
		return
	}
	p.started = time.Now()
	p.running = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.print()
			}
		}
	}()
}

func (p *progress) print() {
	p.mu.Lock()
	defer p.mu.Unlock()
	phase := ""
	if p.phase != nil {
		phase = p.phase()
	}
	line := fmt.Sprintf("[%6.1fs] %s", time.Since(p.started).Seconds(), p.status(phase))
	if p.tty {
		pad := ""
		if n := p.lastLen - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprint(p.out, "\r"+line+pad)
		p.lastLen = len(line)
		return
	}
	fmt.Fprintln(p.out, line)
}

// stop ends the line (on a terminal) so the report starts on its own line.
func (p *progress) stop() {
	p.once.Do(func() {
		close(p.done)
		p.wg.Wait()
		if p.running && p.tty && p.lastLen > 0 {
			fmt.Fprintln(p.out)
		}
	})
}
