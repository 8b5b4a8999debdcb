package runtime

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHostileOutputRate floods the log over many requests: the output guest
// prints 1 MiB a request, which the per-call cap cuts to 64 KiB; 50 requests
// in a row would log 3.2 MiB without the project's rate limit. At most the
// burst plus the rate over the elapsed time reaches the log, the rest is
// reported as dropped, at most once per route and interval, and the healthy
// routes keep answering.
func TestHostileOutputRate(t *testing.T) {
	e := newHostileEnv(t, "output")
	p := e.probe(hostileHealthy...)
	before := len(e.logs.String())
	start := time.Now()
	const requests = 50
	for i := range requests {
		if a := e.get("hostile", "/output"); a.err != nil || a.status != 200 || string(a.body) != "printed" {
			t.Fatalf("request %d: %d %q, err %v; want 200 \"printed\"", i, a.status, a.body, a.err)
		}
	}
	elapsed := time.Since(start)
	p.check(t)
	e.healthy(t)

	log := e.logSince(before)
	logged, lines, dropped, reports := 0, 0, 0, 0
	reported := regexp.MustCompile(`msg="guest output dropped: (\d+) bytes \(rate limit\)".* dropped=(\d+)`)
	for line := range strings.Lines(log) {
		if !strings.Contains(line, "route=/output") || !strings.Contains(line, "tenant=hostile") {
			continue
		}
		switch {
		case strings.Contains(line, `msg="guest output"`):
			logged += strings.Count(line, "Q")
			lines++
		case reported.MatchString(line):
			m := reported.FindStringSubmatch(line)
			n, _ := strconv.Atoi(m[1])
			if m[1] != m[2] {
				t.Errorf("report says %s bytes in its message and %s in its dropped attribute", m[1], m[2])
			}
			dropped += n
			reports++
		}
	}
	bound := outputBurst + int(elapsed.Seconds()*outputRate)
	t.Logf("%d requests in %v: %d bytes of guest output logged in %d lines (bound %d), %d reported dropped in %d lines",
		requests, elapsed.Round(time.Millisecond), logged, lines, bound, dropped, reports)
	if logged > bound {
		t.Errorf("%d bytes of guest output logged in %v, over the burst plus the rate: %d", logged, elapsed, bound)
	}
	if logged < 3*maxGuestOutput {
		t.Errorf("%d bytes of guest output logged; the burst holds 4 capped calls and at least 3 must be whole", logged)
	}
	if maxReports := 1 + int(elapsed/outputReportEvery); reports < 1 || reports > maxReports {
		t.Errorf("%d \"guest output dropped\" lines for /output in %v, want 1 to %d", reports, elapsed, maxReports)
	}
	// What was dropped after the first report is reported at the end of its
	// interval (TestOutputLimit): here, only its bound.
	if capped := requests * (maxGuestOutput + 64); dropped < 1 || dropped > capped-logged {
		t.Errorf("%d bytes reported dropped; want 1 to %d (the per-call cap's, less what was logged)", dropped, capped-logged)
	}
}

// TestHostileInitOutput has a guest whose initialization prints 64 KiB and
// traps. Its failure is kept and answered on every request: the output
// must reach the log through the tenant's output limit, not with every
// request's error line (which would log 64 KiB a request, unlimited).
func TestHostileInitOutput(t *testing.T) {
	e := newHostileEnvWith(t, hostileOptions{lazy: true, routes: func(t *testing.T, dir string) {
		hostileAddRoute(t, filepath.Join(dir, "hostile"), "initnoise", filepath.Join("..", "testdata", "hostile", "wat", "initnoise.wasm"), "")
	}}, "output")
	before := len(e.logs.String())
	start := time.Now()
	const requests = 50
	for i := range requests {
		if a := e.get("hostile", "/initnoise"); a.err != nil || a.status != 500 {
			t.Fatalf("request %d: %d %q, err %v; want 500", i, a.status, a.body, a.err)
		}
		if i%10 == 0 { // (50 failures take ~20 ms: too few for a prober)
			e.healthy(t)
		}
	}
	elapsed := time.Since(start)
	e.healthy(t)
	logged, failures := 0, 0
	for line := range strings.Lines(e.logSince(before)) {
		if strings.Contains(line, "route=/initnoise") {
			logged += strings.Count(line, "x")
			if strings.Contains(line, `msg=instantiate`) {
				failures++
			}
		}
	}
	bound := outputBurst + int(elapsed.Seconds()*outputRate)
	t.Logf("%d failed requests in %v: %d bytes of the initialization's output logged (bound %d)", failures, elapsed.Round(time.Millisecond), logged, bound)
	if failures != requests {
		t.Errorf("%d instantiate failures logged, want %d", failures, requests)
	}
	if logged > bound || logged < maxGuestOutput/2 {
		t.Errorf("%d bytes of the initialization's output logged; want some, and at most the burst plus the rate: %d", logged, bound)
	}
}
