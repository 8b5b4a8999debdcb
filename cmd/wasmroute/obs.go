package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wasmroute/wasmroute/runtime"
)

// obsOptions are serve's observability flags: the access log, and the
// metrics /metrics serves on the admin listener.
type obsOptions struct {
	accessLog string
	sample    float64
	otlp      string // the OTLP/HTTP traces endpoint; empty: no spans
}

func obsFlags(fs *flag.FlagSet) *obsOptions {
	o := &obsOptions{accessLog: "off"}
	fs.Func("access-log", `one line per request on stdout: "off" (default), "text" or "json" (log/slog's formats; see README, Observability)`, func(v string) error {
		switch v {
		case "off", "text", "json":
			o.accessLog = v
			return nil
		}
		return fmt.Errorf(`want "off", "text" or "json"`)
	})
	fs.Func("access-log-sample", "the fraction of requests the access log writes, chosen at random, e.g. 0.01 (default 1: every request)", func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 1) {
			return fmt.Errorf("want a fraction above 0, at most 1")
		}
		o.sample = f
		return nil
	})
	fs.Func("otlp-endpoint", "send one OpenTelemetry span per request to this OTLP/HTTP collector, e.g. http://127.0.0.1:4318 (its path, when it has none: /v1/traces); empty (default): no spans", func(v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("want an http or https URL such as http://127.0.0.1:4318")
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		o.otlp = u.String()
		return nil
	})
	return o
}

// tracer returns the tracer of --otlp-endpoint, or nil, and the function
// that sends the spans still buffered and stops.
func (o *obsOptions) tracer(ctx context.Context) (trace.Tracer, func(), error) {
	if o.otlp == "" {
		return nil, func() {}, nil
	}
	exp, err := otlpExporter(ctx, o.otlp) // otlp.go
	if err != nil {
		return nil, nil, fmt.Errorf("--otlp-endpoint: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "wasmroute"))),
	)
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tp.Shutdown(ctx)
	}
	return tp.Tracer("github.com/wasmroute/wasmroute"), shutdown, nil
}

// accessLogger returns the access log's logger, writing to w, or nil.
func (o *obsOptions) accessLogger(w io.Writer) *slog.Logger {
	switch o.accessLog {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil))
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return nil
}

// serveMetrics registers wasmroute's metrics, with the Go runtime's and the
// process's, and serves them on the admin listener's /metrics.
func (a *admin) serveMetrics() (*runtime.Metrics, error) {
	reg := prometheus.NewRegistry()
	a.reg = reg
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := runtime.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	a.info = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wasmroute_build_info",
		Help: "1, labelled with the versions of wasmroute and wazero and the digest of the project served (wasmroute build prints it; empty in dev).",
	}, []string{"version", "wazero", "digest"})
	reg.MustRegister(a.info)
	a.deployed("")
	a.mux.Handle("GET /metrics", metricsHandler(prometheus.GathererFunc(a.gather)))
	return m, nil
}

// metricsHandler serves g's metrics in Prometheus's text format.
func metricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		MaxRequestsInFlight: 4, // a scrape walks every route: a flood of them must not
	})
}

// gather is the admin listener's metrics: its own, and with --workers the
// workers' (workers_metrics.go).
func (a *admin) gather() ([]*dto.MetricFamily, error) {
	if w := a.workers.Load(); w != nil {
		return prometheus.Gatherers{a.reg, w}.Gather()
	}
	return a.reg.Gather()
}

// gatherWorkers adds s's workers to the metrics, if they are kept.
func (a *admin) gatherWorkers(s *supervisor) {
	if a.reg == nil {
		return
	}
	a.reg.MustRegister(workersCollector{s})
	a.workers.Store(newWorkerGatherer(s))
}

// deployed labels wasmroute_build_info with the digest of the project now
// served, so that a dashboard tells which deploy each replica runs.
func (a *admin) deployed(digest string) {
	if a.info == nil {
		return
	}
	v, wazero := versions()
	a.info.Reset()
	a.info.WithLabelValues(v, wazero, digest).Set(1)
}
