// Package wrk runs wrk, the HTTP load generator (https://github.com/wg/wrk,
// Debian's package "wrk"), as an external process and reads its report.
//
// A load generator in the same process as the server it loads shares that
// process's cores and scheduler and flatters the slower server: wasmroute's
// throughput figures are measured with wrk.
package wrk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Result is what is kept of one wrk --latency report.
type Result struct {
	Requests     int64         // requests completed ("N requests in ...")
	RPS          float64       // "Requests/sec"
	P50, P99     time.Duration // latency percentiles
	Non2xx       int64         // "Non-2xx or 3xx responses"
	SocketErrors string        // wrk's "Socket errors:" line, if any
}

// Options are a run's settings: wrk -t Threads -c Conns -d Duration.
type Options struct {
	Threads, Conns int
	Duration       time.Duration // rounded up to whole seconds, wrk's unit
	Headers        []string      // each passed as -H, e.g. "User-Agent: x"
}

// Available reports whether wrk is on PATH.
func Available() bool {
	_, err := exec.LookPath("wrk")
	return err == nil
}

// Run loads url with wrk and returns its report. It fails when wrk is not
// on PATH, exits non-zero (its output is in the error) or prints no report;
// ctx ending kills it. It is safe for concurrent use.
func Run(ctx context.Context, url string, o Options) (Result, error) {
	secs := max(1, int((o.Duration+time.Second-1)/time.Second))
	args := []string{"-t", strconv.Itoa(o.Threads), "-c", strconv.Itoa(o.Conns),
		"-d", strconv.Itoa(secs) + "s", "--timeout", "10s", "--latency"}
	for _, h := range o.Headers {
		args = append(args, "-H", h)
	}
	cmd := exec.CommandContext(ctx, "wrk", append(args, url)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return Result{}, errors.New("wrk is not on PATH (Debian: apt-get install wrk)")
		}
		return Result{}, fmt.Errorf("wrk: %v: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return Parse(out.String())
}

var (
	reqs     = regexp.MustCompile(`(?m)^\s+(\d+) requests in `)
	rps      = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	p50      = regexp.MustCompile(`(?m)^\s+50%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	p99      = regexp.MustCompile(`(?m)^\s+99%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	non2xx   = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses:\s+(\d+)`)
	sockErrs = regexp.MustCompile(`(?m)^\s+Socket errors:\s+(.*)$`)
	units    = map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour}
)

// Parse reads the report of wrk --latency. It fails, quoting the report,
// when the report has no Requests/sec or no latency distribution.
func Parse(out string) (Result, error) {
	var r Result
	m := rps.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk's report:\n%s", out)
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	for _, l := range []struct {
		re *regexp.Regexp
		d  *time.Duration
	}{{p50, &r.P50}, {p99, &r.P99}} {
		m := l.re.FindStringSubmatch(out)
		if m == nil {
			return r, fmt.Errorf("no latency distribution in wrk's report (--latency):\n%s", out)
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		*l.d = time.Duration(f * float64(units[m[2]]))
	}
	if m := reqs.FindStringSubmatch(out); m != nil {
		r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := non2xx.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := sockErrs.FindStringSubmatch(out); m != nil {
		r.SocketErrors = m[1]
	}
	return r, nil
}

// SocketErrorCount returns the sum of the counts in wrk's "Socket errors:"
// line, e.g. 3 for "connect 0, read 1, write 0, timeout 2"; 0 for "".
func SocketErrorCount(line string) int64 {
	var n int64
	for _, f := range strings.Split(line, ",") {
		if _, count, ok := strings.Cut(strings.TrimSpace(f), " "); ok {
			c, _ := strconv.ParseInt(count, 10, 64)
			n += c
		}
	}
	return n
}
