package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmroute/wasmroute/internal/wrk"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, "hello", dir, "api/hello")
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStdout []string
		wantStderr string
	}{
		{
			name: "hello, in-process client",
			args: []string{"--path", "/api/hello", "--client", "go"},
			code: 0,
			wantStdout: []string{
				`GET /api/hello: 200, Content-Type "text/plain", 5-byte body`,
				"client: in process (wrk is not on PATH, or --client go): client, native and wasmroute share this machine's",
				"ratio wasmroute/native = ",
				"p99 ratio wasmroute/native = ",
			},
		},
		{
			name: "hello, wrk",
			args: []string{"--path", "/api/hello", "--client", "wrk"},
			code: 0,
			wantStdout: []string{
				`GET /api/hello: 200, Content-Type "text/plain", 5-byte body`,
				"client: wrk -t2 -c4, an external process; native and wasmroute both in this process",
				"ratio wasmroute/native = ",
				"p99 ratio wasmroute/native = ",
			},
		},
		{
			name:       "bad client",
			args:       []string{"--client", "ab"},
			code:       2,
			wantStderr: "--client must be wrk, go or auto",
		},
		{
			name:       "not found",
			args:       []string{"--path", "/nope"},
			code:       1,
			wantStderr: "wasmroute load: GET /nope answered 404 Not Found; the native baseline needs a 2xx answer",
		},
		{
			name:       "bad path",
			args:       []string{"--path", "api/hello"},
			code:       2,
			wantStderr: "--path must start with /",
		},
	}
	if !wrk.Available() {
		t.Fatal("wrk is not on PATH: install it (Debian: apt-get install wrk); load's tests need it")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"load", "--duration", "300ms", "--rounds", "1", "--conns", "4",
				"--no-build", "--cache-dir", cacheDir}, tt.args...)
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), append(args, dir), &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, &stdout, &stderr)
			}
			for _, want := range tt.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout has no %q:\n%s", want, &stdout)
				}
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr has no %q:\n%s", tt.wantStderr, &stderr)
			}
			if tt.code != 0 {
				return
			}
			summary := loadSummary(t, stdout.String())
			for _, server := range []string{"native", "wasmroute"} {
				s, ok := summary[server]
				if !ok {
					t.Fatalf("summary has no %s row:\n%s", server, &stdout)
				}
				if s.rps <= 0 || s.ok <= 0 {
					t.Errorf("%s: %v req/s, %d requests, want some", server, s.rps, s.ok)
				}
				if s.errors != 0 {
					t.Errorf("%s: %d errors, want none", server, s.errors)
				}
			}
		})
	}
}

type loadRow struct {
	rps        float64
	ok, errors int64
}

// loadSummary parses the rows of the summary table of wasmroute load:
// SERVER REQ/S P50 P99 OK ERRORS.
func loadSummary(t *testing.T, out string) map[string]loadRow {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nmedian of ")
	if !ok {
		t.Fatalf("no summary:\n%s", out)
	}
	rows := map[string]loadRow{}
	for _, line := range strings.Split(table, "\n")[2:] {
		f := strings.Fields(line)
		if len(f) != 6 {
			break
		}
		rps, err1 := strconv.ParseFloat(f[1], 64)
		n, err2 := strconv.ParseInt(f[4], 10, 64)
		errs, err3 := strconv.ParseInt(f[5], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("summary row %q: want SERVER REQ/S P50 P99 OK ERRORS", line)
		}
		rows[f[0]] = loadRow{rps, n, errs}
	}
	return rows
}

// TestWrkRound checks that a round measured with wrk counts a server's
// answers, and its non-2xx answers as failures.
func TestWrkRound(t *testing.T) {
	if !wrk.Available() {
		t.Fatal("wrk is not on PATH: install it (Debian: apt-get install wrk)")
	}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	o := wrk.Options{Threads: 1, Conns: 2, Duration: time.Second}
	ok := wrkRound(t.Context(), srv.URL+"/ok", o)
	if ok.ok <= 0 || ok.rps <= 0 || ok.p50 <= 0 || ok.p99 < ok.p50 || ok.failed != 0 || ok.failure != "" {
		t.Errorf("/ok: %+v, want requests, a rate, latencies and no failure", ok)
	}
	failed := wrkRound(t.Context(), srv.URL+"/fail", o)
	if failed.ok != 0 || failed.failed <= 0 || failed.failure != "a non-2xx answer" {
		t.Errorf("/fail: %+v, want every answer a failure", failed)
	}
	if served := n.Load(); served < ok.ok+failed.failed {
		t.Errorf("the server answered %d requests, fewer than wrk counted (%d + %d)", served, ok.ok, failed.failed)
	}
	gone := wrkRound(t.Context(), "http://127.0.0.1:1/", o)
	if gone.failed == 0 || gone.failure == "" {
		t.Errorf("no server: %+v, want a failure", gone)
	}
}

// TestLoadInterrupt checks that load stops, and says so, when its context
// is cancelled mid-round.
func TestLoadInterrupt(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, "hello", dir, "api/hello")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"load", "--duration", "1m", "--conns", "4", "--no-build", "--cache-dir", cacheDir, dir}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "wasmroute load: interrupted") {
		t.Errorf("exit %d, want 1 and \"interrupted\"\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
}

func TestHistogram(t *testing.T) {
	for _, ns := range []uint64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 123456, 1 << 40, 1<<63 - 1} {
		i := histBucket(ns)
		if i < 0 || i >= len(histogram{}) {
			t.Fatalf("histBucket(%d) = %d, out of range", ns, i)
		}
		got := uint64(histValue(i))
		if diff := max(got, ns) - min(got, ns); float64(diff) > 0.02*float64(ns)+1 {
			t.Errorf("histValue(histBucket(%d)) = %d, more than 2%% off", ns, got)
		}
	}
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.quantile(q.q)
		if diff := (got - q.want).Abs(); diff > q.want/50 {
			t.Errorf("quantile(%v) = %v, want %v within 2%%", q.q, got, q.want)
		}
	}
}
