package runtime

// Hostile guests that run without a loop (recursion) or grow the wasm
// stack, and one that keeps state in a table: hand-written WAT in
// testdata/hostile/wat, served as the rest of the hostile suite.

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostileWAT is the path of a compiled WAT fixture of testdata/hostile/wat.
func hostileWAT(name string) string {
	return filepath.Join("..", "testdata", "hostile", "wat", name+".wasm")
}

// TestHostileRecursion has guests call a function that calls itself twice,
// 2^60 calls without a loop: in a request, with and without a sched_yield
// import, and in a start function. Each must be stopped at its
// maxDuration while the healthy routes keep answering within 1 s, and a
// garbage collection (whose stop-the-world waits for every goroutine,
// the guest's included) must complete meanwhile.
func TestHostileRecursion(t *testing.T) {
	e := newHostileEnvWith(t, hostileOptions{lazy: true, routes: func(t *testing.T, dir string) {
		for _, name := range []string{"fork", "forknoyield", "forkstart"} {
			hostileAddRoute(t, filepath.Join(dir, "hostile"), name, hostileWAT(name), `{"maxDuration": "300ms"}`)
		}
	}}, "none")
	for _, hr := range hostileHealthy { // compiled before the probes time them
		e.getHealthy(hr[0], hr[1])
	}
	p := e.probeWithin(time.Second, hostileHealthy...)
	// gcDuring runs a GC while f runs, and returns how long it took.
	gcDuring := func(f func()) time.Duration {
		var wg sync.WaitGroup
		var took time.Duration
		wg.Go(func() {
			time.Sleep(150 * time.Millisecond) // the guest is running
			start := time.Now()
			goruntime.GC()
			took = time.Since(start)
		})
		f()
		wg.Wait()
		return took
	}
	for _, tc := range []hostileCase{
		{name: "fork", target: "/fork", status: 504, within: 3 * time.Second, notBefore: 250 * time.Millisecond, check: hostileStopped("/fork")},
		{name: "fork without sched_yield", target: "/forknoyield", status: 504, within: 3 * time.Second, notBefore: 250 * time.Millisecond, check: hostileStopped("/forknoyield")},
		{name: "fork in a start function", target: "/forkstart", status: 500, within: 3 * time.Second, notBefore: 250 * time.Millisecond,
			check: func(t *testing.T, e *hostileEnv, a hostileAnswer, log string) {
				if !strings.Contains(log, "app/forkstart/route.wasm: initialization failed") {
					t.Errorf("log lacks the failed initialization:\n%s", log)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if took := gcDuring(func() { e.run(t, tc) }); took > time.Second {
				t.Errorf("a GC while the guest ran took %v: its stop-the-world waited for the guest", took)
			}
			e.healthy(t)
		})
	}
	// The server keeps answering well after the initialization failed.
	time.Sleep(3 * time.Second)
	if a := e.get("hostile", "/forkstart"); a.status != 500 || a.elapsed > time.Second {
		t.Errorf("forkstart again: %d in %v, want 500 at once (the failure is kept)", a.status, a.elapsed)
	}
	if took := gcDuring(func() {}); took > time.Second {
		t.Errorf("a GC after the attacks took %v", took)
	}
	p.check(t)
}

// TestHostileStack has 8 concurrent requests recurse without end under a
// 64 MiB memory limit: each must fail (500) at the 4 MiB stack budget it
// implies, and the Go heap and the process's RSS must grow by no more than
// 8 instances × 2 × the budget (a stack grows by doubling) and some slack,
// where wazero alone grows each stack to ~84 MB (~160 MB allocated).
func TestHostileStack(t *testing.T) {
	const (
		maxMemory = 64 << 20
		budget    = maxMemory / 16
		slack     = 64 << 20
	)
	e := newHostileEnvWith(t, hostileOptions{lazy: true, routes: func(t *testing.T, dir string) {
		hostileAddRoute(t, filepath.Join(dir, "hostile"), "deepstack", hostileWAT("deepstack"),
			`{"maxMemory": "64MiB", "maxInstances": 8, "maxWait": "5s", "maxDuration": "10s"}`)
	}}, "none")
	for _, hr := range hostileHealthy {
		e.getHealthy(hr[0], hr[1])
	}
	// One first, which compiles the module.
	if a := e.get("hostile", "/deepstack"); a.status != 500 {
		t.Fatalf("deepstack: %d, want 500", a.status)
	}
	heap0, rss0 := hostileHeapInUse(), hostileRSS()
	stop := make(chan struct{})
	var peakHeap, peakRSS uint64
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			peakHeap, peakRSS = max(peakHeap, hostileHeapInUse()), max(peakRSS, hostileRSS())
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	p := e.probeWithin(time.Second, hostileHealthy...)
	var wg sync.WaitGroup
	answers := make([]hostileAnswer, 8)
	for i := range answers {
		wg.Go(func() { answers[i] = e.get("hostile", "/deepstack") })
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	p.check(t)
	for i, a := range answers {
		if a.err != nil || a.status != 500 || a.elapsed > 10*time.Second {
			t.Errorf("deepstack %d: %d in %v, err %v; want 500", i, a.status, a.elapsed, a.err)
		}
	}
	if n := strings.Count(e.logs.String(), "unreachable"); n < 9 {
		t.Errorf("%d stack-budget traps (unreachable) logged, want 9", n)
	}
	t.Logf("8 stack overflows: Go heap in use %s → peak %s, RSS %s → peak %s", hostileMiB(heap0), hostileMiB(peakHeap), hostileMiB(rss0), hostileMiB(peakRSS))
	const bound = 8*2*budget + slack
	if peakHeap > heap0+bound {
		t.Errorf("the Go heap grew by %s, over %s", hostileMiB(peakHeap-heap0), hostileMiB(bound))
	}
	if rss0 > 0 && peakRSS > rss0+bound {
		t.Errorf("RSS grew by %s, over %s", hostileMiB(peakRSS-rss0), hostileMiB(bound))
	}
	e.healthy(t)
}

// hostileHeapInUse is the Go heap in use now, without forcing a GC.
func hostileHeapInUse() uint64 {
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// hostileRSS is the process's resident set size, 0 where /proc is not.
func hostileRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestHostileTableIsolation has a guest store into its table at each
// request: under request isolation each request sees the table as it was
// (the instance, whose module changes its tables, is replaced rather than
// reset), and under instance isolation, the control, the stores add up.
func TestHostileTableIsolation(t *testing.T) {
	e := newHostileEnvWith(t, hostileOptions{routes: func(t *testing.T, dir string) {
		hostile := filepath.Join(dir, "hostile")
		hostileAddRoute(t, hostile, "tablestore", hostileWAT("tablestore"), `{"isolation": "request"}`)
		hostileAddRoute(t, hostile, "tablereuse", hostileWAT("tablestore"), `{"isolation": "instance"}`)
	}}, "none")
	var got []string
	for _, target := range []string{"/tablestore", "/tablestore", "/tablestore", "/tablestore", "/tablereuse", "/tablereuse", "/tablereuse"} {
		a := e.get("hostile", target)
		if a.err != nil || a.status != 200 {
			t.Fatalf("GET %s = %d %q, %v", target, a.status, a.body, a.err)
		}
		got = append(got, string(a.body))
	}
	if want := "1 1 1 1 1 2 3"; strings.Join(got, " ") != want {
		t.Errorf("table slots filled: %s, want %s (request isolation: 1 each time; instance: counting up)", strings.Join(got, " "), want)
	}
	e.healthy(t)
}

// TestHostileRecursionDepth finds how deep an honest Go guest may recurse
// (small frames) within the default limits' stack budget, 8 MiB for 128
// MiB of memory: deep enough for what Go code does (encoding/json stops
// nesting at 10,000 levels, a few frames each).
func TestHostileRecursionDepth(t *testing.T) {
	src, _ := hostileSource(t)
	e := newHostileEnvWith(t, hostileOptions{lazy: true, routes: func(t *testing.T, dir string) {
		hostileAddRoute(t, filepath.Join(dir, "hostile"), "deep", filepath.Join(src, "app", "recursion", "route.wasm"), `{"maxDuration": "10s", "maxInstances": 1}`)
	}}, "none")
	ok := func(depth int) bool {
		a := e.get("hostile", "/deep?depth="+strconv.Itoa(depth))
		if a.status == 200 && string(a.body) != "ok "+strconv.Itoa(depth) {
			t.Fatalf("depth %d: %q", depth, a.body)
		}
		return a.status == 200
	}
	lo, hi := 1000, 1<<24 // ok(lo), !ok(hi)
	if !ok(lo) {
		t.Fatalf("a Go guest cannot recurse %d calls deep", lo)
	}
	if ok(hi) {
		t.Fatalf("a Go guest recursed %d calls deep: no stack bound", hi)
	}
	for hi-lo > lo/100 {
		if mid := (lo + hi) / 2; ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	t.Logf("a Go guest recurses up to ~%d calls deep with the default limits", lo)
	if lo < 50_000 {
		t.Errorf("a Go guest recurses only %d calls deep, want at least 50,000", lo)
	}
	if !strings.Contains(e.logs.String(), "unreachable") {
		t.Errorf("the deepest recursion did not end at the stack budget (no unreachable trap logged)")
	}
}
