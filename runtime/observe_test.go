package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wasmroute/wasmroute/internal/scrape"
)

// serveObserved serves the project of routes (see project) with metrics on a
// real listener, and returns its URL, the /metrics URL, and its tenant
// label.
func serveObserved(t *testing.T, cfg Config, routes map[string]string) (srv, metrics, tenant string) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Metrics = m
	cfg.Dir = project(t, routes)
	s, _ := newServer(t, cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	ms := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(ms.Close)
	return ts.URL, ms.URL, filepath.Base(cfg.Dir)
}

func send(t *testing.T, method, url string, body io.Reader, contentLength int64) int {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentLength != 0 {
		req.ContentLength = contentLength
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0 // the handler aborted before the head
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return 0 // the handler aborted after the head
	}
	return res.StatusCode
}

func scrapeOrFail(t *testing.T, url string) scrape.Series {
	t.Helper()
	s, err := scrape.Get(url, "wasmroute_")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMetrics serves a known sequence (200s, a 404, a 405, a 413 by
// Content-Length, a 504, 503s by each instance limit,
// guest traps, one of them after the head was sent) and reads /metrics
// with Prometheus's parser.
func TestMetrics(t *testing.T) {
	srv, metrics, tenant := serveObserved(t, Config{
		Limits:             Limits{MaxInstances: 1, MaxDuration: time.Second, MaxWait: 50 * time.Millisecond, MaxBody: 16},
		MaxTenantInstances: 1,
	}, map[string]string{"hello": "hello", "loop": "loop", "trap": "trap"})

	type step struct {
		method, path string
		body         io.Reader
		length       int64
		want         int
	}
	big := strings.Repeat("x", 100)
	for _, s := range []step{
		{"GET", "/hello", nil, 0, 200},
		{"GET", "/hello", nil, 0, 200},
		{"GET", "/nope", nil, 0, 404},
		{"DELETE", "/hello", nil, 0, 405},
		{"POST", "/hello", strings.NewReader(big), 100, 413}, // by its Content-Length
		{"GET", "/trap", nil, 0, 500},
		{"POST", "/trap", nil, 0, 0}, // traps after its head: aborted
	} {
		if got := send(t, s.method, srv+s.path, s.body, s.length); got != s.want {
			t.Fatalf("%s %s = %d, want %d", s.method, s.path, got, s.want)
		}
	}
	// /loop holds the route's only instance and the tenant's only one
	// until its maxDuration: /loop waits for the route's, /hello for the
	// tenant's.
	var wg sync.WaitGroup
	var first int
	wg.Go(func() { first = send(t, "GET", srv+"/loop", nil, 0) })
	time.Sleep(200 * time.Millisecond)
	if got := send(t, "GET", srv+"/loop", nil, 0); got != 503 {
		t.Errorf("GET /loop while busy = %d, want 503", got)
	}
	if got := send(t, "GET", srv+"/hello", nil, 0); got != 503 {
		t.Errorf("GET /hello while the tenant is busy = %d, want 503", got)
	}
	wg.Wait()
	if first != 504 {
		t.Errorf("GET /loop = %d, want 504", first)
	}
	if got := send(t, "GET", srv+"/hello", nil, 0); got != 200 {
		t.Errorf("GET /hello after = %d, want 200", got)
	}

	got := scrapeOrFail(t, metrics)
	series := func(name string, labels ...string) string {
		return fmt.Sprintf("wasmroute_%s{%s,tenant=%q}", name, strings.Join(labels, ","), tenant)
	}
	want := scrape.Series{
		series("requests_total", `code="2xx"`, `method="GET"`, `route="/hello"`):     3,
		series("requests_total", `code="4xx"`, `method="GET"`, `route="(none)"`):     1,
		series("requests_total", `code="4xx"`, `method="DELETE"`, `route="/hello"`):  1,
		series("requests_total", `code="4xx"`, `method="POST"`, `route="/hello"`):    1,
		series("requests_total", `code="5xx"`, `method="GET"`, `route="/trap"`):      1,
		series("requests_total", `code="aborted"`, `method="POST"`, `route="/trap"`): 1,
		series("requests_total", `code="5xx"`, `method="GET"`, `route="/loop"`):      2,
		series("requests_total", `code="5xx"`, `method="GET"`, `route="/hello"`):     1,

		series("limit_rejections_total", `limit="maxBody"`, `route="/hello"`):            1,
		series("limit_rejections_total", `limit="maxDuration"`, `route="/loop"`):         1,
		series("limit_rejections_total", `limit="maxInstances"`, `route="/loop"`):        1,
		series("limit_rejections_total", `limit="maxTenantInstances"`, `route="/hello"`): 1,

		series("guest_traps_total", `route="/trap"`): 2,

		// Every request that asked its pool for an instance: not the 404,
		// the 405 or the 413 by Content-Length.
		series("instance_wait_seconds_count", `route="/hello"`): 4,
		series("instance_wait_seconds_count", `route="/loop"`):  2,
		series("instance_wait_seconds_count", `route="/trap"`):  2,

		series("request_duration_seconds_count", `method="GET"`, `route="/hello"`):    4,
		series("request_duration_seconds_count", `method="GET"`, `route="(none)"`):    1,
		series("request_duration_seconds_count", `method="DELETE"`, `route="/hello"`): 1,
		series("request_duration_seconds_count", `method="POST"`, `route="/hello"`):   1,
		series("request_duration_seconds_count", `method="GET"`, `route="/trap"`):     1,
		series("request_duration_seconds_count", `method="POST"`, `route="/trap"`):    1,
		series("request_duration_seconds_count", `method="GET"`, `route="/loop"`):     2,

		// A failed instance is closed: only /hello's stays, idle; a route
		// without instances has no series.
		series("instances", `route="/hello"`, `state="idle"`):   1,
		series("instances", `route="/hello"`, `state="in_use"`): 0,
	}
	for _, family := range []string{"requests_total", "limit_rejections_total", "guest_traps_total", "instance_wait_seconds_count", "request_duration_seconds_count", "instances"} {
		if diff := cmp.Diff(want.Family("wasmroute_"+family), got.Family("wasmroute_"+family)); diff != "" {
			t.Errorf("wasmroute_%s (-want +got):\n%s", family, diff)
		}
	}
	// New compiles the three modules; /hello, /loop and /trap (twice)
	// made instances.
	if n := got[series("module_seconds_count", `phase="compile"`)]; n != 3 {
		t.Errorf("module_seconds compile count = %v, want 3", n)
	}
	if n := got[series("module_seconds_count", `phase="instantiate"`)]; n < 4 {
		t.Errorf("module_seconds instantiate count = %v, want at least 4", n)
	}
}

// TestMetricsCardinality: the route label is the pattern and the method
// label one of eight, whatever paths and methods clients send.
func TestMetricsCardinality(t *testing.T) {
	srv, metrics, _ := serveObserved(t, Config{}, map[string]string{"blog/[slug]": "hello", "methods": "methods"})
	for i := range 1000 {
		if got := send(t, "GET", fmt.Sprintf("%s/blog/post-%d-%d", srv, i, rand.Int()), nil, 0); got != 200 {
			t.Fatalf("GET /blog/post-%d = %d", i, got)
		}
	}
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for range 1000 {
		method := make([]byte, 1+rand.IntN(12))
		for i := range method {
			method[i] = letters[rand.IntN(len(letters))]
		}
		send(t, string(method), srv+"/methods", nil, 0) // mostly 405
	}
	for _, m := range []string{"QUERY", "PROPFIND", "MKCOL", "M-SEARCH"} { // the module's own
		if got := send(t, m, srv+"/methods", nil, 0); got != 200 {
			t.Errorf("%s /methods = %d, want 200", m, got)
		}
	}
	got := scrapeOrFail(t, metrics).Family("wasmroute_requests_total")
	routes, methods := map[string]bool{}, map[string]bool{}
	var total float64
	for k, v := range got {
		total += v
		for _, l := range strings.Split(strings.Trim(k[strings.Index(k, "{"):], "{}"), ",") {
			switch name, value, _ := strings.Cut(l, "="); name {
			case "route":
				routes[value] = true
			case "method":
				methods[value] = true
			}
		}
	}
	if total != 2004 {
		t.Errorf("requests counted: %v, want 2004", total)
	}
	if diff := cmp.Diff(map[string]bool{`"/blog/[slug]"`: true, `"/methods"`: true}, routes); diff != "" {
		t.Errorf("route labels (-want +got):\n%s", diff)
	}
	if len(methods) > len(methodLabels) {
		t.Errorf("%d method labels, want at most %d: %v", len(methods), len(methodLabels), methods)
	}
	if len(got) > 2*len(methodLabels)*len(codeLabels) {
		t.Errorf("%d series of requests_total for 2 routes", len(got))
	}
}

// accessLine is an access log line, as the JSON handler writes it.
type accessLine struct {
	Msg      string
	Tenant   string
	Route    string
	Method   string
	Path     string
	Status   int
	Bytes    int64
	Duration int64 // ns
	Wait     int64 // ns
	Cache    string
	Trace    string
	Aborted  bool
}

func readAccess(t *testing.T, log string) []accessLine {
	t.Helper()
	var lines []accessLine
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var l accessLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("access log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

func TestAccessLog(t *testing.T) {
	dir := project(t, map[string]string{"hello": "hello", "blog/[slug]": "hello", "trap": "trap"})
	writeFile(t, filepath.Join(dir, "app", "blog", "[slug]", "route.json"), `{"revalidate": 60}`)
	buf := &syncBuffer{}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newServer(t, Config{Dir: dir, AccessLog: slog.New(slog.NewJSONHandler(buf, nil)), Metrics: m})
	ts := httptest.NewServer(s)
	defer ts.Close()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, r := range []struct{ method, path, traceparent string }{
		{"GET", "/hello?secret=1", tp},
		{"GET", "/blog/a", ""},
		{"GET", "/blog/a", ""},
		{"GET", "/nope", ""},
		{"GET", "/trap", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}, // invalid: not logged
	} {
		req, _ := http.NewRequest(r.method, ts.URL+r.path, nil)
		if r.traceparent != "" {
			req.Header.Set("Traceparent", r.traceparent)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	got := readAccess(t, buf.String())
	for i := range got {
		if got[i].Duration <= 0 {
			t.Errorf("line %d: duration %d", i, got[i].Duration)
		}
		if (got[i].Wait > 0) != (got[i].Route == "/hello" || got[i].Route == "/trap" || i == 1) {
			t.Errorf("line %d (%s): wait %d", i, got[i].Route, got[i].Wait)
		}
		got[i].Duration, got[i].Wait = 0, 0
	}
	tenant := filepath.Base(dir)
	want := []accessLine{
		{Msg: "request", Tenant: tenant, Route: "/hello", Method: "GET", Path: "/hello", Status: 200, Bytes: 5, Trace: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{Msg: "request", Tenant: tenant, Route: "/blog/[slug]", Method: "GET", Path: "/blog/a", Status: 200, Bytes: 5, Cache: "MISS"},
		{Msg: "request", Tenant: tenant, Route: "/blog/[slug]", Method: "GET", Path: "/blog/a", Status: 200, Bytes: 5, Cache: "HIT"},
		{Msg: "request", Tenant: tenant, Route: "(none)", Method: "GET", Path: "/nope", Status: 404, Bytes: 19},
		{Msg: "request", Tenant: tenant, Route: "/trap", Method: "GET", Path: "/trap", Status: 500},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("access log (-want +got):\n%s", diff)
	}
	ms := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ms.Close()
	wantCache := scrape.Series{
		`wasmroute_cache_total{result="HIT",route="/blog/[slug]"}`:  1,
		`wasmroute_cache_total{result="MISS",route="/blog/[slug]"}`: 1,
	}
	if diff := cmp.Diff(wantCache, scrapeOrFail(t, ms.URL).Without("tenant").Family("wasmroute_cache_total")); diff != "" {
		t.Errorf("cache_total (-want +got):\n%s", diff)
	}
}

// TestAccessLogSample: with AccessLogSample 0.1, about a tenth of the
// requests are logged.
func TestAccessLogSample(t *testing.T) {
	buf := &syncBuffer{}
	s, _ := newServer(t, Config{Dir: project(t, map[string]string{"hello": "hello"}), AccessLog: slog.New(slog.NewJSONHandler(buf, nil)), AccessLogSample: 0.1})
	const n = 4000
	for range n {
		if got := do(s, "GET", "/hello", ""); got.Status != 200 {
			t.Fatalf("GET /hello = %d", got.Status)
		}
	}
	// 400 expected, standard deviation 19: 6 deviations either way.
	if got := len(readAccess(t, buf.String())); got < 286 || got > 514 {
		t.Errorf("%d lines logged of %d requests at 0.1, want about 400", got, n)
	}
	if _, err := New(context.Background(), Config{Dir: t.TempDir(), AccessLog: slog.Default(), AccessLogSample: 1.5}); err == nil || !strings.Contains(err.Error(), "AccessLogSample") {
		t.Errorf("New with AccessLogSample 1.5 = %v, want an error naming it", err)
	}
}

// TestTraceparent: a valid traceparent reaches the guest and its fetches,
// unless the guest sets its own; an invalid one reaches neither. Metrics
// count the fetches and the key-value calls.
func TestTraceparent(t *testing.T) {
	var mu sync.Mutex
	var seen []string // the traceparent and tracestate of each upstream request
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Traceparent")+" "+r.Header.Get("Tracestate"))
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	port := up.URL[strings.LastIndex(up.URL, ":")+1:]
	srv, _ := serveServices(t, Config{Metrics: m}, map[string]string{
		"wasmroute.json": `{"allowedOutboundHosts": ["http://127.0.0.1:` + port + `"]}`,
	})
	const (
		valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		own   = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	)
	for _, tc := range []struct {
		name, traceparent, tracestate, guests string
		guestSaw, upstreamSaw                 string
	}{
		{"valid", valid, "vendor=1", "", valid, valid + " vendor=1"},
		{"guest's own", valid, "vendor=1", own, valid, own + " "},
		{"none", "", "", "", "", " "},
		{"all-zero trace-id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "vendor=1", "", "", " "},
		{"upper-case hex", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "", "", "", " "},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", "", "", " "},
		{"short", valid[:54], "", "", "", " "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			target := srv + "/proxy?url=" + q(up.URL+"/x")
			if tc.guests != "" {
				target += "&traceparent=" + q(tc.guests)
			}
			req, _ := http.NewRequest("GET", target, nil)
			if tc.traceparent != "" {
				req.Header.Set("Traceparent", tc.traceparent)
			}
			if tc.tracestate != "" {
				req.Header.Set("Tracestate", tc.tracestate)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("GET /proxy = %d", res.StatusCode)
			}
			if got := res.Header.Get("X-Seen-Traceparent"); got != tc.guestSaw {
				t.Errorf("the guest saw traceparent %q, want %q", got, tc.guestSaw)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff([]string{tc.upstreamSaw}, seen); diff != "" {
				t.Errorf("upstream saw (-want +got):\n%s", diff)
			}
		})
	}

	// The key-value calls and fetches, counted.
	for _, op := range []string{"op=set&key=a&value=1", "op=get&key=a", "op=get&key=b", "op=incr&key=n&by=2"} {
		if a := get(t, srv+"/kv?"+op); a.status != 200 && a.status != 404 {
			t.Fatalf("kv %s = %d %s", op, a.status, a.body)
		}
	}
	if a := get(t, srv+"/proxy?url="+q("http://127.0.0.1:1/denied")); a.status != 502 {
		t.Errorf("proxy to a port not allowed = %d, want 502", a.status)
	}
	ms := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ms.Close()
	got := scrapeOrFail(t, ms.URL).Without("tenant")
	want := scrape.Series{
		`wasmroute_fetch_total{result="ok"}`:     7,
		`wasmroute_fetch_total{result="denied"}`: 1,

		`wasmroute_kv_calls_total{op="get",result="ok"}`:        1,
		`wasmroute_kv_calls_total{op="get",result="not_found"}`: 1,
		`wasmroute_kv_calls_total{op="set",result="ok"}`:        1,
		`wasmroute_kv_calls_total{op="incr",result="ok"}`:       1,
	}
	for _, family := range []string{"fetch_total", "kv_calls_total"} {
		if diff := cmp.Diff(want.Family("wasmroute_"+family), got.Family("wasmroute_"+family)); diff != "" {
			t.Errorf("wasmroute_%s (-want +got):\n%s", family, diff)
		}
	}
}

// TestTracerSpan: with Config.Tracer, a request's span is the child of its
// traceparent, and the guest and its fetch see the span's traceparent.
func TestTracerSpan(t *testing.T) {
	var mu sync.Mutex
	var upstreamSaw string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstreamSaw = r.Header.Get("Traceparent")
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	port := up.URL[strings.LastIndex(up.URL, ":")+1:]
	srv, _ := serveServices(t, Config{Tracer: tp.Tracer("test")}, map[string]string{
		"wasmroute.json": `{"allowedOutboundHosts": ["http://127.0.0.1:` + port + `"]}`,
	})
	req, _ := http.NewRequest("GET", srv+"/proxy?url="+q(up.URL+"/x"), nil)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	sp := spans[0]
	type summary struct {
		Name, Trace, Parent, GuestSaw, UpstreamSaw string
	}
	mu.Lock()
	got := summary{sp.Name(), sp.SpanContext().TraceID().String(), sp.Parent().SpanID().String(), res.Header.Get("X-Seen-Traceparent"), upstreamSaw}
	mu.Unlock()
	mine := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + sp.SpanContext().SpanID().String() + "-01"
	want := summary{"/proxy", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", mine, mine}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("span (-want +got):\n%s", diff)
	}

	// A client chooses the path's length: a span holds at most what an
	// access log line does, or a few such requests would make export
	// batches of hundreds of megabytes.
	long := "/" + strings.Repeat("a", 100_000)
	if res, err := http.Get(srv + long); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	spans = rec.Ended()
	var path string
	for _, kv := range spans[len(spans)-1].Attributes() {
		if kv.Key == "url.path" {
			path = kv.Value.AsString()
		}
	}
	if want := long[:maxLoggedPath] + "…"; path != want {
		t.Errorf("url.path of a %d-byte path: %d bytes, want its first %d and …", len(long), len(path), maxLoggedPath)
	}
}

// TestMetricsTenants: each tenant's series carry its folder's name; the
// requests no tenant serves (an unknown Host, a tenant that failed to
// load) count as tenant "(none)".
func TestMetricsTenants(t *testing.T) {
	dir := tenants(t, map[string]map[string]string{
		"acme":   {"hello": "hello"},
		"globex": {"hello": "hello"},
		"broken": {"x": "no_memory"},
	})
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	ts, err := NewTenants(context.Background(), TenantsConfig{Dir: dir, Domain: "example.com", Project: Config{
		Metrics: m, AccessLog: slog.New(slog.NewJSONHandler(buf, nil)), Logger: slog.New(slog.DiscardHandler),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close(context.Background())
	srv := httptest.NewServer(ts)
	defer srv.Close()
	for _, r := range []struct {
		host string
		want int
	}{{"acme.example.com", 200}, {"globex.example.com", 200}, {"globex.example.com", 200}, {"nobody.example.com", 404}, {"broken.example.com", 503}} {
		req, _ := http.NewRequest("GET", srv.URL+"/hello", nil)
		req.Host = r.host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != r.want {
			t.Errorf("GET %s/hello = %d, want %d", r.host, res.StatusCode, r.want)
		}
	}
	ms := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ms.Close()
	want := scrape.Series{
		`wasmroute_requests_total{code="2xx",method="GET",route="/hello",tenant="acme"}`:   1,
		`wasmroute_requests_total{code="2xx",method="GET",route="/hello",tenant="globex"}`: 2,
		`wasmroute_requests_total{code="4xx",method="GET",route="(none)",tenant="(none)"}`: 1,
		`wasmroute_requests_total{code="5xx",method="GET",route="(none)",tenant="(none)"}`: 1,
	}
	if diff := cmp.Diff(want, scrapeOrFail(t, ms.URL).Family("wasmroute_requests_total")); diff != "" {
		t.Errorf("requests_total (-want +got):\n%s", diff)
	}
	var tenants []string
	for _, l := range readAccess(t, buf.String()) {
		tenants = append(tenants, l.Tenant)
	}
	if diff := cmp.Diff([]string{"acme", "globex", "globex", "(none)", "(none)"}, tenants); diff != "" {
		t.Errorf("access log tenants (-want +got):\n%s", diff)
	}
}
