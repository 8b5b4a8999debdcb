package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wasmroute/wasmroute/runtime"
)

// With --workers, the requests are counted in the workers, which have no
// admin listener: each serves its wasmroute_* metrics, labelled with its
// worker number, on a unix socket beside its public one, and the
// supervisor's /metrics gathers them at each scrape, with its own series of
// the workers (up, restarts) and of the assignment (tenant → worker).

// metricsSocket is the socket a worker serves its metrics on.
func metricsSocket(socket string) string { return socket + ".metrics" }

// serveMetrics serves the worker's metrics on its metrics socket and
// returns them for its runtime.Config.
func (w *worker) serveMetrics() (*runtime.Metrics, error) {
	reg := prometheus.NewRegistry()
	m, err := runtime.NewMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"worker": strconv.Itoa(w.n)}, reg))
	if err != nil {
		return nil, err
	}
	path := metricsSocket(w.socket)
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(reg))
	go (&http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
	return m, nil
}

// workerMetricsTimeout bounds how long a scrape waits for one worker: a
// worker that is stuck loses its series for that scrape (its up gauge
// stays 1 while its process lives), the others' are served.
const workerMetricsTimeout = 2 * time.Second

// workerGatherer gathers the metrics of the supervisor's workers.
type workerGatherer struct {
	s      *supervisor
	client *http.Client
}

func newWorkerGatherer(s *supervisor) *workerGatherer {
	return &workerGatherer{s: s, client: &http.Client{
		Timeout: workerMetricsTimeout,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				// addr is "worker-N:80": the worker's number names its socket.
				host, _, _ := net.SplitHostPort(addr)
				for _, w := range s.workers {
					if host == fmt.Sprintf("worker-%d", w.n) {
						return (&net.Dialer{}).DialContext(ctx, "unix", metricsSocket(w.socket))
					}
				}
				return nil, fmt.Errorf("no worker %s", host)
			},
			MaxIdleConnsPerHost: 1,
		},
	}}
}

// Gather implements prometheus.Gatherer: every worker's families, merged by
// name. A worker that does not answer (restarting, dead) is left out.
func (g *workerGatherer) Gather() ([]*dto.MetricFamily, error) {
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		families = map[string]*dto.MetricFamily{}
	)
	for _, w := range g.s.workers {
		wg.Go(func() {
			fs, err := g.scrape(w.n)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for name, f := range fs {
				if have, ok := families[name]; ok && have.GetType() == f.GetType() {
					have.Metric = append(have.Metric, f.Metric...)
				} else if !ok {
					families[name] = f
				}
			}
		})
	}
	wg.Wait()
	out := make([]*dto.MetricFamily, 0, len(families))
	for _, f := range families {
		out = append(out, f)
	}
	return out, nil
}

// maxWorkerMetrics bounds what one worker's answer may hold.
const maxWorkerMetrics = 64 << 20

func (g *workerGatherer) scrape(n int) (map[string]*dto.MetricFamily, error) {
	res, err := g.client.Get(fmt.Sprintf("http://worker-%d/metrics", n))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("worker %d's metrics: %s", n, res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(http.MaxBytesReader(nil, res.Body, maxWorkerMetrics))
}

// workersCollector is the supervisor's own series of its workers.
type workersCollector struct{ s *supervisor }

var (
	workerUpDesc = prometheus.NewDesc("wasmroute_worker_up",
		"1 while the worker's process serves, 0 while it is restarted.", []string{"worker"}, nil)
	workerRestartsDesc = prometheus.NewDesc("wasmroute_worker_restarts_total",
		"Processes of the worker started after its first.", []string{"worker"}, nil)
	tenantWorkerDesc = prometheus.NewDesc("wasmroute_tenant_worker",
		"1 for each tenant, labelled with the worker that serves it (stable: rendezvous hashing of its name).", []string{"tenant", "worker"}, nil)
)

func (c workersCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- workerUpDesc
	ch <- workerRestartsDesc
	ch <- tenantWorkerDesc
}

func (c workersCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.s.States() {
		n := strconv.Itoa(st.N)
		up := 0.0
		if st.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(workerUpDesc, prometheus.GaugeValue, up, n)
		ch <- prometheus.MustNewConstMetric(workerRestartsDesc, prometheus.CounterValue, float64(st.Restarts), n)
	}
	for tenant, n := range c.s.Assignment() {
		ch <- prometheus.MustNewConstMetric(tenantWorkerDesc, prometheus.GaugeValue, 1, tenant, strconv.Itoa(n))
	}
}
