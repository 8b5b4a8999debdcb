package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// admin serves the operator's endpoints on their own listener (--admin-addr),
// never on the public one: /healthz (the process answers) and /readyz (the
// routes are loaded, their modules compiled, and the server is not
// draining), for a load balancer's or Kubernetes' probes.
type admin struct {
	mux  *http.ServeMux
	srv  *http.Server
	info *prometheus.GaugeVec // wasmroute_build_info, with metrics (obs.go)

	reg     *prometheus.Registry           // the metrics, if kept (--admin-addr)
	workers atomic.Pointer[workerGatherer] // with --workers: theirs (workers_metrics.go)

	loaded   atomic.Bool // the first version of the routes serves
	compiled atomic.Bool // its modules are compiled (or the first compilation ended)
	draining atomic.Bool // shutting down: the balancer should send nothing more
}

// newAdmin returns the endpoints; listen serves them. Without a listener
// the states are still kept, and nothing reads them.
func newAdmin() *admin {
	a := &admin{mux: http.NewServeMux()}
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	a.mux.HandleFunc("GET /readyz", a.readyz)
	return a
}

// listen serves the endpoints on addr until close. It is called before the
// routes are built and loaded, so that a liveness probe answers during a
// long first build.
func (a *admin) listen(addr string, logger *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--admin-addr: %w", err)
	}
	a.srv = &http.Server{
		Handler:           a.mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go a.srv.Serve(ln)
	return ln.Addr(), nil
}

func (a *admin) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var why string
	switch {
	case a.draining.Load():
		why = "draining: shutting down"
	case !a.loaded.Load():
		why = "loading the routes"
	case !a.compiled.Load():
		why = "compiling the modules"
	default:
		fmt.Fprintln(w, "ready")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(w, "not ready:", why)
}

// close stops the admin listener at once: by then the public server has
// drained, and a probe that fails is what the balancer should see.
func (a *admin) close() {
	if a.srv != nil {
		a.srv.Close()
	}
}

// drain begins a shutdown: /readyz answers 503 from now on, and for delay
// requests are still served, so that load balancers stop sending first. A
// second SIGINT or SIGTERM from here on ends the process at once (the
// signals' default action), delay and drain cut short: an operator who
// asks twice does not wait.
func (a *admin) drain(delay time.Duration, stdout io.Writer) {
	a.draining.Store(true)
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	if delay > 0 {
		fmt.Fprintf(stdout, "shutting down: /readyz answers 503; draining in %v\n", delay)
		time.Sleep(delay)
	}
	fmt.Fprintln(stdout, "shutting down: draining requests in flight")
}
