package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wasmroute/wasmroute/runtime"
)

// This file is serve --tenants --workers N: a supervisor process that runs
// no guest code, in front of N worker processes that each serve a fixed
// share of the tenants. A Go process cannot survive some failures (fatal
// errors such as running out of memory, a panic nobody recovers); with
// workers, such a failure takes down one share of the tenants for the time
// its worker restarts, not every tenant. RATIONALE.md says why it is built
// so.

const (
	// maxWorkers bounds --workers: each worker is a whole server, with its
	// own compiled modules and instances.
	maxWorkers = 64

	// workerEnv, set by the supervisor in a worker's environment, makes
	// serve a worker: "I/N" (worker I of N) and the path of the unix socket
	// to listen on. Its status lines go to file descriptor 3; its standard
	// input is its lifeline (EOF: the supervisor is gone).
	workerEnv       = "WASMROUTE_WORKER"
	workerSocketEnv = "WASMROUTE_WORKER_SOCKET"

	// clientHeader carries the client's address and protocol from the
	// supervisor to a worker, e.g. "203.0.113.9:5123 HTTP/2.0". The
	// supervisor replaces whatever a client sent under that name; a worker
	// takes it as the request's RemoteAddr and Proto, and removes it: its
	// socket is reachable by the supervisor only (a folder of mode 0700).
	clientHeader = "Wasmroute-Worker-Client"

	// restartWait is how long a request for a worker that is restarting
	// waits for it before it is answered 503.
	restartWait = 2 * time.Second

	// stableUptime is how long a worker must have run for its next
	// restart to be immediate; restarts closer together back off from
	// minBackoff, doubling to maxBackoff.
	stableUptime = 10 * time.Second
	minBackoff   = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second

	// flushInterval is how long a response's bytes may wait in the
	// supervisor before they are sent on. A response without a length
	// (one the guest streams) is sent on at each write whatever it is.
	flushInterval = 5 * time.Millisecond

	// workerDrain bounds how long the supervisor waits, at shutdown, for
	// workers to drain (serve's own drain is 30 s) before killing them.
	workerDrain = 35 * time.Second
)

// workerOf returns the worker, 1 to n, that serves tenant: the one that
// scores highest for it (rendezvous hashing). It depends on the name and n
// only, so a tenant stays on its worker across restarts and reloads, and
// adding a tenant moves no other; going from n to n+1 workers moves only
// the tenants that worker n+1 wins, about 1/(n+1) of them.
func workerOf(tenant string, n int) int {
	best, bestScore := 1, uint64(0)
	for i := 1; i <= n; i++ {
		// FNV-1a of the name and the worker's number, then a finalizer
		// (splitmix64's) so that near-identical inputs score apart.
		h := uint64(14695981039346656037)
		for _, c := range []byte(tenant) {
			h = (h ^ uint64(c)) * 1099511628211
		}
		h = (h ^ uint64(i)) * 1099511628211
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
		if h > bestScore || i == 1 {
			best, bestScore = i, h
		}
	}
	return best
}

// worker is what a worker process knows of itself; nil in any other
// process. Its methods are the hooks serve calls, and do nothing on nil.
type worker struct {
	n, of  int
	socket string
	status *os.File // file descriptor 3: lines to the supervisor
}

// workerFromEnv returns the worker this process is, or nil if it is none.
// It clears the variables, which the process's children must not see.
func workerFromEnv() (*worker, error) {
	v, ok := os.LookupEnv(workerEnv)
	if !ok {
		return nil, nil
	}
	socket := os.Getenv(workerSocketEnv)
	os.Unsetenv(workerEnv)
	os.Unsetenv(workerSocketEnv)
	a, b, _ := strings.Cut(v, "/")
	n, err1 := strconv.Atoi(a)
	of, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || n < 1 || n > of || of > maxWorkers || socket == "" {
		return nil, fmt.Errorf("%s=%q, %s=%q: not set by a wasmroute supervisor", workerEnv, v, workerSocketEnv, socket)
	}
	return &worker{n: n, of: of, socket: socket, status: os.NewFile(3, "status")}, nil
}

// selector returns the TenantsConfig.Select of the worker: its share.
func (w *worker) selector() func(string) bool {
	if w == nil {
		return nil
	}
	return func(tenant string) bool { return workerOf(tenant, w.of) == w.n }
}

// context returns ctx, also cancelled when the supervisor is gone: the
// worker's standard input, which only the supervisor holds open, ends.
// (On Linux the worker is also killed then, by its parent-death signal.)
func (w *worker) context(ctx context.Context) context.Context {
	if w == nil {
		return ctx
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return ctx
}

// listen listens on the worker's socket, or on addr in any other process.
func (w *worker) listen(addr string) (net.Listener, error) {
	if w == nil {
		return net.Listen("tcp", addr)
	}
	return net.Listen("unix", w.socket)
}

// report sends the supervisor one status line: "listening" once the
// worker serves, "compiled" once its modules are.
func (w *worker) report(line string) {
	if w != nil {
		w.status.WriteString(line + "\n") // the supervisor may be gone: nothing to do then
	}
}

// handler returns h serving requests as the supervisor received them: with
// the client's address and protocol, which the guest sees.
func (w *worker) handler(h http.Handler) http.Handler {
	if w == nil {
		return h
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		addr, proto, ok := strings.Cut(r.Header.Get(clientHeader), " ")
		major, minor, okProto := http.ParseHTTPVersion(proto)
		if !ok || !okProto {
			// Only the supervisor reaches the socket, and it always sets it.
			http.Error(rw, "request without the supervisor's "+clientHeader, http.StatusBadRequest)
			return
		}
		r.Header.Del(clientHeader)
		r.RemoteAddr, r.Proto, r.ProtoMajor, r.ProtoMinor = addr, proto, major, minor
		h.ServeHTTP(rw, r)
	})
}

// supervisorConfig is what serve hands the supervisor.
type supervisorConfig struct {
	exe           string   // the program the workers run (empty: this one)
	args          []string // serve's command line, which each worker runs too
	addr          string
	workers       int
	tenants       runtime.TenantsConfig // Dir, Domain and Hosts: to name a request's tenant
	shutdownDelay time.Duration
	probes        *admin
	logger        *slog.Logger
	stdout        io.Writer
	stderr        io.Writer
}

// supervisor is serve --tenants --workers N: it maps each request's Host to
// a tenant as runtime.Tenants does, then to the tenant's worker, and
// proxies it there. It runs no guest code. It is an http.Handler, safe for
// concurrent use.
type supervisor struct {
	cfg     supervisorConfig
	dir     string // a private folder (0700) for the workers' sockets
	workers []*workerProc
	assign  atomic.Pointer[map[string]int] // tenant folder → worker, re-read on SIGHUP
	stdout  *lineWriter
	ready   sync.Mutex // guards the probes' update
}

var _ http.Handler = (*supervisor)(nil)

// socketDirPrefix, the supervisor's pid and a random suffix name the
// folder of its workers' sockets, in the temporary folder.
const socketDirPrefix = "wasmroute-workers-"

// removeStaleSocketDirs removes the socket folders of supervisors that are
// gone: one killed (SIGKILL) could not remove its own. A folder whose
// supervisor may still run, or that is not this user's to remove, stays.
func removeStaleSocketDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), socketDirPrefix+"*-*"))
	for _, dir := range dirs {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), socketDirPrefix), "-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n <= 0 || n == os.Getpid() {
			continue
		}
		if p, err := os.FindProcess(n); err == nil && errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone) {
			os.RemoveAll(dir)
		}
	}
}

// supervise runs serve --tenants --workers N until ctx is done; it returns
// serve's exit code.
func supervise(ctx context.Context, cfg supervisorConfig) int {
	// The supervisor runs no guest code: --procs, which leaves Ps to
	// spare beside runaway guests, is for the workers; here it would only
	// make the garbage collector's work costlier.
	goruntime.GOMAXPROCS(goruntime.NumCPU())
	// Its heap is small and made of short-lived request copies: collect
	// it less often.
	debug.SetGCPercent(400)
	s, err := newSupervisor(cfg)
	if err != nil {
		fmt.Fprintf(cfg.stderr, "wasmroute serve: %v\n", err)
		return 1
	}
	return s.serve(ctx)
}

// newSupervisor returns the supervisor of cfg, its workers not started.
func newSupervisor(cfg supervisorConfig) (*supervisor, error) {
	exe := cfg.exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("--workers: finding this program to run its workers: %w", err)
		}
	}
	removeStaleSocketDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", socketDirPrefix, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("--workers: a folder for the workers' sockets: %w", err)
	}
	s := &supervisor{cfg: cfg, dir: dir, stdout: &lineWriter{w: cfg.stdout}}
	if err := s.readTenants(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for n := 1; n <= cfg.workers; n++ {
		s.workers = append(s.workers, newWorkerProc(s, exe, n))
	}
	cfg.probes.gatherWorkers(s) // workers_metrics.go
	return s, nil
}

// serve starts the workers and serves until ctx is done, then drains; it
// returns serve's exit code.
func (s *supervisor) serve(ctx context.Context) int {
	cfg := s.cfg
	defer os.RemoveAll(s.dir)
	fail := func(err error) int {
		fmt.Fprintf(cfg.stderr, "wasmroute serve: %v\n", err)
		return 1
	}
	started := make(chan error, cfg.workers)
	var loops sync.WaitGroup
	for _, w := range s.workers {
		w.started = started
		loops.Go(w.run)
	}
	defer func() {
		s.stopWorkers()
		loops.Wait()
	}()
	for range cfg.workers {
		select {
		case err := <-started:
			if err != nil {
				return fail(err)
			}
		case <-ctx.Done():
			return 1
		}
	}
	s.printTable()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fail(err)
	}
	// As serve's own server.
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.logger.Handler(), slog.LevelWarn),
		Protocols:         new(http.Protocols),
	}
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	fmt.Fprintf(cfg.stdout, "\nlistening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
loop:
	for {
		select {
		case err := <-errc:
			return fail(err)
		case <-hup:
			s.reload()
		case <-ctx.Done():
			break loop
		}
	}
	cfg.probes.drain(cfg.shutdownDelay, cfg.stdout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fail(fmt.Errorf("shutdown: %w", err))
	}
	return 0
}

// readTenants reads the tenants' folders and assigns each its worker.
func (s *supervisor) readTenants() error {
	names, err := runtime.TenantFolders(s.cfg.tenants.Dir)
	if err != nil {
		return err
	}
	assign := make(map[string]int, len(names))
	for _, name := range names {
		assign[name] = workerOf(name, s.cfg.workers)
	}
	s.assign.Store(&assign)
	return nil
}

// Assignment returns the worker, 1 to N, that serves each tenant: for the
// routes table, and the metrics' worker label.
func (s *supervisor) Assignment() map[string]int { return maps.Clone(*s.assign.Load()) }

// workerState is one worker as the metrics may show it.
type workerState struct {
	N        int  // 1 to N
	PID      int  // of its process now (0 if none was started)
	Up       bool // it serves
	Restarts int  // since the supervisor started
}

// States returns each worker's state, for the metrics (a gauge of Up, a
// counter of Restarts).
func (s *supervisor) States() []workerState {
	states := make([]workerState, len(s.workers))
	for i, w := range s.workers {
		w.mu.Lock()
		states[i] = workerState{N: w.n, Up: w.live.Load() != nil, Restarts: w.restarts}
		if w.cur != nil {
			states[i].PID = w.cur.pid
		}
		w.mu.Unlock()
	}
	return states
}

// printTable prints each tenant's worker, and each worker's process.
func (s *supervisor) printTable() {
	assign := s.Assignment()
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nTENANT\tURL\tWORKER")
	for _, name := range slices.Sorted(maps.Keys(assign)) {
		fmt.Fprintf(tw, "%s\thttp://%s.%s\t%d\n", name, name, s.cfg.tenants.Domain, assign[name])
	}
	tw.Flush()
	for _, w := range s.workers {
		if inc := w.live.Load(); inc != nil {
			fmt.Fprintf(s.stdout, "worker %d: pid %d\n", w.n, inc.pid)
		}
	}
}

// reload re-reads the tenants' folders and has every worker reload (SIGHUP).
func (s *supervisor) reload() {
	if err := s.readTenants(); err != nil {
		s.cfg.logger.Error("reload failed; the previous tenants serve on", "err", err)
		return
	}
	for _, w := range s.workers {
		if inc := w.live.Load(); inc != nil {
			if err := inc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				s.cfg.logger.Error("reload: signalling a worker", "worker", w.n, "pid", inc.pid, "err", err)
			}
		}
	}
	s.printTable()
}

// ServeHTTP proxies r to the worker of its tenant; a host that names no
// tenant gets 404 without a hop, as in one process.
func (s *supervisor) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	n, ok := (*s.assign.Load())[s.cfg.tenants.Tenant(r.Host)]
	if !ok {
		http.NotFound(rw, r)
		return
	}
	w := s.workers[n-1]
	if w.live.Load() == nil && w.await(r.Context(), nil) == nil {
		rw.Header().Set("Retry-After", "1")
		http.Error(rw, "tenant unavailable: its worker is restarting", http.StatusServiceUnavailable)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		// The worker may answer while it still reads the body (an echo,
		// a stream): HTTP/1.1's server would end the body when the head
		// goes out, as it would in one process without the host's
		// full duplex (host.Exchange.writeHead). HTTP/2 always is.
		_ = http.NewResponseController(rw).EnableFullDuplex()
	}
	w.proxy.ServeHTTP(rw, r)
}

// stopWorkers has every worker drain and exit (SIGTERM), and kills those
// still running after workerDrain.
func (s *supervisor) stopWorkers() {
	for _, w := range s.workers {
		w.stop()
	}
}

// updateProbes makes /readyz ready when every worker serves and has
// compiled its modules.
func (s *supervisor) updateProbes() {
	s.ready.Lock()
	defer s.ready.Unlock()
	listening, compiled := true, true
	for _, w := range s.workers {
		w.mu.Lock()
		inc := w.cur
		listening = listening && inc != nil && inc.listening && !inc.exited
		compiled = compiled && inc != nil && inc.compiled && !inc.exited
		w.mu.Unlock()
	}
	s.cfg.probes.loaded.Store(listening)
	s.cfg.probes.compiled.Store(compiled)
}

// workerProc is one worker as the supervisor runs it, restarted each time
// it exits until the supervisor stops.
type workerProc struct {
	s      *supervisor
	n      int
	exe    string
	socket string
	proxy  *httputil.ReverseProxy
	conns  *http.Transport

	started  chan<- error // told once whether the first process serves
	announce sync.Once

	live atomic.Pointer[incarnation] // the process serving now, or nil

	mu        sync.Mutex
	cur       *incarnation  // the process started last
	changed   chan struct{} // closed, and replaced, at each change of cur
	stopping  bool
	restarted bool // a process has served before
	restarts  int  // processes started after the first
}

// incarnation is one process of a worker. Its fields past pid are guarded
// by its worker's mu.
type incarnation struct {
	cmd      *exec.Cmd
	pid      int
	lifeline *os.File // the write end of the worker's standard input

	listening, compiled, exited bool
}

func newWorkerProc(s *supervisor, exe string, n int) *workerProc {
	w := &workerProc{s: s, n: n, exe: exe, socket: fmt.Sprintf("%s/worker-%d.sock", s.dir, n), changed: make(chan struct{})}
	w.conns = &http.Transport{
		Proxy: nil, // never the environment's HTTP_PROXY
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", w.socket)
		},
		// Every connection goes to one worker: keep as many idle as the
		// busiest moment opened, up to a bound.
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // pass Accept-Encoding and bodies as they are
		ReadBufferSize:      32 << 10,
		WriteBufferSize:     32 << 10,
	}
	w.proxy = &httputil.ReverseProxy{
		Rewrite:       w.rewrite,
		Transport:     retryDial{w},
		FlushInterval: flushInterval,
		ErrorLog:      slog.NewLogLogger(s.cfg.logger.Handler(), slog.LevelWarn),
		ErrorHandler:  w.proxyError,
		BufferPool:    &copyBuffers, // not 32 KiB allocated per request
	}
	return w
}

// rewrite addresses the worker with the request as the client sent it.
// httputil removed the X-Forwarded headers: they are the client's, passed
// on as they came, as one process would; the client's address goes in
// clientHeader, which replaces any the client sent.
func (w *workerProc) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = "worker" // the transport dials the socket whatever the host
	// httputil drops query parameters it cannot parse ("a;b", "100%"):
	// the guest parses the query itself, as it would in one process.
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	// It also drops Forwarded and X-Forwarded-*, and every header the
	// client named in Connection: the supervisor is no proxy to the guest,
	// which sees them in one process. Only the hop-by-hop headers proper
	// stay between client and supervisor.
	for name, v := range pr.In.Header {
		if _, ok := pr.Out.Header[name]; !ok && !hopByHop[name] {
			pr.Out.Header[name] = v
		}
	}
	pr.Out.Header.Set(clientHeader, pr.In.RemoteAddr+" "+pr.In.Proto)
}

// hopByHop are the headers of the client's connection to the supervisor
// (RFC 9110, 7.6.1), which the guest does not see with --workers.
var hopByHop = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// proxyError answers a request the worker did not: it died with the
// request in flight, or was down longer than restartWait.
func (w *workerProc) proxyError(rw http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left
	}
	w.s.cfg.logger.Warn("a worker did not answer", "worker", w.n, "host", r.Host, "method", r.Method, "path", r.URL.Path, "err", err)
	rw.Header().Set("Retry-After", "1")
	http.Error(rw, "tenant unavailable: its worker failed (it is being restarted)", http.StatusBadGateway)
}

// retryDial is a worker's transport: a request that could not reach the
// worker (it was sent nothing) waits for the worker's restart and is sent
// again, once.
type retryDial struct{ w *workerProc }

func (t retryDial) RoundTrip(r *http.Request) (*http.Response, error) {
	inc := t.w.live.Load()
	res, err := t.w.conns.RoundTrip(r)
	var op *net.OpError
	if err == nil || !errors.As(err, &op) || op.Op != "dial" || r.Body != nil && r.Body != http.NoBody {
		return res, err
	}
	if t.w.await(r.Context(), inc) == nil {
		return nil, err
	}
	return t.w.conns.RoundTrip(r)
}

// await waits up to restartWait for a process of w other than not to
// serve, and returns it, or nil.
func (w *workerProc) await(ctx context.Context, not *incarnation) *incarnation {
	timeout := time.NewTimer(restartWait)
	defer timeout.Stop()
	for {
		w.mu.Lock()
		inc, changed := w.cur, w.changed
		up := inc != nil && inc != not && inc.listening && !inc.exited
		w.mu.Unlock()
		if up {
			return inc
		}
		select {
		case <-changed:
		case <-timeout.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// update changes w's state under its lock and tells those waiting.
func (w *workerProc) update(f func()) {
	w.mu.Lock()
	f()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
	w.s.updateProbes()
}

// started tells w.started, once, whether the first process serves.
func (w *workerProc) tell(err error) {
	w.announce.Do(func() { w.started <- err })
}

// run starts the worker's process, and again each time it exits, until
// stop. If the first process exits before it serves, run tells why and
// gives up: the command line or the tenants are wrong, and every restart
// would fail alike.
func (w *workerProc) run() {
	// The parent-death signal goes when the thread that started the child
	// ends: this goroutine keeps its thread until the last process exited.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	first := true
	var backoff time.Duration
	for {
		inc, err := w.start()
		if err != nil {
			w.tell(fmt.Errorf("--workers: starting worker %d: %w", w.n, err))
			return
		}
		began := time.Now()
		err = inc.cmd.Wait()
		inc.lifeline.Close()
		w.conns.CloseIdleConnections()
		var listened, stopping bool
		w.update(func() {
			inc.exited = true
			listened, stopping = inc.listening, w.stopping
			w.live.CompareAndSwap(inc, nil)
		})
		if first && !listened {
			w.tell(fmt.Errorf("worker %d (pid %d) exited before serving: %v", w.n, inc.pid, err))
			return
		}
		first = false
		if stopping {
			return
		}
		uptime := time.Since(began)
		switch {
		case uptime >= stableUptime:
			backoff = 0
		case backoff == 0:
			backoff = minBackoff
		default:
			backoff = min(2*backoff, maxBackoff)
		}
		w.s.cfg.logger.Error("worker exited; restarting it", "worker", w.n, "pid", inc.pid, "status", inc.cmd.ProcessState.String(), "uptime", uptime.Round(time.Millisecond), "in", backoff)
		if !w.sleep(backoff) {
			return
		}
	}
}

// sleep waits d, or less if the worker is told to stop: it reports whether
// to go on.
func (w *workerProc) sleep(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		w.mu.Lock()
		stopping, changed := w.stopping, w.changed
		w.mu.Unlock()
		left := time.Until(deadline)
		if stopping {
			return false
		}
		if left <= 0 {
			return true
		}
		select {
		case <-changed:
		case <-time.After(left):
		}
	}
}

// start starts a process of the worker: serve with the supervisor's
// command line, its socket, its status pipe and its lifeline.
func (w *workerProc) start() (*incarnation, error) {
	if err := os.Remove(w.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		statusR.Close()
		statusW.Close()
		return nil, err
	}
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		statusR.Close()
		statusW.Close()
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd := exec.Command(w.exe, append([]string{"serve"}, w.s.cfg.args...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d/%d", workerEnv, w.n, w.s.cfg.workers), workerSocketEnv+"="+w.socket)
	// Files, not writers: no goroutine of exec copies them, so Wait
	// returns when the worker exits even if its children hold them.
	cmd.Stdin, cmd.Stdout, cmd.ExtraFiles = lifeR, outW, []*os.File{statusW}
	if f, ok := w.s.cfg.stderr.(*os.File); ok {
		cmd.Stderr = f
	} else {
		cmd.Stderr = w.s.cfg.stderr
	}
	cmd.SysProcAttr = workerAttr()
	inc := &incarnation{cmd: cmd, lifeline: lifeW}
	w.mu.Lock()
	stopping := w.stopping
	if !stopping {
		err = cmd.Start()
	}
	if err == nil && !stopping {
		inc.pid = cmd.Process.Pid
		if w.cur != nil {
			w.restarts++
		}
		w.cur = inc
		close(w.changed)
		w.changed = make(chan struct{})
	}
	w.mu.Unlock()
	statusW.Close()
	outW.Close()
	lifeR.Close()
	if stopping {
		err = errors.New("stopping")
	}
	if err != nil {
		statusR.Close()
		outR.Close()
		lifeW.Close()
		return nil, err
	}
	go w.s.stdout.copyLines(outR)
	go w.readStatus(inc, statusR)
	return inc, nil
}

// readStatus reads a process's status lines until it exits.
func (w *workerProc) readStatus(inc *incarnation, r *os.File) {
	defer r.Close()
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		switch lines.Text() {
		case "listening":
			restarted := false
			w.update(func() {
				if !inc.exited {
					inc.listening = true
					w.live.Store(inc)
				}
				restarted, w.restarted = w.restarted, true
			})
			if restarted {
				w.s.cfg.logger.Info("worker restarted", "worker", w.n, "pid", inc.pid)
			}
			w.tell(nil)
		case "compiled":
			w.update(func() { inc.compiled = true })
		}
	}
}

// stop has the worker drain and exit, and not restart; it kills it if it
// has not exited within workerDrain.
func (w *workerProc) stop() {
	var inc *incarnation
	w.update(func() {
		w.stopping = true
		inc = w.cur
	})
	if inc == nil {
		return
	}
	inc.cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		timer := time.NewTimer(workerDrain)
		defer timer.Stop()
		for {
			w.mu.Lock()
			exited, changed := inc.exited, w.changed
			w.mu.Unlock()
			if exited {
				return
			}
			select {
			case <-changed:
			case <-timer.C:
				w.s.cfg.logger.Error("a worker did not drain in time: killing it", "worker", w.n, "pid", inc.pid)
				inc.cmd.Process.Kill()
				return
			}
		}
	}()
}

// copyBuffers are the buffers the proxies copy response bodies with.
var copyBuffers bufferPool

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// lineWriter writes whole lines from several workers' outputs to one
// writer, so that theirs do not mix within a line.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// copyLines copies r to l line by line until r ends.
func (l *lineWriter) copyLines(r *os.File) {
	defer r.Close()
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			l.Write(line)
		}
		if err != nil {
			return
		}
	}
}

// dataDir returns the embedded key-value store's folder for the worker:
// the store is a file that one process at a time may open, so each worker
// has its own, in a subfolder of the usual one named after it. (With
// --kv redis://..., every worker shares the store.)
func (w *worker) dataDir(kvURL, dataDir, dir string) string {
	if w == nil || kvURL != "" {
		return dataDir
	}
	if dataDir == "" {
		dataDir = filepath.Join(dir, ".wasmroute", "data")
	}
	return filepath.Join(dataDir, fmt.Sprintf("worker-%d", w.n))
}
