package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/kv"
)

// This file watches a Server's requests for Config.Metrics (metrics.go) and
// Config.AccessLog, and checks the W3C traceparent of each request. With
// neither set, a request pays one nil check here.

// serverObs is what a Server observes with; nil: nothing.
type serverObs struct {
	m      *Metrics     // nil: no metrics
	access *slog.Logger // nil: no access log
	tracer trace.Tracer // nil: no spans (tracing.go)
	sample float64      // the fraction of requests logged, in (0, 1]
	tenant string       // the tenant label: the project's folder name

	routes []*routeMetrics // by routes.Route.Index; nil without metrics
	none   *routeMetrics   // requests no route answered
	phases [nPhases]lazy[prometheus.Observer]
	denied lazy[prometheus.Counter] // fetches the outbound policy refused
}

// newServerObs returns what cfg asks to observe, or nil.
func newServerObs(cfg Config) (*serverObs, error) {
	if cfg.Metrics == nil && cfg.AccessLog == nil && cfg.Tracer == nil {
		return nil, nil
	}
	if cfg.AccessLogSample < 0 || cfg.AccessLogSample > 1 {
		return nil, fmt.Errorf("runtime: Config.AccessLogSample is %v: want a fraction from 0 to 1 (0: every request)", cfg.AccessLogSample)
	}
	o := &serverObs{m: cfg.Metrics, access: cfg.AccessLog, tracer: cfg.Tracer, sample: cfg.AccessLogSample, tenant: filepath.Base(filepath.Clean(cfg.Dir))}
	if o.sample == 0 {
		o.sample = 1
	}
	if o.m != nil {
		o.none = o.m.route(o.tenant, routeNone)
	}
	return o, nil
}

// start makes the series of s's routes and counts s's instances from now
// on (until stop). It is called once s's routes are loaded.
func (o *serverObs) start(s *Server) {
	if o == nil || o.m == nil {
		return
	}
	o.routes = make([]*routeMetrics, len(s.routes))
	for i, rt := range s.routes {
		o.routes[i] = o.m.route(o.tenant, rt.Pattern)
	}
	o.m.mu.Lock()
	o.m.servers[s] = true
	o.m.mu.Unlock()
}

// stop ends counting s's instances.
func (o *serverObs) stop(s *Server) {
	if o == nil || o.m == nil {
		return
	}
	o.m.mu.Lock()
	delete(o.m.servers, s)
	o.m.mu.Unlock()
}

// obsWriter watches a response: its status, its bytes, and what the Server
// learnt serving it (route, instance wait). Pooled: nothing keeps a
// ResponseWriter past its handler's return.
type obsWriter struct {
	http.ResponseWriter
	status int   // the final status written; 0: none yet
	bytes  int64 // body bytes written
	rt     *route
	waited bool
	wait   time.Duration
}

var obsWriters = sync.Pool{New: func() any { return new(obsWriter) }}

func (w *obsWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 { // 1xx answers are interim
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *obsWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// FlushError flushes as http.ResponseController does.
func (w *obsWriter) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *obsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observed returns the obsWriter under w, or nil: the handler's wrappers
// (middleware, CORS, cache capture) each unwrap.
func observed(w http.ResponseWriter) *obsWriter {
	for range 8 {
		switch ww := w.(type) {
		case *obsWriter:
			return ww
		case interface{ Unwrap() http.ResponseWriter }:
			w = ww.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// serverWriter returns the ResponseWriter under w's wrappers: net/http's,
// which http.MaxBytesReader must reach.
func serverWriter(w http.ResponseWriter) http.ResponseWriter {
	for range 8 {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		next := u.Unwrap()
		if next == nil {
			break
		}
		w = next
	}
	return w
}

// unknownTenant makes o observe the requests no tenant serves, as tenant
// "(none)".
func (o *serverObs) unknownTenant() {
	if o == nil {
		return
	}
	o.tenant = routeNone
	if o.m != nil {
		o.none = o.m.route(o.tenant, routeNone)
	}
}

// serve serves r with serve, observed.
func (o *serverObs) serve(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request)) {
	ow := obsWriters.Get().(*obsWriter)
	*ow = obsWriter{ResponseWriter: w}
	var span trace.Span
	if o.tracer != nil {
		span = o.startSpan(r)
	}
	start := time.Now()
	returned := false
	defer func() {
		// Also when the handler aborts (http.ErrAbortHandler): such a
		// request is counted, as "aborted", and the panic goes on.
		status := o.record(ow, r, start, !returned)
		if span != nil {
			o.endSpan(span, ow, r, status, !returned)
		}
		*ow = obsWriter{}
		obsWriters.Put(ow)
	}()
	serve(ow, r)
	returned = true
}

// record counts and logs a request served, and returns its status.
func (o *serverObs) record(ow *obsWriter, r *http.Request, start time.Time, aborted bool) int {
	end := time.Now()
	d := end.Sub(start)
	status := ow.status
	if status == 0 && !aborted {
		status = http.StatusOK // as net/http answers a handler that wrote nothing
	}
	cache := -1
	if ow.rt != nil && ow.rt.cache.on {
		cache = cacheResult(ow.Header())
	}
	if o.m != nil {
		rm := o.none
		if ow.rt != nil {
			rm = o.routes[ow.rt.Index]
		}
		rm.observe(methodLabel(r.Method), codeLabel(status, aborted), d, ow.waited, ow.wait, cache)
	}
	if o.access != nil && (o.sample >= 1 || rand.Float64() < o.sample) {
		o.log(ow, r, end, status, d, aborted, cache)
	}
	return status
}

// log writes the access log line of a request, ended at end. It hands
// the record to the logger's handler itself: Logger.LogAttrs would look
// up its caller (runtime.Callers), for a source nobody asked of an access
// log, at a third of the line's cost before encoding.
func (o *serverObs) log(ow *obsWriter, r *http.Request, end time.Time, status int, d time.Duration, aborted bool, cache int) {
	ctx := context.Background()
	h := o.access.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	route := routeNone
	if ow.rt != nil {
		route = ow.rt.Pattern
	}
	rec := slog.NewRecord(end, slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("tenant", o.tenant),
		slog.String("route", route),
		slog.String("method", truncate(r.Method, 32)),
		slog.String("path", truncate(r.URL.EscapedPath(), maxLoggedPath)),
		slog.Int("status", status),
		slog.Int64("bytes", ow.bytes),
		slog.Duration("duration", d),
		slog.Duration("wait", ow.wait),
	)
	if cache >= 0 {
		rec.AddAttrs(slog.String("cache", cacheResults[cache]))
	}
	if tp := r.Header["Traceparent"]; len(tp) == 1 { // checked by checkTrace
		rec.AddAttrs(slog.String("trace", host.TraceID(tp[0])))
	}
	if aborted {
		rec.AddAttrs(slog.Bool("aborted", true))
	}
	h.Handle(ctx, rec) // an access log that fails to write has nobody to tell
}

// maxLoggedPath bounds the path an access log line holds: a client's
// path of a megabyte makes no line of a megabyte.
const maxLoggedPath = 1 << 10

// truncate returns s cut to n bytes, marked with "…" when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// route tells the request's obsWriter its route, once found.
func (o *serverObs) route(w http.ResponseWriter, rt *route) {
	if o == nil {
		return
	}
	if ow := observed(w); ow != nil {
		ow.rt = rt
	}
}

// now is time.Now, or the zero time when nothing is observed.
func (o *serverObs) now() time.Time {
	if o == nil {
		return time.Time{}
	}
	return time.Now()
}

// waited tells the request's obsWriter how long it waited for an instance,
// since t (from now).
func (o *serverObs) waited(w http.ResponseWriter, t time.Time) {
	if o == nil {
		return
	}
	if ow := observed(w); ow != nil {
		ow.waited, ow.wait = true, time.Since(t)
	}
}

// limit counts a request a limit refused or stopped.
func (o *serverObs) limit(rt *route, limit int) {
	if o == nil || o.m == nil {
		return
	}
	o.m.limits.WithLabelValues(o.tenant, rt.Pattern, limitLabels[limit]).Inc()
}

// busy counts a 503 of pool.get's err.
func (o *serverObs) busy(rt *route, err error) {
	if err == errTenantBusy {
		o.limit(rt, limitMaxTenantInstances)
	} else {
		o.limit(rt, limitMaxInstances)
	}
}

// trap counts a guest that failed.
func (o *serverObs) trap(rt *route) {
	if o == nil || o.m == nil {
		return
	}
	o.m.traps.WithLabelValues(o.tenant, rt.Pattern).Inc()
}

// fetchDenied counts a fetch the outbound policy refused.
func (o *serverObs) fetchDenied() {
	if o == nil || o.m == nil {
		return
	}
	o.denied.get(func() prometheus.Counter { return o.m.fetches.WithLabelValues(o.tenant, "denied") }).Inc()
}

// phase records the time since t, from now, of a module phase.
func (o *serverObs) phase(phase int, t time.Time) {
	if o == nil || o.m == nil {
		return
	}
	o.phases[phase].get(func() prometheus.Observer {
		return o.m.phases.WithLabelValues(o.tenant, phaseLabels[phase])
	}).Observe(time.Since(t).Seconds())
}

// reset resets inst (instance.reset), timed.
func (o *serverObs) reset(inst *instance) bool {
	t := o.now()
	ok := inst.reset()
	if ok {
		o.phase(phaseReset, t)
	}
	return ok
}

// checkTrace drops r's traceparent and tracestate unless r holds exactly
// one traceparent, valid (host.ValidTraceparent): a guest, and the
// services it fetches, see a well-formed trace context or none.
func checkTrace(h http.Header) {
	v, ok := h["Traceparent"]
	if !ok || len(v) == 1 && host.ValidTraceparent(v[0]) {
		return
	}
	delete(h, "Traceparent")
	delete(h, "Tracestate")
}

// observedKV returns the key-value namespace guests reach: s.kv, counted
// with metrics.
func (s *Server) observedKV() kv.Namespace {
	if s.obs == nil || s.obs.m == nil {
		return s.kv
	}
	return s.obs.m.countKV(s.kv, s.obs.tenant)
}
