//go:build linux

package main

// The adversarial suite: generated guests (internal/wasmgen), one attack
// class each, served by a live `wasmroute serve --tenants` beside healthy
// routes that a watchdog keeps asking, over HTTP/1.1 keep-alive and h2c.
//
// Environment (all optional):
//
//	WASMROUTE_ADV_SEED=1        generator seed
//	WASMROUTE_ADV_N=210         guests (40 with -short)
//	WASMROUTE_ADV_CLASS=a,b     only these classes (wasmgen.ClassNames)
//	WASMROUTE_ADV_GUEST=g007,…  only these guests of the run SEED and N (and CLASS) make
//	WASMROUTE_ADV_BUDGET=90s    time to send attacks; the rest are reported as not sent
//	WASMROUTE_ADV_DIR=path      lay the tenants out there and keep them (default: a temporary folder),
//	                            with _guests.txt listing each guest's class, seed, variant and tenants

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmroute/wasmroute/internal/wasmgen"
)

const (
	advMaxDuration = time.Second
	// advSlack is what an attack's answer may take past maxDuration: the
	// 504 is written when the limit passes, and a module not compiled yet
	// is compiled first (the generated ones compile in milliseconds, unless
	// compiling is the attack).
	advSlack = 2 * time.Second
	// advHealthyMax is the most a healthy request may take (the server is
	// never built with the race detector, its clients here may be).
	advHealthyMax = raceSlack * time.Second
	// advRSSMax bounds the server's resident memory. Legitimately it holds
	// ~250 small compiled modules, at most 16 busy instances at 64 MiB of
	// linear memory each (1 GiB if every one filled its memory), plus the
	// runtime: 2 GiB leaves room for that and none for a table of
	// 50,000,000 entries per instance (400 MiB each). Past it the suite
	// kills the server, to protect a shared machine, and says so.
	advRSSMax = 2 << 30
	// advConcurrency attacks at once.
	advConcurrency = 16
	// advTimeout is how long an attack request may go unanswered before
	// it counts as frozen.
	advTimeout = 10 * time.Second
)

var advMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// advGuest is one generated guest and where it is served.
type advGuest struct {
	wasmgen.Guest
	name    string   // gNNN
	tenants []string // evil, evil2, or its own tenant gNNN
	dropped string   // why it was left out of the live server, if it was
}

func (g *advGuest) String() string {
	return fmt.Sprintf("%s [class %s, seed %d: %s]", g.name, g.Class, g.Seed, g.What)
}

// advResult is one attack request's outcome.
type advResult struct {
	guest          *advGuest
	tenant, method string
	status         int
	took           time.Duration
	err            string // transport error, "not sent: …"
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func TestAdversarial(t *testing.T) {
	seed, err := strconv.ParseUint(envOr("WASMROUTE_ADV_SEED", "1"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	n := 210
	if testing.Short() {
		n = 40
	}
	if v := os.Getenv("WASMROUTE_ADV_N"); v != "" {
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	budget, err := time.ParseDuration(envOr("WASMROUTE_ADV_BUDGET", "90s"))
	if err != nil {
		t.Fatal(err)
	}
	var classes []string
	if v := os.Getenv("WASMROUTE_ADV_CLASS"); v != "" {
		classes = strings.Split(v, ",")
		for _, c := range classes {
			if !slices.Contains(wasmgen.ClassNames(), c) {
				t.Fatalf("WASMROUTE_ADV_CLASS: unknown class %q; classes: %s", c, strings.Join(wasmgen.ClassNames(), ","))
			}
		}
	}
	only := strings.Split(os.Getenv("WASMROUTE_ADV_GUEST"), ",")
	repro := fmt.Sprintf("WASMROUTE_ADV_SEED=%d WASMROUTE_ADV_N=%d", seed, n)
	if len(classes) > 0 {
		repro += " WASMROUTE_ADV_CLASS=" + strings.Join(classes, ",")
	}

	// The mutate class damages the WAT fixtures and a Go guest (the demo's
	// hello, built by TestMain like the hostile suite builds its guests).
	wat := filepath.Join("..", "..", "testdata", "wat")
	hello, err := os.ReadFile(filepath.Join(wat, "hello.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	goHello, err := os.ReadFile(filepath.Join(demo, "app", "api", "hello", "route.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	gen := wasmgen.Generator{Bases: []wasmgen.Base{{Name: "go-hello", Bin: goHello, Weight: 2}}}
	fixtures, _ := filepath.Glob(filepath.Join(wat, "*.wasm"))
	for _, f := range fixtures {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		gen.Bases = append(gen.Bases, wasmgen.Base{Name: filepath.Base(f), Bin: b})
	}

	dir := os.Getenv("WASMROUTE_ADV_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	write := func(tenant, route string, bin []byte) {
		t.Helper()
		folder := filepath.Join(dir, tenant, "app", route)
		if err := os.MkdirAll(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, "route.wasm"), bin, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("good", "hello", hello)
	write("good", "gohello", goHello)
	write("evil", "hello", hello)
	write("evil2", "hello", hello)

	var guests []*advGuest
	for i, g := range gen.Generate(seed, n, classes...) {
		name := fmt.Sprintf("g%03d", i)
		if only[0] != "" && !slices.Contains(only, name) {
			continue
		}
		ag := &advGuest{Guest: g, name: name}
		switch {
		case !g.Valid: // may fail to load: a tenant of its own, so that only it answers 503
			ag.tenants = []string{name}
		case i%4 == 0:
			ag.tenants = []string{"evil", "evil2"}
		default:
			ag.tenants = []string{"evil"}
		}
		for _, tenant := range ag.tenants {
			write(tenant, name, g.Bin)
		}
		guests = append(guests, ag)
	}
	if len(guests) == 0 {
		t.Fatal("no guest selected")
	}
	var list strings.Builder
	for _, g := range guests {
		fmt.Fprintf(&list, "%s\t%s\n", g, strings.Join(g.tenants, ","))
	}
	if err := os.WriteFile(filepath.Join(dir, "_guests.txt"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()

	// A guest that kills or freezes loading or compiling would take the
	// server down before any request: each malformed guest is first loaded
	// and compiled alone by `wasmroute routes`, and one that kills it or
	// hangs is reported and left out of the live server.
	screenStart := time.Now()
	advScreen(t, dir, cache, guests)
	screened := 0
	for _, g := range guests {
		if !g.Valid {
			screened++
		}
	}
	t.Logf("%d guests laid out in %s; %d malformed ones screened alone in %v", len(guests), dir, screened, time.Since(screenStart).Round(time.Millisecond))

	var (
		results  []advResult
		resMu    sync.Mutex
		attacks  []advResult // to send
		deaths   []string
		rssPeak  int64
		start    = time.Now()
		requests int
	)
	for _, g := range guests {
		if g.dropped != "" {
			continue
		}
		for _, tenant := range g.tenants {
			for _, m := range advMethods {
				attacks = append(attacks, advResult{guest: g, tenant: tenant, method: m})
			}
		}
	}
	rand.New(rand.NewPCG(seed, 1)).Shuffle(len(attacks), func(i, j int) { attacks[i], attacks[j] = attacks[j], attacks[i] })

	watch := &advWatchdog{}
	var allStderr strings.Builder
	// Serve; if the server dies, the guests in flight are the suspects:
	// report them, leave them out, and serve the rest again.
	for round := 0; len(attacks) > 0 && round < 6; round++ {
		s, err := advStart(dir, cache)
		if err != nil {
			var heavy []string
			for _, g := range guests {
				if g.Heavy && g.dropped == "" {
					heavy = append(heavy, g.String())
				}
			}
			t.Fatalf("round %d: %v\nguests whose compiling takes minutes (compiled in the background from the start):\n\t%s\n(repeat: %s go test -run TestAdversarial ./cmd/wasmroute)",
				round, err, strings.Join(heavy, "\n\t"), repro)
		}
		t.Logf("round %d: serving, %d attacks to send", round, len(attacks))
		watch.start(s)
		var (
			inflight = map[*advResult]time.Time{}
			mu       sync.Mutex
			next     = 0
			wg       sync.WaitGroup
		)
		client := &http.Client{
			Transport: &http.Transport{DisableKeepAlives: true}, // one connection per attack
			Timeout:   advTimeout,
		}
		for range advConcurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					mu.Lock()
					if next == len(attacks) || s.dead() || time.Since(start) > budget {
						mu.Unlock()
						return
					}
					a := attacks[next]
					next++
					inflight[&a] = time.Now()
					mu.Unlock()
					watch.attacking(a.guest, 1)
					advSend(client, s.url, &a)
					watch.attacking(a.guest, -1)
					if a.err != "" || a.status == -1 {
						// A cut connection: give a dying server time to be seen dead.
						select {
						case <-s.exited:
						case <-time.After(500 * time.Millisecond):
						}
					}
					mu.Lock()
					died := s.dead()
					if !died || (a.err == "" && a.status != -1) {
						delete(inflight, &a) // answered; kept if cut by the death: a suspect, below
					}
					mu.Unlock()
					if died && (a.err != "" || a.status == -1) {
						continue
					}
					resMu.Lock()
					results = append(results, a)
					requests++
					resMu.Unlock()
				}
			}()
		}
		// Sample RSS until the workers are done or the server dies.
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		tick := time.NewTicker(50 * time.Millisecond)
	sample:
		for {
			select {
			case <-done:
				rssPeak = max(rssPeak, advRSS(s.cmd.Process.Pid))
				break sample
			case <-tick.C:
				rss := advRSS(s.cmd.Process.Pid)
				rssPeak = max(rssPeak, rss)
				if rss > advRSSMax && !s.dead() {
					s.kill(fmt.Sprintf("killed by the suite: RSS %d MiB over %d MiB", rss>>20, advRSSMax>>20))
				}
			}
		}
		tick.Stop()
		watch.stop()
		rest := attacks[next:]
		if !s.dead() {
			// Alive: it must still answer.
			if st, took, err := advGet(advQuick, s.url, "good", "/hello"); err != nil || st != 200 {
				t.Errorf("after the attacks, good/hello answered %d %v after %v", st, err, took)
			}
			for _, a := range rest {
				a.err = "not sent: over WASMROUTE_ADV_BUDGET " + budget.String()
				results = append(results, a)
			}
			s.kill("")
			allStderr.WriteString(s.stderr.String())
			attacks = nil
			break
		}
		// Dead: what was in flight is suspect.
		<-s.exited
		suspects := map[*advGuest]bool{}
		var names []string
		for a := range inflight {
			if !suspects[a.guest] {
				suspects[a.guest] = true
				names = append(names, a.guest.String())
			}
		}
		slices.Sort(names)
		why := s.why
		if why == "" {
			why = s.cmd.ProcessState.String()
		}
		deaths = append(deaths, fmt.Sprintf("round %d: the server died (%s) %v after it started; %d guests in flight:\n\t%s\n\tits stderr's end: %s",
			round, why, time.Since(s.started).Round(time.Millisecond), len(names), strings.Join(names, "\n\t"), advTail(s.stderr.String())))
		allStderr.WriteString(s.stderr.String())
		for g := range suspects {
			g.dropped = "in flight when the server died (" + why + ")"
			for _, tenant := range g.tenants {
				os.RemoveAll(filepath.Join(dir, tenant, "app", g.name))
			}
		}
		var left []advResult
		for _, a := range rest {
			if !suspects[a.guest] {
				left = append(left, a)
			}
		}
		for a := range inflight {
			if !suspects[a.guest] {
				left = append(left, *a)
			}
		}
		attacks = left
	}
	for _, a := range attacks {
		a.err = "not sent: the server kept dying"
		results = append(results, a)
	}
	elapsed := time.Since(start)

	// Report: per class, then every fault with its guest.
	type tally struct {
		guests, requests, ok, late, noAnswer, notSent int
		statuses                                      map[int]int
		dropped                                       []string
	}
	perClass := map[string]*tally{}
	for _, c := range wasmgen.ClassNames() {
		perClass[c] = &tally{statuses: map[int]int{}}
	}
	for _, g := range guests {
		perClass[g.Class].guests++
		if g.dropped != "" {
			perClass[g.Class].dropped = append(perClass[g.Class].dropped, g.String()+": "+g.dropped)
		}
	}
	var faults []string
	for _, r := range results {
		c := perClass[r.guest.Class]
		switch {
		case strings.HasPrefix(r.err, "not sent"):
			c.notSent++
			continue
		case r.err != "":
			c.noAnswer++
			faults = append(faults, fmt.Sprintf("%s %s %s: no answer after %v: %s", r.tenant, r.method, r.guest, r.took.Round(time.Millisecond), r.err))
		case r.took > advMaxDuration+advSlack:
			c.late++
			faults = append(faults, fmt.Sprintf("%s %s %s: %d after %v, over maxDuration %v + %v", r.tenant, r.method, r.guest, r.status, r.took.Round(time.Millisecond), advMaxDuration, advSlack))
		default:
			c.ok++
		}
		c.requests++
		c.statuses[r.status]++
	}
	slices.Sort(faults)
	var table strings.Builder
	fmt.Fprintf(&table, "%-10s %6s %8s %6s %6s %9s %8s %7s  %s\n", "class", "guests", "requests", "ok", "late", "no-answer", "not-sent", "dropped", "statuses")
	for _, name := range wasmgen.ClassNames() {
		c := perClass[name]
		if c.guests == 0 {
			continue
		}
		var st []string
		for code, k := range c.statuses {
			st = append(st, fmt.Sprintf("%d×%d", code, k))
		}
		slices.Sort(st)
		fmt.Fprintf(&table, "%-10s %6d %8d %6d %6d %9d %8d %7d  %s\n", name, c.guests, c.requests, c.ok, c.late, c.noAnswer, c.notSent, len(c.dropped), strings.Join(st, " "))
	}
	classCount := 0
	for _, c := range perClass {
		if c.guests > 0 {
			classCount++
		}
	}
	h := watch.summary()
	t.Logf("adversarial: %d guests (%d classes), %d requests in %v, healthy %d requests p50/p99/max %v/%v/%v, %d failed or over %v, RSS peak %d MiB, %d server deaths\n%s",
		len(guests), classCount, requests, elapsed.Round(time.Second), h.n, h.p50, h.p99, h.max, len(h.faults), advHealthyMax, rssPeak>>20, len(deaths), table.String())

	for _, d := range deaths {
		t.Errorf("%s", d)
	}
	for _, c := range wasmgen.ClassNames() {
		for _, d := range perClass[c].dropped {
			t.Errorf("%s: dropped: %s", c, d)
		}
	}
	advErrors(t, "attack requests", faults)
	advErrors(t, "healthy requests", h.faults)
	if rssPeak > advRSSMax {
		t.Errorf("RSS peak %d MiB, over %d MiB", rssPeak>>20, advRSSMax>>20)
	}
	var crashes []string
	for line := range strings.Lines(allStderr.String()) {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			crashes = append(crashes, strings.TrimSpace(line))
		}
	}
	advErrors(t, "panics in the server's stderr", crashes)
	if t.Failed() {
		t.Logf("repeat: %s go test -run TestAdversarial ./cmd/wasmroute (add WASMROUTE_ADV_GUEST=gNNN for one guest, WASMROUTE_ADV_CLASS=c for one class)", repro)
	}
}

// advErrors reports up to 40 faults of a kind, and how many more.
func advErrors(t *testing.T, kind string, faults []string) {
	t.Helper()
	if len(faults) == 0 {
		return
	}
	shown := faults[:min(len(faults), 40)]
	t.Errorf("%d %s failed:\n\t%s", len(faults), kind, strings.Join(shown, "\n\t"))
	if len(faults) > len(shown) {
		t.Errorf("… and %d more %s", len(faults)-len(shown), kind)
	}
}

// advScreen runs `wasmroute routes` on each guest that has a tenant of its
// own, two at a time, and drops a guest that kills it or makes it hang.
func advScreen(t *testing.T, dir, cache string, guests []*advGuest) {
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, g := range guests {
		if len(g.tenants) != 1 || g.tenants[0] != g.name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "routes", "--cache-dir", cache, filepath.Join(dir, g.name))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			started := time.Now()
			err := cmd.Run()
			took := time.Since(started).Round(time.Millisecond)
			var exit *exec.ExitError
			switch {
			case ctx.Err() != nil:
				g.dropped = fmt.Sprintf("`wasmroute routes` loading and compiling it alone hung: killed after %v", took)
			case err == nil, errors.As(err, &exit) && exit.ExitCode() == 1 && !strings.Contains(out.String(), "fatal error") && !strings.Contains(out.String(), "panic"):
				// it loads, or is refused with load errors: either way
				// the server survives it
			default:
				g.dropped = fmt.Sprintf("`wasmroute routes` loading and compiling it alone died (%v) after %v: %s", err, took, advTail(out.String()))
			}
			if g.dropped != "" {
				os.RemoveAll(filepath.Join(dir, g.name))
			}
		}()
	}
	wg.Wait()
}

// advTail returns the first line of a crash in out, or its last line.
func advTail(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "fatal error: ") || strings.HasPrefix(l, "panic: ") {
			return strings.Join(lines[i:min(i+1, len(lines))], " ")
		}
	}
	last := lines[len(lines)-1]
	if len(last) > 300 {
		last = last[:300] + "…"
	}
	return last
}

// advServer is a running wasmroute serve.
type advServer struct {
	url     string
	cmd     *exec.Cmd
	stderr  *syncBuffer
	started time.Time
	exited  chan struct{}
	mu      sync.Mutex
	why     string // why the suite killed it
}

func (s *advServer) dead() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

func (s *advServer) kill(why string) {
	s.mu.Lock()
	if s.why == "" {
		s.why = why
	}
	s.mu.Unlock()
	s.cmd.Process.Kill()
	<-s.exited
}

// advStart serves dir's tenants and waits (up to a minute) until it listens.
func advStart(dir, cache string) (*advServer, error) {
	cmd := exec.Command(binary, "serve", "--tenants", "--domain", "localhost", "--addr", "127.0.0.1:0",
		"--no-build", "--cache-dir", cache, "--max-duration", advMaxDuration.String(), "--max-memory", "64MiB", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &advServer{cmd: cmd, stderr: &syncBuffer{}, started: time.Now(), exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	listening := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if url, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
				listening <- url
				break
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.url = <-listening:
	case <-s.exited:
		return nil, fmt.Errorf("wasmroute serve exited before listening (%v): %s", cmd.ProcessState, advTail(s.stderr.String()))
	case <-time.After(time.Minute):
		s.kill("")
		return nil, fmt.Errorf("wasmroute serve did not listen within a minute: %s", advTail(s.stderr.String()))
	}
	// Healthy routes answer before the attacks start (the Go guest compiles
	// on its first request).
	deadline := time.Now().Add(20 * time.Second)
	for _, target := range advHealthy {
		for {
			st, _, err := advGet(advQuick, s.url, target[0], target[1])
			if err == nil && st == 200 {
				break
			}
			if s.dead() {
				return nil, fmt.Errorf("died before the attacks (%v): %s", s.cmd.ProcessState, advTail(s.stderr.String()))
			}
			if time.Now().After(deadline) {
				s.kill("")
				return nil, fmt.Errorf("froze before the attacks: %s%s did not answer 200 within 20 s of the start: %d %v; stderr: %s", target[0], target[1], st, err, advTail(s.stderr.String()))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return s, nil
}

// advQuick is a client for one-off healthy requests.
var advQuick = &http.Client{Timeout: 5 * time.Second}

// advHealthy are the healthy routes the watchdog asks: tenant, path.
var advHealthy = [][2]string{{"good", "/hello"}, {"good", "/gohello"}, {"evil", "/hello"}, {"evil2", "/hello"}}

func advGet(client *http.Client, url, tenant, path string) (int, time.Duration, error) {
	req, err := http.NewRequest("GET", url+path, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Host = tenant + ".localhost"
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, time.Since(start), err
}

// advSend sends one attack and records its answer.
func advSend(client *http.Client, url string, a *advResult) {
	req, err := http.NewRequest(a.method, url+"/"+a.guest.name, strings.NewReader("attack"))
	if err != nil {
		a.err = err.Error()
		return
	}
	req.Host = a.tenant + ".localhost"
	start := time.Now()
	res, err := client.Do(req)
	if err == nil {
		// A reset after the headers is an answer too: the guest's response
		// had started when its time ran out.
		io.Copy(io.Discard, io.LimitReader(res.Body, 128<<20))
		res.Body.Close()
		a.status = res.StatusCode
	} else if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
		a.err = err.Error()
	} else if strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "EOF") {
		a.status = -1 // reset: an answer
	} else {
		a.err = err.Error()
	}
	a.took = time.Since(start)
}

// advRSS returns a process's resident set size in bytes, 0 if gone.
func advRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// advWatchdog asks every healthy route over HTTP/1.1 keep-alive and h2c,
// one request after another per route and protocol, and records every
// latency and fault with the guests under attack at that moment.
type advWatchdog struct {
	mu        sync.Mutex
	latencies []time.Duration
	faults    []string
	busy      map[*advGuest]int
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

func (w *advWatchdog) attacking(g *advGuest, d int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy == nil {
		w.busy = map[*advGuest]int{}
	}
	if w.busy[g] += d; w.busy[g] == 0 {
		delete(w.busy, g)
	}
}

func (w *advWatchdog) start(s *advServer) {
	url := s.url
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for _, proto := range []string{"HTTP/1.1", "h2c"} {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		if proto == "h2c" {
			tr.Protocols.SetUnencryptedHTTP2(true)
		} else {
			tr.Protocols.SetHTTP1(true)
		}
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		for _, target := range advHealthy {
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				defer tr.CloseIdleConnections()
				for ctx.Err() == nil {
					st, took, err := advGet(client, url, target[0], target[1])
					if err != nil {
						time.Sleep(300 * time.Millisecond) // let a dying server finish
					}
					if ctx.Err() != nil || s.dead() {
						return // cut by the end of the round, or by a death reported as such
					}
					w.mu.Lock()
					w.latencies = append(w.latencies, took)
					if err != nil || st != 200 || took > advHealthyMax {
						var busy []string
						for g := range w.busy {
							busy = append(busy, g.name+" ("+g.Class+")")
						}
						slices.Sort(busy)
						w.faults = append(w.faults, fmt.Sprintf("%s%s over %s: %d %v after %v, while attacking %s",
							target[0], target[1], proto, st, err, took.Round(time.Millisecond), strings.Join(busy, " ")))
					}
					w.mu.Unlock()
					time.Sleep(20 * time.Millisecond)
				}
			}()
		}
	}
}

// stop ends the round's probes. Faults recorded once the server was dead
// belong to its death and are dropped by the caller's report of it.
func (w *advWatchdog) stop() {
	w.cancel()
	w.wg.Wait()
}

type advHealth struct {
	n             int
	p50, p99, max time.Duration
	faults        []string
}

func (w *advWatchdog) summary() advHealth {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := slices.Clone(w.latencies)
	slices.Sort(l)
	h := advHealth{n: len(l), faults: w.faults}
	if len(l) > 0 {
		h.p50, h.p99, h.max = l[len(l)/2], l[len(l)*99/100], l[len(l)-1]
		h.p50, h.p99, h.max = h.p50.Round(10*time.Microsecond), h.p99.Round(10*time.Microsecond), h.max.Round(10*time.Microsecond)
	}
	return h
}
