package main

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// wrkResult is what peerbench keeps of wrk's report.
type wrkResult struct {
	rps          float64
	p50, p99     time.Duration
	non2xx       int
	socketErrors string // wrk's "Socket errors:" line, if any
}

var (
	wrkRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkP50     = regexp.MustCompile(`(?m)^\s+50%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	wrkP99     = regexp.MustCompile(`(?m)^\s+99%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	wrkNon2xx  = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSockErr = regexp.MustCompile(`(?m)^\s+Socket errors:\s+(.*)$`)
	wrkUnits   = map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour}
)

// parseWrk reads the report of wrk --latency.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk's report:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, l := range []struct {
		re *regexp.Regexp
		d  *time.Duration
	}{{wrkP50, &r.p50}, {wrkP99, &r.p99}} {
		m := l.re.FindStringSubmatch(out)
		if m == nil {
			return r, fmt.Errorf("no latency distribution in wrk's report (--latency):\n%s", out)
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		*l.d = time.Duration(f * float64(wrkUnits[m[2]]))
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	if m := wrkSockErr.FindStringSubmatch(out); m != nil {
		r.socketErrors = m[1]
	}
	return r, nil
}
