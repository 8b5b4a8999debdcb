package runtime

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fakeOutputClock drives an outputLimit: a clock moved by hand and the
// reports it schedules, run by hand.
type fakeOutputClock struct {
	now     time.Time
	pending []fakeTimer
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func (c *fakeOutputClock) install(l *outputLimit) {
	l.now = func() time.Time { return c.now }
	l.after = func(d time.Duration, f func()) { c.pending = append(c.pending, fakeTimer{c.now.Add(d), f}) }
}

// advance moves the clock by d, running the reports due on the way.
func (c *fakeOutputClock) advance(d time.Duration) {
	end := c.now.Add(d)
	for {
		i := -1
		for j, p := range c.pending {
			if !p.at.After(end) && (i < 0 || p.at.Before(c.pending[i].at)) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		p := c.pending[i]
		c.pending = append(c.pending[:i], c.pending[i+1:]...)
		c.now = p.at
		p.f()
	}
	c.now = end
}

// TestOutputLimit plays a sequence of guest outputs against the bucket, with
// a fake clock, and checks what of each is logged and the drop reports.
func TestOutputLimit(t *testing.T) {
	const (
		k    = 64 << 10
		cost = outputLineCost
	)
	start := time.Unix(1000, 0)
	clock := &fakeOutputClock{now: start}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		},
	})).With("tenant", "acme")
	l := &outputLimit{}
	clock.install(l)

	steps := []struct {
		name    string
		advance time.Duration
		route   string
		n       int // bytes printed
		kept    int // bytes of them logged
		reports []string
		pending []time.Duration // when scheduled reports are due, from the start
	}{
		{name: "empty output costs nothing", route: "/a", n: 0, kept: 0},
		{name: "1st call within the burst", route: "/a", n: k, kept: k},
		{name: "2nd", route: "/a", n: k, kept: k},
		{name: "3rd", route: "/a", n: k, kept: k},
		// 256 KiB - 3 × (64 KiB + cost) left: the 4th gets a prefix.
		{name: "4th: what is left, less its line", route: "/a", n: k, kept: 4*k - 4*cost - 3*k,
			reports: []string{`msg="guest output dropped: 512 bytes (rate limit)" tenant=acme route=/a dropped=512`}},
		{name: "another route: empty bucket, reported at once", route: "/b", n: 100, kept: 0,
			reports: []string{`msg="guest output dropped: 100 bytes (rate limit)" tenant=acme route=/b dropped=100`}},
		{name: "same route, same interval: counted, not reported", route: "/a", n: 1000, kept: 0,
			pending: []time.Duration{10 * time.Second}},
		{name: "a second refills 64 KiB", advance: time.Second, route: "/a", n: k, kept: k - cost,
			pending: []time.Duration{10 * time.Second}},
		{name: "half a second: 32 KiB", advance: 500 * time.Millisecond, route: "/a", n: 10, kept: 10,
			pending: []time.Duration{10 * time.Second}},
		{name: "the interval ends: its drops reported", advance: 8500 * time.Millisecond, route: "/c", n: 0,
			reports: []string{`msg="guest output dropped: 1128 bytes (rate limit)" tenant=acme route=/a dropped=1128`}},
		{name: "after a report, drops wait for the next interval", route: "/a", n: 300 << 10, kept: 256<<10 - cost,
			pending: []time.Duration{20 * time.Second}},
		{name: "which reports them", advance: 30 * time.Second, route: "/a", n: 0,
			reports: []string{`msg="guest output dropped: 45184 bytes (rate limit)" tenant=acme route=/a dropped=45184`}},
		{name: "nothing more dropped: nothing reported", advance: time.Hour, route: "/a", n: 0},
		{name: "a full bucket, less a line", route: "/d", n: 256 << 10, kept: 256<<10 - cost,
			reports: []string{`msg="guest output dropped: 128 bytes (rate limit)" tenant=acme route=/d dropped=128`}},
		{name: "655 bytes refilled: too few for a prefix", advance: 10 * time.Millisecond, route: "/d", n: 2000, kept: 0,
			pending: []time.Duration{time.Hour + 50*time.Second}},
		{name: "1310: a prefix", advance: 10 * time.Millisecond, route: "/d", n: 2000, kept: 1310 - cost,
			pending: []time.Duration{time.Hour + 50*time.Second}},
		{name: "the tail of the interval", advance: time.Hour, route: "/d", n: 0,
			reports: []string{`msg="guest output dropped: 2818 bytes (rate limit)" tenant=acme route=/d dropped=2818`}},
	}
	lines := 0
	for _, st := range steps {
		clock.advance(st.advance)
		out := strings.Repeat("x", st.n)
		got := l.admit(log, st.route, out)
		switch kept := strings.Count(got, "x"); {
		case kept != st.kept:
			t.Errorf("%s: %d of %d bytes logged, want %d", st.name, kept, st.n, st.kept)
		case kept > 0 && kept < st.n && !strings.HasSuffix(got, "x\n… "+strconv.Itoa(st.n-kept)+" bytes dropped (rate limit)"):
			t.Errorf("%s: a prefix without the count dropped: …%q", st.name, got[max(0, len(got)-60):])
		case kept == st.n && got != out:
			t.Errorf("%s: all kept, but changed: …%q", st.name, got[max(0, len(got)-60):])
		}
		all := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if logs.String() == "" {
			all = nil
		}
		if diff := gocmp.Diff(st.reports, all[lines:], cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: reports (-want +got):\n%s", st.name, diff)
		}
		lines = len(all)
		var pending []time.Duration
		for _, p := range clock.pending {
			pending = append(pending, p.at.Sub(start))
		}
		if diff := gocmp.Diff(st.pending, pending, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: scheduled reports (-want +got):\n%s", st.name, diff)
		}
	}
}

// TestOutputLimitConcurrent checks the bound with the real clock while
// goroutines of several routes print at once (run it with -race).
func TestOutputLimitConcurrent(t *testing.T) {
	l := &outputLimit{}
	log := slog.New(slog.DiscardHandler)
	var mu sync.Mutex
	logged := 0
	start := time.Now()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			route := "/r" + strconv.Itoa(g%3)
			for range 200 {
				if out := l.admit(log, route, strings.Repeat("y", 4<<10)); out != "" {
					mu.Lock()
					logged += strings.Count(out, "y") + outputLineCost
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	bound := outputBurst + int(time.Since(start).Seconds()*outputRate) + 1
	if logged > bound || logged < outputBurst/2 {
		t.Errorf("logged %d bytes (with line costs) of 6.4 MiB in %v; want at most %d, and about the burst", logged, time.Since(start), bound)
	}
}

// An instance that printed nothing, almost every request, costs nothing.
func TestOutputLimitAllocs(t *testing.T) {
	l := &outputLimit{}
	log := slog.New(slog.DiscardHandler)
	if n := testing.AllocsPerRun(100, func() { l.admit(log, "/r", "") }); n != 0 {
		t.Errorf("admit of no output: %v allocations, want 0", n)
	}
}
