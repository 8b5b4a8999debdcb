package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasmroute/wasmroute/runtime"
)

// obsOptions are serve's observability flags: the access log, and the
// metrics /metrics serves on the admin listener.
type obsOptions struct {
	accessLog string
	sample    float64
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
	return o
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
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := runtime.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		MaxRequestsInFlight: 4, // a scrape walks every route: a flood of them must not
	}))
	return m, nil
}
