package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wasmroute/wasmroute/internal/build"
	"github.com/wasmroute/wasmroute/internal/wrk"
)

// A route is one handler, served by every target at the same URL.
type route struct {
	name, path string // path with its query
	body, mime string // the answer every target must give, and its media type
}

// userAgent is sent by the checks and by wrk: the json route echoes it.
const userAgent = "peerbench"

var (
	routeJSON    = route{"json", "/api/item/42?q=x", `{"id":"42","q":"x","ua":"peerbench"}`, "application/json"}
	routeHello   = route{"hello", "/api/hi", "hi", "text/plain"}
	routeCPU     = route{"cpu", "/api/cpu", "75025", "text/plain"}
	routeGoHello = route{"go hello", "/api/hello", `{"message":"hello"}`, "application/json"}
	jsRoutes     = []route{routeJSON, routeHello, routeCPU}
)

// A target is one server to measure.
type target struct {
	name     string
	routes   []route // the first one times the first 200
	prepare  func(ctx context.Context) error
	command  func(addr string) []string
	env      []string
	optional bool // a failure is reported without failing the run
	cache    bool // started twice: the first start fills its compilation cache
}

// A result is one target's figures for one route, or why there are none.
type result struct {
	round         int
	target, route string
	rps           float64
	p50, p99      time.Duration
	note          string
}

type bench struct {
	o              options
	stdout, stderr io.Writer
	procs          []*proc
	results        []result
	round          int
	starts         []string // "target: start → first 200 …" lines
	npmErr         error
	npmDone        bool
	cliErr         error
	cliDone        bool
}

func (b *bench) path(elem ...string) string {
	return filepath.Join(append([]string{b.o.dir}, elem...)...)
}

func (b *bench) targets() map[string]*target {
	wrBin := b.path("bin", "wasmroute")
	wrServe := func(name string, extra ...string) func(string) []string {
		return func(addr string) []string {
			return append(append([]string{wrBin, "serve", "--addr", addr, "--cache-dir", b.path("cache", name)}, extra...), b.path(name))
		}
	}
	arch := map[string]string{"amd64": "64", "arm64": "arm64"}[goruntime.GOARCH]
	return map[string]*target{
		"native": {
			name:    "native",
			routes:  []route{routeJSON, routeHello, routeCPU, routeGoHello},
			prepare: func(context.Context) error { return nil },
			command: func(addr string) []string {
				exe, _ := os.Executable()
				return []string{exe, "-serve-native", addr}
			},
		},
		"workerd": {
			name:   "workerd",
			routes: jsRoutes,
			prepare: func(ctx context.Context) error {
				if err := b.npm(ctx); err != nil {
					return err
				}
				return b.fresh("workerd", "workerd")
			},
			command: func(addr string) []string {
				bin := b.path("node_modules", "@cloudflare", "workerd-"+goruntime.GOOS+"-"+arch, "bin", "workerd")
				return []string{bin, "serve", b.path("workerd", "config.capnp"), "--socket-addr", "http=" + addr}
			},
		},
		"next": {
			name:   "next",
			routes: jsRoutes,
			env:    []string{"NEXT_TELEMETRY_DISABLED=1"},
			prepare: func(ctx context.Context) error {
				if err := b.npm(ctx); err != nil {
					return err
				}
				if err := b.fresh("next", "app", "next"); err != nil {
					return err
				}
				return b.exec(ctx, "next-build", "", []string{"NEXT_TELEMETRY_DISABLED=1"}, b.path("node_modules", ".bin", "next"), "build", b.path("next"))
			},
			command: func(addr string) []string {
				host, port, _ := net.SplitHostPort(addr)
				return []string{b.path("node_modules", ".bin", "next"), "start", "-p", port, "-H", host, b.path("next")}
			},
		},
		"wasmroute": {
			name:     "wasmroute",
			routes:   jsRoutes,
			optional: true,
			cache:    true,
			prepare: func(ctx context.Context) error {
				if err := b.cli(ctx); err != nil {
					return err
				}
				return b.fresh("wasmroute", "app")
			},
			command: wrServe("wasmroute"),
		},
		"wasmroute-go": {
			name:   "wasmroute-go",
			routes: []route{routeGoHello},
			cache:  true,
			prepare: func(ctx context.Context) error {
				if err := b.cli(ctx); err != nil {
					return err
				}
				// Built in place, as serve would (route.wasm is ignored by
				// git), then served alone: the demo's other routes would
				// compile in the background while measured.
				demo := filepath.Join(b.o.repo, "examples", "demo")
				if err := build.Go(ctx, demo, []string{"api/hello"}, nil); err != nil {
					return err
				}
				wasm, err := os.ReadFile(filepath.Join(demo, "app", "api", "hello", "route.wasm"))
				if err != nil {
					return err
				}
				dir := b.path("wasmroute-go", "app", "api", "hello")
				if err := os.RemoveAll(b.path("wasmroute-go")); err != nil {
					return err
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(dir, "route.wasm"), wasm, 0o644)
			},
			command: wrServe("wasmroute-go", "--no-build"),
		},
	}
}

func (b *bench) run(ctx context.Context) int {
	if err := os.MkdirAll(b.path("logs"), 0o755); err != nil {
		fmt.Fprintf(b.stderr, "peerbench: %v\n", err)
		return 1
	}
	all := b.targets()
	var ts []*target
	runs := 0
	for _, name := range b.o.targets {
		ts = append(ts, all[name])
		runs += len(all[name].routes)
	}
	fmt.Fprintf(b.stderr, "peerbench: work folder %s; %d wrk runs of %v (+%v warm-up): ~%v of load\n",
		b.o.dir, runs, b.o.duration, b.o.warmup, time.Duration(runs)*(b.o.duration+b.o.warmup))

	// Everything is built before anything is measured.
	failed := false
	var ready []*target
	for _, t := range ts {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(b.stderr, "%s: preparing\n", t.name)
		if err := t.prepare(ctx); err != nil {
			failed = b.skip(t, "prepare", err) || failed
			continue
		}
		ready = append(ready, t)
	}
	dead := map[string]bool{}
	for b.round = 1; b.round <= b.o.rounds && ctx.Err() == nil; b.round++ {
		for _, t := range ready {
			if ctx.Err() != nil {
				break
			}
			if dead[t.name] {
				continue
			}
			if err := b.measure(ctx, t); err != nil {
				if ctx.Err() != nil {
					err = errors.New("interrupted")
				}
				failed = b.skip(t, "", err) || failed
				dead[t.name] = true
			}
		}
	}
	b.print()
	if ctx.Err() != nil {
		fmt.Fprintln(b.stderr, "peerbench: interrupted")
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

// skip records that t has no figures, and reports whether that fails the run.
func (b *bench) skip(t *target, stage string, err error) bool {
	msg := err.Error()
	if stage != "" {
		msg = stage + ": " + msg
	}
	if t.optional {
		msg = "skipped: " + msg
	}
	fmt.Fprintf(b.stderr, "%s: %s\n", t.name, msg)
	first, _, _ := strings.Cut(msg, "\n")
	b.results = append(b.results, result{round: b.round, target: t.name, route: "-", note: first})
	return !t.optional
}

// measure starts t, checks its answers and loads each of its routes.
func (b *bench) measure(ctx context.Context, t *target) error {
	if t.cache && b.round == 1 {
		os.RemoveAll(b.path("cache", t.name))
		p, first, err := b.start(ctx, t)
		if err != nil {
			return err
		}
		p.stop()
		b.starts = append(b.starts, fmt.Sprintf("%s: %v (empty compilation cache)", t.name, first.Round(time.Millisecond)))
	}
	p, first, err := b.start(ctx, t)
	if err != nil {
		return err
	}
	defer p.stop()
	note := ""
	if t.cache {
		note = " (compilation cache filled)"
	}
	b.starts = append(b.starts, fmt.Sprintf("%s: %v%s", t.name, first.Round(time.Millisecond), note))
	base := "http://" + p.addr
	for _, r := range t.routes {
		if err := check(ctx, base, r); err != nil {
			return err
		}
	}
	// Every route is warmed up before any is measured: next start needs
	// ~10 s of load before it reaches its pace (V8 tiering up Next.js).
	if b.o.warmup > 0 {
		for _, r := range t.routes {
			if _, err := b.wrk(ctx, base+r.path, b.o.warmup); err != nil {
				return fmt.Errorf("%s: warm-up: %w", r.name, err)
			}
		}
	}
	for _, r := range t.routes {
		w, err := b.wrk(ctx, base+r.path, b.o.duration)
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		res := result{round: b.round, target: t.name, route: r.name, rps: w.RPS, p50: w.P50, p99: w.P99}
		if w.Non2xx > 0 {
			res.note = fmt.Sprintf("%d non-2xx answers", w.Non2xx)
		}
		if w.SocketErrors != "" {
			res.note = strings.TrimPrefix(res.note+"; socket errors: "+w.SocketErrors, "; ")
		}
		b.results = append(b.results, res)
		fmt.Fprintf(b.stderr, "%s %s: %.0f req/s, p50 %s, p99 %s %s\n", t.name, r.name, w.RPS, ms(w.P50), ms(w.P99), res.note)
		if w.Non2xx > 0 {
			return fmt.Errorf("%s: %d answers were not 2xx", r.name, w.Non2xx)
		}
	}
	return nil
}

// start starts t on a free port and waits for the first 200 of its first
// route, returning the time from starting the process.
func (b *bench) start(ctx context.Context, t *target) (*proc, time.Duration, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	began := time.Now()
	p, err := b.spawn(t.name, "", t.env, t.command(addr)...)
	if err != nil {
		return nil, 0, err
	}
	p.addr = addr
	if err := waitOK(ctx, p, "http://"+addr+t.routes[0].path); err != nil {
		p.stop()
		if t.optional {
			err = fmt.Errorf("serve does not serve the route.ts project (not on this branch yet?): %w", err)
		}
		return nil, 0, err
	}
	return p, time.Since(began), nil
}

// waitOK polls url until it answers 200: the process must not exit, must
// answer within 2 minutes, and must not answer anything else for 3 s.
func waitOK(ctx context.Context, p *proc, url string) error {
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(2 * time.Minute)
	var firstBad time.Time
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		req.Header.Set("User-Agent", userAgent)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			if firstBad.IsZero() {
				firstBad = time.Now()
			} else if time.Since(firstBad) > 3*time.Second {
				return fmt.Errorf("GET %s answers %s: %q", url, resp.Status, body)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("exited before answering (%v); end of %s:\n%s", p.err, p.log, tail(p.log))
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no 200 from %s within 2 minutes; end of %s:\n%s", url, p.log, tail(p.log))
		}
	}
}

// check GETs r once and compares its answer with the one every target owes.
func check(ctx context.Context, base string, r route) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+r.path, nil)
	req.Header.Set("User-Agent", userAgent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || string(body) != r.body || mt != r.mime {
		return fmt.Errorf("GET %s: got %d %q %q, want 200 %q %q", r.path, resp.StatusCode, mt, body, r.mime, r.body)
	}
	return nil
}

// print writes the table of figures, the start times and wasmroute's ratios.
func (b *bench) print() {
	w := tabwriter.NewWriter(b.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(b.stdout, "\nwrk -t%d -c%d -d%v --latency, 127.0.0.1, %d cores\n\n", b.o.threads, b.o.conns, b.o.duration, goruntime.NumCPU())
	fmt.Fprintln(w, "round\ttarget\troute\t  req/s\t      p50\t      p99\t")
	// rps[round][target, route]
	rps := map[int]map[[2]string]float64{}
	for _, r := range b.results {
		if rps[r.round] == nil {
			rps[r.round] = map[[2]string]float64{}
		}
		rps[r.round][[2]string{r.target, r.route}] = r.rps
		if r.rps == 0 {
			fmt.Fprintf(w, "%d\t%s\t%s\t\t\t\t%s\n", r.round, r.target, r.route, r.note)
			continue
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%7.0f\t%9s\t%9s\t%s\n", r.round, r.target, r.route, r.rps, ms(r.p50), ms(r.p99), r.note)
	}
	w.Flush()
	if len(b.starts) > 0 {
		fmt.Fprintln(b.stdout, "\nstart → first 200 of its first route:")
		for _, s := range b.starts {
			fmt.Fprintln(b.stdout, "  "+s)
		}
	}
	fmt.Fprintln(b.stdout, "\nreq/s, wasmroute ÷ peer (median of the rounds, min–max):")
	fmt.Fprintln(w, "target\troute\t÷ workerd\t÷ next\t÷ native\t")
	rows := []struct {
		target string
		route  route
	}{{"wasmroute", routeJSON}, {"wasmroute", routeHello}, {"wasmroute", routeCPU}, {"wasmroute-go", routeGoHello}}
	for _, row := range rows {
		fmt.Fprintf(w, "%s\t%s\t", row.target, row.route.name)
		for _, peer := range []string{"workerd", "next", "native"} {
			var ratios []float64
			for _, m := range rps {
				num, den := m[[2]string{row.target, row.route.name}], m[[2]string{peer, row.route.name}]
				if num > 0 && den > 0 {
					ratios = append(ratios, num/den)
				}
			}
			fmt.Fprintf(w, "%s\t", summary(ratios))
		}
		fmt.Fprintln(w)
	}
	w.Flush()
}

// summary is the median of xs, with their range if there are several.
func summary(xs []float64) string {
	if len(xs) == 0 {
		return "—"
	}
	slices.Sort(xs)
	mid := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		mid = (xs[len(xs)/2-1] + mid) / 2
	}
	if len(xs) == 1 {
		return fmt.Sprintf("%.2f", mid)
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", mid, xs[0], xs[len(xs)-1])
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// npm installs the pinned packages into the work folder, once.
func (b *bench) npm(ctx context.Context) error {
	if b.npmDone {
		return b.npmErr
	}
	b.npmDone = true
	lock, err := testdata.ReadFile("testdata/npm/package-lock.json")
	if err != nil {
		b.npmErr = err
		return err
	}
	if old, err := os.ReadFile(b.path("package-lock.json")); err == nil && bytes.Equal(old, lock) {
		if _, err := os.Stat(b.path("node_modules", ".package-lock.json")); err == nil {
			return nil
		}
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		os.Remove(b.path(f))
	}
	if b.npmErr = writeTestdata("npm", b.o.dir); b.npmErr != nil {
		return b.npmErr
	}
	// --ignore-scripts: workerd's binary comes as an optional dependency,
	// its postinstall only checks it.
	b.npmErr = b.exec(ctx, "npm", "", nil, "npm", "ci", "--prefix", b.o.dir, "--ignore-scripts", "--no-audit", "--no-fund")
	return b.npmErr
}

// cli builds the wasmroute command into the work folder, once.
func (b *bench) cli(ctx context.Context) error {
	if !b.cliDone {
		b.cliDone = true
		b.cliErr = b.exec(ctx, "go-build", b.o.repo, nil, "go", "build", "-o", b.path("bin", "wasmroute"), "./cmd/wasmroute")
	}
	return b.cliErr
}

// fresh replaces the work folder's dir with testdata/<from> for each from.
func (b *bench) fresh(dir string, from ...string) error {
	if err := os.RemoveAll(b.path(dir)); err != nil {
		return err
	}
	for _, f := range from {
		to := b.path(dir)
		if f == "app" {
			to = b.path(dir, "app")
		}
		if err := writeTestdata(f, to); err != nil {
			return err
		}
	}
	return nil
}

// exec runs a command to its end, its output in logs/<name>.log.
func (b *bench) exec(ctx context.Context, name, dir string, env []string, argv ...string) error {
	fmt.Fprintf(b.stderr, "  %s\n", strings.Join(argv, " "))
	p, err := b.spawn(name, dir, env, argv...)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop()
		return ctx.Err()
	}
	p.stop() // its children, if any
	if p.err != nil {
		return fmt.Errorf("%s: %v; end of %s:\n%s", argv[0], p.err, p.log, tail(p.log))
	}
	return nil
}

// A proc is a started process, leader of its own process group.
type proc struct {
	cmd     *exec.Cmd
	addr    string
	log     string
	done    chan struct{} // closed when the leader has exited
	err     error         // Wait's, once done is closed
	stopped bool
}

// spawn starts argv in its own process group, its output appended to
// logs/<name>.log, and keeps it to be stopped at the end.
func (b *bench) spawn(name, dir string, env []string, argv ...string) (*proc, error) {
	log := b.path("logs", name+".log")
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fmt.Fprintf(f, "\n$ %s\n", strings.Join(argv, " "))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	b.procs = append(b.procs, p)
	return p, nil
}

// stop ends p's whole process group: SIGTERM, then SIGKILL after 5 s or
// once the leader is gone (its children may not be).
func (p *proc) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	pgid := p.cmd.Process.Pid
	select {
	case <-p.done:
	default:
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

func (b *bench) stopAll() {
	for _, p := range b.procs {
		p.stop()
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tail returns the end of a log file.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return strings.TrimSpace(string(data))
}

// wrk loads url for d and parses wrk's report.
func (b *bench) wrk(ctx context.Context, url string, d time.Duration) (wrk.Result, error) {
	return wrk.Run(ctx, url, wrk.Options{Threads: b.o.threads, Conns: b.o.conns, Duration: d, Headers: []string{"User-Agent: " + userAgent}})
}
