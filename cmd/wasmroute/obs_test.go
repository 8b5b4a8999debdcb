package main

import (
	"bufio"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/wasmroute/wasmroute/internal/digest"
	"github.com/wasmroute/wasmroute/internal/scrape"
)

// TestServeObservability runs serve with --admin-addr and --access-log
// json: /metrics on the admin listener, read by Prometheus's parser,
// counts the requests by route pattern, and stdout has one JSON line per
// request.
func TestServeObservability(t *testing.T) {
	stdout := &syncBuffer{}
	cmd := exec.Command(binary, "serve", "--no-build", "--addr", "127.0.0.1:0", "--cache-dir", cacheDir,
		"--admin-addr", "127.0.0.1:0", "--access-log", "json", demo)
	cmd.Stdout, cmd.Stderr = stdout, &syncBuffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	var public, admin string
	for deadline := time.Now().Add(time.Minute); public == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen:\n%s\n%s", stdout, cmd.Stderr)
		}
		if m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(stdout.String()); m != nil {
			public = m[1]
		}
	}
	admin = regexp.MustCompile(`admin on (http://\S+)`).FindStringSubmatch(stdout.String())[1]

	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, r := range []struct {
		path string
		want int
	}{
		{"/api/hello", 200}, {"/blog/first", 200}, {"/blog/second", 200}, {"/nope", 404}, {"/metrics", 404},
	} {
		req, _ := http.NewRequest("GET", public+r.path, nil)
		req.Header.Set("Traceparent", tp)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != r.want {
			t.Errorf("GET %s = %d, want %d", r.path, res.StatusCode, r.want)
		}
	}

	got, err := scrape.Get(admin+"/metrics", "wasmroute_requests_total")
	if err != nil {
		t.Fatal(err)
	}
	want := scrape.Series{
		`wasmroute_requests_total{code="2xx",method="GET",route="/api/hello",tenant="demo"}`:   1,
		`wasmroute_requests_total{code="2xx",method="GET",route="/blog/[slug]",tenant="demo"}`: 2,
		`wasmroute_requests_total{code="4xx",method="GET",route="(none)",tenant="demo"}`:       2,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("/metrics requests_total (-want +got):\n%s", diff)
	}
	// Which deploy runs: the digest wasmroute build prints.
	d, err := digest.Project(demo)
	if err != nil {
		t.Fatal(err)
	}
	info, err := scrape.Get(admin+"/metrics", "wasmroute_build_info")
	if err != nil {
		t.Fatal(err)
	}
	if len(info) != 1 {
		t.Errorf("wasmroute_build_info = %v, want one series", info)
	}
	for series, v := range info {
		if v != 1 || !strings.Contains(series, `digest="`+d+`"`) || !strings.Contains(series, `wazero="v`) {
			t.Errorf("wasmroute_build_info: %s = %v, want 1 with digest %s and wazero's version", series, v, d)
		}
	}

	type line struct {
		Msg, Tenant, Route, Method, Path, Trace string
		Status                                  int
	}
	var lines []line
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "{") {
			continue // serve's own lines
		}
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("access log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	wantLines := []line{
		{"request", "demo", "/api/hello", "GET", "/api/hello", trace, 200},
		{"request", "demo", "/blog/[slug]", "GET", "/blog/first", trace, 200},
		{"request", "demo", "/blog/[slug]", "GET", "/blog/second", trace, 200},
		{"request", "demo", "(none)", "GET", "/nope", trace, 404},
		{"request", "demo", "(none)", "GET", "/metrics", trace, 404},
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("access log (-want +got):\n%s", diff)
	}
}

func TestServeObservabilityFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--access-log", "yes"}, `invalid value "yes" for flag -access-log: want "off", "text" or "json"`},
		{[]string{"--access-log-sample", "0"}, `invalid value "0" for flag -access-log-sample: want a fraction above 0, at most 1`},
		{[]string{"--access-log-sample", "1.5"}, `invalid value "1.5" for flag -access-log-sample`},
		{[]string{"--access-log-sample", "NaN"}, `invalid value "NaN" for flag -access-log-sample`},
		{[]string{"--otlp-endpoint", "localhost:4318"}, `invalid value "localhost:4318" for flag -otlp-endpoint: want an http or https URL`},
		{[]string{"--otlp-endpoint", "http://user:pw@127.0.0.1:4318"}, `invalid value`},
	} {
		out, err := exec.Command(binary, append(append([]string{"serve", "--no-build"}, tc.args...), demo)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("serve %v = %v\n%s\nwant an error containing %q", tc.args, err, out, tc.want)
		}
	}
}

// TestServeOTLP runs serve with --otlp-endpoint pointing at an OTLP/HTTP
// receiver in the test, which decodes the spans as a collector does: one
// span per request, named after its route pattern, the child of the
// request's traceparent when it has a valid one.
func TestServeOTLP(t *testing.T) {
	type span struct {
		Name, Trace, Parent string
		Kind                tracepb.Span_SpanKind
		Route               string
		Status              int64
	}
	spans := make(chan span, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want POST /v1/traces of application/x-protobuf", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		var req collectorpb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					got := span{Name: s.GetName(), Trace: hex.EncodeToString(s.GetTraceId()), Parent: hex.EncodeToString(s.GetParentSpanId()), Kind: s.GetKind()}
					for _, a := range s.GetAttributes() {
						switch a.GetKey() {
						case "http.route":
							got.Route = a.GetValue().GetStringValue()
						case "http.response.status_code":
							got.Status = a.GetValue().GetIntValue()
						}
					}
					spans <- got
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	defer receiver.Close()

	s := start(t, "--no-build", "--otlp-endpoint", receiver.URL, demo)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest("GET", s.url+"/api/hello", nil)
	req.Header.Set("Traceparent", tp)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = http.Get(s.url + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	var got []span
	timeout := time.After(20 * time.Second)
	for len(got) < 2 {
		select {
		case sp := <-spans:
			got = append(got, sp)
		case <-timeout:
			t.Fatalf("spans received: %+v, want 2\n%s", got, s.stderr)
		}
	}
	slices.SortFunc(got, func(a, b span) int { return strings.Compare(a.Name, b.Name) })
	if got[0].Trace == "4bf92f3577b34da6a3ce929d0e0e4736" || len(got[0].Trace) != 32 || got[0].Parent != "" {
		t.Errorf("span of /nope: trace %s, parent %q: want a new trace, no parent", got[0].Trace, got[0].Parent)
	}
	got[0].Trace = ""
	want := []span{
		{Name: "(none)", Kind: tracepb.Span_SPAN_KIND_SERVER, Route: "(none)", Status: 404},
		{Name: "/api/hello", Trace: "4bf92f3577b34da6a3ce929d0e0e4736", Parent: "00f067aa0ba902b7", Kind: tracepb.Span_SPAN_KIND_SERVER, Route: "/api/hello", Status: 200},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
}
