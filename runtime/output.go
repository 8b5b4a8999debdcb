package runtime

import (
	"cmp"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxGuestOutput bounds what one call of a guest may write to stdout and
// stderr together; the rest is dropped and counted.
const maxGuestOutput = 64 << 10

// guestOutput collects a guest's stdout and stderr during one call, so that
// what it printed (a Go panic's stack, say) is logged with its route.
type guestOutput struct {
	mu      sync.Mutex
	buf     strings.Builder
	dropped int
}

func (o *guestOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	room := maxGuestOutput - o.buf.Len()
	if len(p) > room {
		o.dropped += len(p) - room
		o.buf.Write(p[:room])
	} else {
		o.buf.Write(p)
	}
	return len(p), nil
}

// droppedNote starts the line take adds when output was dropped.
const droppedNote = "\n… "

// take returns what was written since the last take and resets.
func (o *guestOutput) take() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.buf.Len() == 0 && o.dropped == 0 {
		return ""
	}
	s := strings.TrimRight(o.buf.String(), "\n")
	if o.dropped > 0 {
		s += droppedNote + strconv.Itoa(o.dropped) + " more bytes dropped"
	}
	o.buf.Reset()
	o.dropped = 0
	return s
}

// Guest output is also rate-limited across requests, per Server (a project,
// or one tenant of Tenants): maxGuestOutput bounds one call, but a route
// called a thousand times a second would still log 64 MiB/s. The bucket
// holds four calls' worth at the cap, so that a crash's whole output (a Go
// stack) is logged even right after others, and refills at one capped call
// a second, about 5.3 GiB a day at worst per tenant. Each logged output also
// costs outputLineCost, for the line's own fields, so that a flood of tiny
// outputs is bounded in lines as well as in bytes, and an output cut short
// keeps at least outputMinPrefix (a panic's message and first frames), so
// that a flood does not turn into a stream of lines holding a few bytes.
const (
	outputRate        = 64 << 10 // bytes a second, sustained
	outputBurst       = 256 << 10
	outputLineCost    = 128
	outputMinPrefix   = 1 << 10          // the least of an output logged when not all of it can be
	outputReportEvery = 10 * time.Second // at most one "dropped" line per route
)

// outputLimit is a Server's token bucket over the guest output it logs. Output
// over the rate is dropped and counted per route; the count is logged at
// most once per outputReportEvery for each route, at the first drop and then
// at the end of each interval that dropped more. The zero value is ready: a
// full bucket and the real clock. It is safe for concurrent use.
type outputLimit struct {
	// Set only by tests, before first use.
	now   func() time.Time            // nil: time.Now
	after func(time.Duration, func()) // nil: time.AfterFunc

	mu     sync.Mutex
	tokens float64   // bytes that may be logged now
	last   time.Time // when tokens was computed; zero: never, the bucket is full
	routes map[string]*outputDrops
}

// outputDrops is what a route dropped and has not reported yet.
type outputDrops struct {
	log       *slog.Logger
	bytes     int64     // dropped since the last report
	reported  time.Time // the last report; zero: none yet
	scheduled bool      // a report is due at reported + outputReportEvery
}

// admit takes out, what one call of route printed (guestOutput.take), and
// returns what of it to log: all of it when the bucket holds enough, else
// what the bucket holds (if at least outputMinPrefix) followed by the count
// of bytes dropped, or "". Drops are reported on log, which carries the
// tenant.
func (l *outputLimit) admit(log *slog.Logger, route, out string) string {
	if out == "" {
		return ""
	}
	l.mu.Lock()
	now := l.clock()
	if l.last.IsZero() {
		l.tokens = outputBurst
	} else if d := now.Sub(l.last); d > 0 {
		l.tokens = min(outputBurst, l.tokens+d.Seconds()*outputRate)
	}
	l.last = now
	need := float64(len(out) + outputLineCost)
	if l.tokens >= need {
		l.tokens -= need
		l.mu.Unlock()
		return out
	}
	kept := int(l.tokens) - outputLineCost
	if kept >= outputMinPrefix {
		l.tokens = 0
	} else {
		kept = 0 // not worth a line: the tokens wait for a bigger share
	}
	dropped := int64(len(out) - kept)
	report := l.drop(log, route, dropped, now)
	l.mu.Unlock()
	report()
	if kept == 0 {
		return ""
	}
	return out[:kept] + "\n… " + strconv.FormatInt(dropped, 10) + " bytes dropped (rate limit)"
}

// drop counts n bytes dropped from route's output at now and returns what
// reports them: a log line now if route reported none in the last interval,
// else nothing, and a report is scheduled for the interval's end. l.mu is
// held; the returned func must be called without it.
func (l *outputLimit) drop(log *slog.Logger, route string, n int64, now time.Time) func() {
	d := l.routes[route]
	if d == nil {
		if l.routes == nil {
			l.routes = make(map[string]*outputDrops)
		}
		d = &outputDrops{}
		l.routes[route] = d
	}
	d.log = log
	d.bytes += n
	if d.scheduled {
		return func() {}
	}
	if d.reported.IsZero() || now.Sub(d.reported) >= outputReportEvery {
		return d.report(route, now)
	}
	d.scheduled = true
	after := l.after
	if after == nil {
		after = func(wait time.Duration, f func()) { time.AfterFunc(wait, f) }
	}
	after(d.reported.Add(outputReportEvery).Sub(now), func() {
		l.mu.Lock()
		d.scheduled = false
		report := d.report(route, l.clock())
		l.mu.Unlock()
		report()
	})
	return func() {}
}

// report takes d's count and returns what logs it. l.mu is held.
func (d *outputDrops) report(route string, now time.Time) func() {
	n, log := d.bytes, d.log
	if n == 0 {
		return func() {}
	}
	d.bytes, d.reported = 0, now
	return func() {
		log.Warn("guest output dropped: "+strconv.FormatInt(n, 10)+" bytes (rate limit)", "route", route, "dropped", n)
	}
}

func (l *outputLimit) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// redactor returns a replacer of each secret value by "[redacted]", or nil
// when there is none.
func redactor(secrets map[string]bool) *strings.Replacer {
	values := slices.Collect(maps.Keys(secrets))
	values = slices.DeleteFunc(values, func(v string) bool { return v == "" })
	if len(values) == 0 {
		return nil
	}
	// At one position the first value in argument order wins: longest
	// first, so that a secret holding another is replaced whole.
	slices.SortFunc(values, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	pairs := make([]string, 0, 2*len(values))
	for _, v := range values {
		pairs = append(pairs, v, "[redacted]")
	}
	return strings.NewReplacer(pairs...)
}

// redacted returns out with the Server's secrets replaced. Output cut at
// maxGuestOutput (guestOutput.take's "… N more bytes dropped") may end in
// the head of a secret: that head is replaced too.
func (s *Server) redacted(out string) string {
	if s.redact == nil || out == "" {
		return out
	}
	out = s.redact.Replace(out)
	cut := strings.LastIndex(out, droppedNote)
	if cut < 0 {
		return out
	}
	head := out[:cut]
	for v := range s.secrets {
		for n := len(v) - 1; n > 0; n-- {
			if strings.HasSuffix(head, v[:n]) {
				head = head[:len(head)-n] + "[redacted]"
				break
			}
		}
	}
	return head + out[cut:]
}

// guestOutput returns what to log of out, what one call of route printed:
// secrets redacted, within the output rate (outputLimit.admit).
func (s *Server) guestOutput(route, out string) string {
	return s.output.admit(s.log, route, s.redacted(out))
}
