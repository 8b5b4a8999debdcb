package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// progress reports long work, item by item. On a terminal it redraws one
// line ("building 3/12 app/api/x/route.go"); elsewhere (a log file, a CI
// job, a pipe) it writes that line plainly, for the first and last item
// and at most once per interval between them, then a summary with the time
// taken, so that a cold run is never silent for minutes and a large project
// does not flood the log.
type progress struct {
	w        io.Writer
	verb     string
	tty      bool
	log      *slog.Logger // when set, plain lines are log records, without a summary
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	started time.Time
	last    time.Time // when a plain line was last written
	done    int
	shown   bool // a terminal line is drawn
}

func newProgress(w io.Writer, verb string) *progress {
	p := &progress{w: w, verb: verb, interval: time.Second, now: time.Now}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	p.started = p.now()
	return p
}

// newLogProgress reports through log, throttled as on a non-terminal: for
// work in the background of a server, whose output is log records.
func newLogProgress(log *slog.Logger, verb string) *progress {
	return &progress{log: log, verb: verb, interval: time.Second, now: time.Now}
}

// update reports that done of total items are finished, file the latest;
// done 0 announces the work before its first item ends.
func (p *progress) update(done, total int, file string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	if p.tty {
		p.shown = true
		fmt.Fprintf(p.w, "\r\033[K%s", strings.TrimSpace(fmt.Sprintf("%s %d/%d %s", p.verb, done, total, file)))
		return
	}
	now := p.now()
	if done == 1 || done == total || now.Sub(p.last) >= p.interval {
		p.last = now
		if p.log != nil {
			p.log.Info(p.verb, "done", done, "total", total, "file", file)
			return
		}
		fmt.Fprintln(p.w, strings.TrimSpace(fmt.Sprintf("%s %d/%d %s", p.verb, done, total, file)))
	}
}

// end clears the terminal line, or writes the summary.
func (p *progress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.shown:
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	case !p.tty && p.log == nil && p.done > 0:
		fmt.Fprintf(p.w, "%s: %d done in %s\n", p.verb, p.done, p.now().Sub(p.started).Round(time.Millisecond))
		p.done = 0
	}
}
