package runtime

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmroute/wasmroute/internal/kv"
	"github.com/wasmroute/wasmroute/internal/outbound"
)

// This file counts what the Servers serve, for Prometheus (Config.Metrics).
// Every label is bounded by the operator's files: the tenant is a tenant's
// folder name, the route a route pattern (never a raw path), the method
// one of abi.Methods or "other", the code a status class. RATIONALE.md
// ("Observability") says why.

// Metrics holds the Prometheus metrics of every Server built with it (one
// project, its reloaded versions, or every tenant). Make one with
// NewMetrics and set it as Config.Metrics; it is safe for concurrent use.
//
// The metrics, all prefixed wasmroute_:
//
//	requests_total{tenant,route,method,code}           answers, by status class (2xx…5xx, "aborted")
//	request_duration_seconds{tenant,route,method}      histogram, from routing to the handler's return
//	instance_wait_seconds{tenant,route}                histogram, waiting for a free instance
//	instances{tenant,route,state}                      gauge, instances "in_use" and "idle", read at scrape time; a route without any has no series
//	limit_rejections_total{tenant,route,limit}         413 (maxBody), 504 (maxDuration), 503 (maxInstances, maxTenantInstances)
//	guest_traps_total{tenant,route}                    guests that failed (trap, exit code, instantiation)
//	module_seconds{tenant,phase}                       histogram: compile (with its snapshot), snapshot, instantiate, reset
//	cache_total{tenant,route,result}                   response cache answers: HIT, STALE, MISS
//	fetch_total{tenant,result}                         guests' outbound requests (each redirect hop): ok, error, denied
//	kv_calls_total{tenant,op,result}                   key-value calls: get, set, delete, list, incr; ok, not_found, error
//
// Requests that reach no route have route "(none)"; answered by the
// project's middleware, "(middleware)".
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	wait      *prometheus.HistogramVec
	limits    *prometheus.CounterVec
	traps     *prometheus.CounterVec
	phases    *prometheus.HistogramVec
	cache     *prometheus.CounterVec
	fetches   *prometheus.CounterVec
	kvCalls   *prometheus.CounterVec
	instances *prometheus.Desc

	mu      sync.Mutex
	servers map[*Server]bool // those serving, for the instances gauge
}

// NewMetrics registers wasmroute's metrics with reg (such as
// prometheus.NewRegistry()) and returns them. It fails if reg already
// holds metrics of the same names.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns = "wasmroute"
	// Latency buckets from 100 µs (a warm guest's answer) to 30 s (the
	// default maxDuration is 10 s).
	latency := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
			Help: "Requests answered, by tenant, route pattern, method and status class."}, []string{"tenant", "route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
			Help: "Time from routing a request to its handler's return.", Buckets: latency}, []string{"tenant", "route", "method"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "instance_wait_seconds",
			Help: "Time a request waited for a free instance (limits maxInstances, maxTenantInstances).", Buckets: latency}, []string{"tenant", "route"}),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "limit_rejections_total",
			Help: "Requests refused or stopped by a limit: maxBody (413), maxDuration (504), maxInstances and maxTenantInstances (503)."}, []string{"tenant", "route", "limit"}),
		traps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "guest_traps_total",
			Help: "Guests that failed a request: a trap, a non-zero exit, or an instance that could not be made."}, []string{"tenant", "route"}),
		phases: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "module_seconds",
			Help:    "Time spent on modules: compile (including its snapshot), snapshot, instantiate, reset.",
			Buckets: []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30}}, []string{"tenant", "phase"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "cache_total",
			Help: "Answers of cached routes: HIT, STALE (served, being refreshed) or MISS (the handler ran)."}, []string{"tenant", "route", "result"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "fetch_total",
			Help: "Guests' outbound HTTP requests, each redirect hop counted: ok (a response came), error, denied (by policy)."}, []string{"tenant", "result"}),
		kvCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "kv_calls_total",
			Help: "Guests' key-value store calls, by operation and result."}, []string{"tenant", "op", "result"}),
		instances: prometheus.NewDesc(ns+"_instances", "Instances of each route's module, in use or idle.", []string{"tenant", "route", "state"}, nil),
		servers:   map[*Server]bool{},
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.wait, m.limits, m.traps, m.phases, m.cache, m.fetches, m.kvCalls, (*instanceGauge)(m)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// instanceGauge reports the instances of every Server serving, at scrape
// time: the request path pays nothing for it.
type instanceGauge Metrics

func (g *instanceGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.instances }

func (g *instanceGauge) Collect(ch chan<- prometheus.Metric) {
	type key struct{ tenant, route string }
	type count struct{ inUse, idle int }
	counts := map[key]count{}
	g.mu.Lock()
	servers := make([]*Server, 0, len(g.servers))
	for s := range g.servers {
		servers = append(servers, s)
	}
	g.mu.Unlock()
	// Two versions of a project serve side by side during a reload: their
	// instances add up, one series per route.
	for _, s := range servers {
		for _, rt := range s.routes {
			if rt.pool == nil {
				continue
			}
			k := key{s.obs.tenant, rt.Pattern}
			c := counts[k]
			c.inUse += len(rt.pool.sem)
			rt.pool.mu.Lock()
			c.idle += len(rt.pool.idle)
			rt.pool.mu.Unlock()
			counts[k] = c
		}
	}
	for k, c := range counts {
		if c.inUse+c.idle == 0 {
			continue // a route without instances has no series: thousands of tenants' routes may have none
		}
		ch <- prometheus.MustNewConstMetric(g.instances, prometheus.GaugeValue, float64(c.inUse), k.tenant, k.route, "in_use")
		ch <- prometheus.MustNewConstMetric(g.instances, prometheus.GaugeValue, float64(c.idle), k.tenant, k.route, "idle")
	}
}

// Method labels: abi.Methods' seven, then every other method. A module may
// export any method token and a client may send any: none reaches a label.
var methodLabels = [...]string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "other"}

// methodLabel returns method's index in methodLabels.
func methodLabel(method string) int {
	switch method {
	case "DELETE":
		return 0
	case "GET":
		return 1
	case "HEAD":
		return 2
	case "OPTIONS":
		return 3
	case "PATCH":
		return 4
	case "POST":
		return 5
	case "PUT":
		return 6
	}
	return 7
}

// Status classes: index 0 for a request aborted (no complete answer), 1
// to 5 for 1xx to 5xx.
var codeLabels = [...]string{"aborted", "1xx", "2xx", "3xx", "4xx", "5xx"}

func codeLabel(status int, aborted bool) int {
	if aborted || status < 100 || status > 599 {
		return 0
	}
	return status / 100
}

// Limits as limit_rejections_total names them.
const (
	limitMaxBody = iota
	limitMaxDuration
	limitMaxInstances
	limitMaxTenantInstances
)

var limitLabels = [...]string{"maxBody", "maxDuration", "maxInstances", "maxTenantInstances"}

// Module phases, as module_seconds names them.
const (
	phaseCompile = iota
	phaseSnapshot
	phaseInstantiate
	phaseReset
	nPhases
)

var phaseLabels = [nPhases]string{"compile", "snapshot", "instantiate", "reset"}

// Route labels for requests that reach no route.
const (
	routeNone       = "(none)"
	routeMiddleware = "(middleware)"
)

// routeMetrics are one route's series, each made on its first use and
// kept: a request looks nothing up by label and takes no lock.
type routeMetrics struct {
	m       *Metrics
	tenant  string
	pattern string

	requests [len(methodLabels)][len(codeLabels)]lazy[prometheus.Counter]
	duration [len(methodLabels)]lazy[prometheus.Observer]
	wait     lazy[prometheus.Observer]
	cache    [len(cacheResults)]lazy[prometheus.Counter]
}

func (m *Metrics) route(tenant, pattern string) *routeMetrics {
	return &routeMetrics{m: m, tenant: tenant, pattern: pattern}
}

// lazy is a series made on first use. Two requests may both make it: the
// vector returns the same child to both.
type lazy[T any] struct{ p atomic.Pointer[T] }

func (l *lazy[T]) get(make func() T) T {
	if p := l.p.Load(); p != nil {
		return *p
	}
	v := make()
	l.p.Store(&v)
	return v
}

// observe counts one request: its method and code label indexes, duration,
// instance wait (if it waited for one) and cache result (-1: none).
func (rm *routeMetrics) observe(method, code int, d time.Duration, waited bool, wait time.Duration, cache int) {
	rm.requests[method][code].get(func() prometheus.Counter {
		return rm.m.requests.WithLabelValues(rm.tenant, rm.pattern, methodLabels[method], codeLabels[code])
	}).Inc()
	rm.duration[method].get(func() prometheus.Observer {
		return rm.m.duration.WithLabelValues(rm.tenant, rm.pattern, methodLabels[method])
	}).Observe(d.Seconds())
	if waited {
		rm.wait.get(func() prometheus.Observer { return rm.m.wait.WithLabelValues(rm.tenant, rm.pattern) }).Observe(wait.Seconds())
	}
	if cache >= 0 {
		rm.cache[cache].get(func() prometheus.Counter {
			return rm.m.cache.WithLabelValues(rm.tenant, rm.pattern, cacheResults[cache])
		}).Inc()
	}
}

// cacheResults are CacheHeader's values, as cache_total labels them.
var cacheResults = [...]string{"HIT", "STALE", "MISS"}

func cacheResult(h http.Header) int {
	v := h[CacheHeader]
	if len(v) != 1 {
		return -1
	}
	return slices.Index(cacheResults[:], v[0])
}

// countingTransport counts a route's outbound requests that were sent
// (fetch_total ok and error); those the policy refused, the host reports
// (host.Outbound.Denied; serverObs.denied).
type countingTransport struct {
	next       http.RoundTripper
	m          *Metrics
	tenant     string
	ok, failed lazy[prometheus.Counter]
}

func (m *Metrics) countFetches(c *http.Client, tenant string) *http.Client {
	cc := *c
	next := cmpTransport(c.Transport)
	cc.Transport = &countingTransport{next: next, m: m, tenant: tenant}
	return &cc
}

func cmpTransport(t http.RoundTripper) http.RoundTripper {
	if t == nil {
		return http.DefaultTransport
	}
	return t
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(r)
	var denied *outbound.DeniedError
	switch {
	case err == nil:
		t.ok.get(func() prometheus.Counter { return t.m.fetches.WithLabelValues(t.tenant, "ok") }).Inc()
	case errors.As(err, &denied): // counted by the host's report
	default:
		t.failed.get(func() prometheus.Counter { return t.m.fetches.WithLabelValues(t.tenant, "error") }).Inc()
	}
	return res, err
}

// CloseIdleConnections closes the idle connections of the transport
// under t, as http.Client.CloseIdleConnections asks.
func (t *countingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// kvOps are the key-value operations, as kv_calls_total labels them.
const (
	kvGet = iota
	kvSet
	kvDelete
	kvList
	kvIncr
)

var kvOpLabels = [...]string{"get", "set", "delete", "list", "incr"}

var kvResultLabels = [...]string{"ok", "not_found", "error"}

// countingKV counts a project's key-value calls (kv_calls_total).
type countingKV struct {
	kv.Namespace
	m      *Metrics
	tenant string
	calls  [len(kvOpLabels)][len(kvResultLabels)]lazy[prometheus.Counter]
}

func (m *Metrics) countKV(ns kv.Namespace, tenant string) *countingKV {
	return &countingKV{Namespace: ns, m: m, tenant: tenant}
}

func (c *countingKV) count(op int, err error) {
	result := 2
	switch {
	case err == nil:
		result = 0
	case errors.Is(err, kv.ErrNotFound):
		result = 1
	}
	c.calls[op][result].get(func() prometheus.Counter {
		return c.m.kvCalls.WithLabelValues(c.tenant, kvOpLabels[op], kvResultLabels[result])
	}).Inc()
}

func (c *countingKV) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := c.Namespace.Get(ctx, key)
	c.count(kvGet, err)
	return v, err
}

func (c *countingKV) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := c.Namespace.Set(ctx, key, value, ttl)
	c.count(kvSet, err)
	return err
}

func (c *countingKV) Delete(ctx context.Context, key string) error {
	err := c.Namespace.Delete(ctx, key)
	c.count(kvDelete, err)
	return err
}

func (c *countingKV) List(ctx context.Context, prefix string) ([]string, error) {
	keys, err := c.Namespace.List(ctx, prefix)
	c.count(kvList, err)
	return keys, err
}

func (c *countingKV) Incr(ctx context.Context, key string, by int64) (int64, error) {
	n, err := c.Namespace.Incr(ctx, key, by)
	c.count(kvIncr, err)
	return n, err
}
