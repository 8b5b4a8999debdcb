package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/bits"
	"net"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wasmroute/wasmroute/internal/wrk"
	"github.com/wasmroute/wasmroute/runtime"
)

const loadUsage = `Usage: wasmroute load [flags] DIR

load measures wasmroute against a native Go server over loopback. It builds
and loads DIR, GETs --path once in process to learn its answer (status,
headers, body; it must be 2xx), and serves that route two ways, each on its
own 127.0.0.1 listener with the same http.Server settings (HTTP/1.1,
keep-alive): from wasmroute, and from a native http.HandlerFunc that writes
the same status, headers and bytes. A load generator warms each up, then
alternates them, native first, --rounds times each: in a round, --conns
keep-alive connections GET --path in a closed loop for --duration. It prints
each round's requests/s, p50 and p99 latency and errors, then the medians
and "ratio wasmroute/native", the median of the per-pair ratios.

The load generator is wrk (Debian's package "wrk"), an external process
(wrk -t THREADS -c CONNS -d DURATION --latency; it counts in whole seconds),
when it is on PATH; --client go picks the fallback, an in-process Go client
(one goroutine per connection), which shares this process and its cores with
both servers: its own cost per request counts in both figures, so its ratio
is closer to 1 than the servers' own costs alone would give (0.74 where wrk
measured 0.48). --procs sets GOMAXPROCS for this process, by default as
serve sets it.

Exit status: 0 once measured, whatever the ratio; 1 on a setup error, a
failed request (an error or a non-2xx answer) or an interrupt; 2 on bad usage.

Flags:
`

// loadWarmUp is how long each server is loaded before the first round.
const loadWarmUp = 500 * time.Millisecond

// loadCmd is wasmroute load.
func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("load", "load [flags] DIR")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), loadUsage)
		fs.PrintDefaults()
	}
	path := fs.String("path", "/api/hello", "the URL path (and query) to GET; its answer must be 2xx")
	duration := fs.Duration("duration", 3*time.Second, "length of each round")
	rounds := fs.Int("rounds", 3, "rounds per server, alternated native, wasmroute, native, …")
	conns := fs.Int("conns", 32, "keep-alive connections, each driven by one client goroutine in a closed loop")
	cache := cacheFlags(fs)
	noBuild := fs.Bool("no-build", false, "do not build route.go sources; load the route.wasm files as they are")
	client := fs.String("client", "auto", "load generator: wrk (external), go (in process) or auto (wrk when on PATH, else go)")
	threads := fs.Int("threads", 2, "wrk's threads (-t)")
	procs := fs.Int("procs", max(goruntime.GOMAXPROCS(0), 8*goruntime.NumCPU()), "Go Ps (GOMAXPROCS) shared by the client and both servers; the default is serve's")
	var isolation runtime.Isolation
	isolationFlag(fs, &isolation)
	dir, code := parse(fs, args, stderr)
	if code >= 0 {
		return code
	}
	for _, c := range []struct {
		bad  bool
		what string
	}{
		{!strings.HasPrefix(*path, "/"), "--path must start with /"},
		{*duration <= 0, "--duration must be positive"},
		{*rounds < 1, "--rounds must be at least 1"},
		{*conns < 1, "--conns must be at least 1"},
		{*procs < 1, "--procs must be at least 1"},
		{*threads < 1 || *threads > *conns, "--threads must be between 1 and --conns"},
		{!slices.Contains([]string{"auto", "wrk", "go"}, *client), "--client must be wrk, go or auto"},
	} {
		if c.bad {
			fmt.Fprintf(stderr, "wasmroute load: %s\n", c.what)
			return 2
		}
	}
	if *client == "auto" {
		*client = "go"
		if wrk.Available() {
			*client = "wrk"
		}
	} else if *client == "wrk" && !wrk.Available() {
		fmt.Fprintln(stderr, "wasmroute load: --client wrk: wrk is not on PATH (Debian: apt-get install wrk)")
		return 1
	}
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(*procs))

	if !*noBuild {
		if err := buildSources(ctx, dir, stderr); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	p := newProgress(stderr, "compiling")
	srv, err := runtime.New(ctx, runtime.Config{
		Dir:      dir,
		CacheDir: cache.dir,
		Logger:   slog.New(slog.DiscardHandler),
		Progress: p.update,
		Limits:   runtime.Limits{Isolation: isolation},
	})
	p.end()
	cache.trim(slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer srv.Close(context.Background())

	ans, err := fetchAnswer(ctx, srv, *path)
	if err != nil {
		fmt.Fprintf(stderr, "wasmroute load: %v\n", err)
		return 1
	}
	var targets [2]*loadTarget // native, wasmroute
	for i, h := range []http.Handler{ans, srv} {
		t, err := listenLoopback([]string{"native", "wasmroute"}[i], *path, *conns, h)
		if err != nil {
			fmt.Fprintf(stderr, "wasmroute load: %v\n", err)
			return 1
		}
		defer t.close()
		targets[i] = t
	}

	fmt.Fprintf(stdout, "GET %s: %d, Content-Type %q, %d-byte body; native replays the same status, headers and bytes\n",
		*path, ans.status, ans.header.Get("Content-Type"), len(ans.body))
	for _, t := range targets {
		if msg := t.check(ctx, ans); msg != "" {
			fmt.Fprintf(stdout, "note: over loopback, %s %s\n", t.name, msg)
		}
	}
	var load func(ctx context.Context, t *loadTarget, d time.Duration) *round
	warmUp := loadWarmUp
	if *client == "wrk" {
		fmt.Fprintf(stdout, "client: wrk -t%d -c%d, an external process; native and wasmroute both in this process (GOMAXPROCS %d), on this machine's %d cores\n",
			*threads, *conns, goruntime.GOMAXPROCS(0), goruntime.NumCPU())
		warmUp = time.Second // wrk's least
		load = func(ctx context.Context, t *loadTarget, d time.Duration) *round {
			return wrkRound(ctx, t.url, wrk.Options{Threads: *threads, Conns: *conns, Duration: d})
		}
	} else {
		fmt.Fprintf(stdout, "client: in process (wrk is not on PATH, or --client go): client, native and wasmroute share this machine's %d cores (one process, GOMAXPROCS %d)\n",
			goruntime.NumCPU(), goruntime.GOMAXPROCS(0))
		load = func(ctx context.Context, t *loadTarget, d time.Duration) *round {
			return t.run(ctx, *conns, d).round()
		}
	}
	fmt.Fprintf(stdout, "%d connections; %v warm-up each, then %d rounds of %v each, alternated\n\n",
		*conns, warmUp, *rounds, *duration)

	row := func(label, name string, r *round) {
		fmt.Fprintf(stdout, "%-6s %-10s %10.0f %9s %9s %9d %7d\n",
			label, name, r.rps, latency(r.p50), latency(r.p99), r.ok, r.failed)
	}
	fmt.Fprintf(stdout, "%-6s %-10s %10s %9s %9s %9s %7s\n", "ROUND", "SERVER", "REQ/S", "P50", "P99", "OK", "ERRORS")
	var (
		all           [2]round // every round and the warm-up, for errors
		rps, p50, p99 [2][]float64
		failed        int64
	)
	for n := range *rounds + 1 {
		for i, t := range targets {
			d, label := *duration, fmt.Sprint(n)
			if n == 0 {
				d, label = warmUp, "warm"
			}
			goruntime.GC() // the previous round's garbage is not this one's to collect
			r := load(ctx, t, d)
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "wasmroute load: interrupted")
				return 1
			}
			row(label, t.name, r)
			failed += r.failed
			if all[i].failure == "" {
				all[i].failure = r.failure
			}
			all[i].failed += r.failed
			if n > 0 {
				all[i].ok += r.ok
				rps[i] = append(rps[i], r.rps)
				p50[i] = append(p50[i], float64(r.p50))
				p99[i] = append(p99[i], float64(r.p99))
			}
		}
	}

	ratios := make([]float64, *rounds)
	for i := range ratios {
		if rps[0][i] > 0 {
			ratios[i] = rps[1][i] / rps[0][i]
		}
	}
	fmt.Fprintf(stdout, "\nmedian of %d rounds (OK: all rounds; errors include the warm-up):\n", *rounds)
	fmt.Fprintf(stdout, "%-10s %10s %9s %9s %9s %7s\n", "SERVER", "REQ/S", "P50", "P99", "OK", "ERRORS")
	for i, t := range targets {
		fmt.Fprintf(stdout, "%-10s %10.0f %9s %9s %9d %7d\n", t.name, median(rps[i]),
			latency(time.Duration(median(p50[i]))), latency(time.Duration(median(p99[i]))), all[i].ok, all[i].failed)
	}
	pairs := make([]string, len(ratios))
	for i, r := range ratios {
		pairs[i] = fmt.Sprintf("%.2f", r)
	}
	fmt.Fprintf(stdout, "per-pair ratios: %s\n", strings.Join(pairs, " "))
	fmt.Fprintf(stdout, "ratio wasmroute/native = %.2f\n", median(ratios))
	if m := median(p99[0]); m > 0 {
		fmt.Fprintf(stdout, "p99 ratio wasmroute/native = %.2f\n", median(p99[1])/m)
	}
	if failed > 0 {
		for i, t := range targets {
			if all[i].failure != "" {
				fmt.Fprintf(stderr, "wasmroute load: %s: %d requests failed, the first with %s\n", t.name, all[i].failed, all[i].failure)
			}
		}
		return 1
	}
	return 0
}

// answer is PATH's answer from wasmroute, learnt in process; as an
// http.Handler it replays it, the native baseline. It is safe for
// concurrent use.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// fetchAnswer GETs path from srv in process and returns its answer, which
// must be 2xx.
func fetchAnswer(ctx context.Context, srv http.Handler, path string) (*answer, error) {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1"+path, nil)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	res := rec.Result()
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("GET %s answered %s; the native baseline needs a 2xx answer: pick a --path that succeeds", path, res.Status)
	}
	return &answer{status: res.StatusCode, header: res.Header, body: rec.Body.Bytes()}, nil
}

func (a *answer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// loadTarget is one server on its own loopback listener, and the client
// transport that loads it.
type loadTarget struct {
	name string
	url  string
	hs   *http.Server
	tr   *http.Transport
}

// listenLoopback serves h on a free 127.0.0.1 port with the settings of
// serve, HTTP/1.1 only.
func listenLoopback(name, path string, conns int, h http.Handler) (*loadTarget, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
		Protocols:         new(http.Protocols),
	}
	hs.Protocols.SetHTTP1(true)
	go hs.Serve(ln)
	tr := &http.Transport{
		Proxy:               nil, // loopback, never a proxy
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: conns,
		DisableCompression:  true,
		Protocols:           new(http.Protocols),
	}
	tr.Protocols.SetHTTP1(true)
	return &loadTarget{name: name, url: "http://" + ln.Addr().String() + path, hs: hs, tr: tr}, nil
}

func (t *loadTarget) close() {
	t.tr.CloseIdleConnections()
	t.hs.Close()
}

// check GETs the target once and says how its answer differs from a, or
// returns "".
func (t *loadTarget) check(ctx context.Context, a *answer) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return err.Error()
	}
	res, err := t.tr.RoundTrip(req)
	if err != nil {
		return "failed: " + err.Error()
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	var diffs []string
	switch {
	case err != nil:
		diffs = append(diffs, "failed: "+err.Error())
	case res.StatusCode != a.status:
		diffs = append(diffs, fmt.Sprintf("answered %s, not %d", res.Status, a.status))
	}
	if got, want := res.Header.Get("Content-Type"), a.header.Get("Content-Type"); got != want {
		diffs = append(diffs, fmt.Sprintf("sent Content-Type %q, not %q", got, want))
	}
	if err == nil && !bytes.Equal(body, a.body) {
		diffs = append(diffs, fmt.Sprintf("sent a different %d-byte body", len(body)))
	}
	if res.ContentLength < 0 {
		diffs = append(diffs, "sent its body chunked")
	}
	return strings.Join(diffs, "; ")
}

// run loads t from conns goroutines for d, or until ctx is done.
func (t *loadTarget) run(ctx context.Context, conns int, d time.Duration) *loadResult {
	workers := make([]loadResult, conns)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { workers[i].loop(ctx, t.tr, t.url, end) })
	}
	wg.Wait()
	r := &loadResult{elapsed: time.Since(start)}
	for i := range workers {
		w := &workers[i]
		r.ok += w.ok
		r.failed += w.failed
		r.hist.merge(&w.hist)
		if r.failure == "" {
			r.failure = w.failure
		}
	}
	return r
}

// round is one round's figures, from either client.
type round struct {
	rps      float64
	p50, p99 time.Duration
	ok       int64
	failed   int64  // errors and non-2xx answers
	failure  string // the first failure, or a summary of them
}

// round returns r's figures.
func (r *loadResult) round() *round {
	return &round{rps: r.rps(), p50: r.hist.quantile(0.50), p99: r.hist.quantile(0.99), ok: r.ok, failed: r.failed, failure: r.failure}
}

// wrkRound loads url with wrk. A wrk that fails counts as one failed
// request, with its error as the failure.
func wrkRound(ctx context.Context, url string, o wrk.Options) *round {
	res, err := wrk.Run(ctx, url, o)
	if err != nil {
		return &round{failed: 1, failure: err.Error()}
	}
	r := &round{rps: res.RPS, p50: res.P50, p99: res.P99, ok: res.Requests - res.Non2xx, failed: res.Non2xx}
	if res.Non2xx > 0 {
		r.failure = "a non-2xx answer"
	}
	if n := wrk.SocketErrorCount(res.SocketErrors); n > 0 {
		r.failed += n
		r.failure = "socket errors: " + res.SocketErrors
	}
	return r
}

// loadResult counts one client goroutine's requests, or a round's.
type loadResult struct {
	ok, failed int64
	failure    string // the first failure
	elapsed    time.Duration
	hist       histogram // latencies of the successful requests
}

// loop GETs url on tr until end, one request at a time. A request that ctx
// cuts short counts neither way.
func (w *loadResult) loop(ctx context.Context, tr http.RoundTripper, url string, end time.Time) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		w.fail(err.Error())
		return
	}
	for t0 := time.Now(); t0.Before(end); t0 = time.Now() {
		res, err := tr.RoundTrip(req)
		if err == nil {
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			w.fail(err.Error())
		case res.StatusCode/100 != 2:
			w.fail(res.Status)
		default:
			w.ok++
			w.hist.add(time.Since(t0))
		}
	}
}

func (w *loadResult) fail(msg string) {
	if w.failed == 0 {
		w.failure = msg
	}
	w.failed++
}

func (r *loadResult) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// histogram counts durations in log-linear buckets: exact below 32ns, then
// 32 buckets per power of two, so that a quantile is within about 3%. It
// takes 16 KiB whatever the count.
type histogram [64 << histSubBits]int64

const histSubBits = 5

func histBucket(ns uint64) int {
	if ns < 1<<histSubBits {
		return int(ns)
	}
	shift := bits.Len64(ns) - histSubBits - 1
	return (shift+1)<<histSubBits + int(ns>>shift) - 1<<histSubBits
}

// histValue is the middle of bucket i.
func histValue(i int) time.Duration {
	shift := i>>histSubBits - 1
	if shift <= 0 {
		return time.Duration(i)
	}
	low := uint64(i&(1<<histSubBits-1)+1<<histSubBits) << shift
	return time.Duration(low + 1<<shift/2)
}

func (h *histogram) add(d time.Duration) { h[histBucket(uint64(max(d, 0)))]++ }

func (h *histogram) merge(o *histogram) {
	for i, n := range o {
		h[i] += n
	}
}

// quantile returns the q-quantile (0 < q ≤ 1), or 0 for no samples.
func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := max(int64(q*float64(total)+0.5), 1)
	var seen int64
	for i, n := range h {
		if seen += n; seen >= rank {
			return histValue(i)
		}
	}
	return histValue(len(h) - 1)
}

// median returns the median of xs, or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func latency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	}
}
