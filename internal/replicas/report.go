package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// result is what one run saw. Times without a date are offsets from the
// load's start (kill, term, restart, back) or durations from the event
// they follow.
type result struct {
	cfg                          config
	haproxyVersion, redisVersion string
	start                        time.Time

	kill    time.Duration // SIGKILL to r1
	killOut time.Duration // SIGKILL → haproxy took r1 out of rotation

	term       time.Duration // SIGTERM to r2
	termOut    time.Duration // SIGTERM → haproxy took r2 out of rotation
	drainStart time.Duration // SIGTERM → r2 stopped accepting and drained (after its --shutdown-delay)
	drained    time.Duration // SIGTERM → r2 exited
	exitErr    error         // r2's exit

	restart time.Duration // r2 started again
	ready   time.Duration // restart → its /readyz answered 200
	up      time.Duration // restart → haproxy put it back in rotation
	back    time.Duration // when it was back in rotation

	records     []record
	transitions []transition
	haproxy     map[string]string // the backend's counters at the end
	lost        []record          // acknowledged writes missing from Redis
}

// window is a span of the load, [from, to).
type window struct {
	name     string
	from, to time.Duration
}

func (r *result) windows() []window {
	return []window{
		{"2 s from SIGKILL r1", r.kill, r.kill + 2*time.Second},
		{"2 s from SIGTERM r2", r.term, r.term + 2*time.Second},
		{"2 s from r2 back in rotation", r.back, r.back + 2*time.Second},
	}
}

// killed reports whether rec may have been in flight on the killed
// replica: it was sent before haproxy took r1 out of rotation and ended
// after the SIGKILL. Sent once r1 was dead, it was refused a connection,
// which haproxy retries for every method.
func (r *result) killed(rec record) bool {
	return rec.Start <= r.kill+r.killOut && rec.Start+rec.Latency >= r.kill
}

// problems is what the run shows wrong: a failed GET (haproxy retries
// them), a lost acknowledged write, a POST that failed but for the
// replica killed under it (the graceful restart must fail nothing), and a
// replica that did not exit 0 after SIGTERM.
func (r *result) problems() []string {
	var p []string
	gets, posts := 0, 0
	for _, rec := range r.records {
		switch {
		case !rec.failed():
		case rec.Method == http.MethodGet:
			gets++
		case !r.killed(rec):
			posts++
		}
	}
	if gets > 0 {
		p = append(p, fmt.Sprintf("%d GETs failed", gets))
	}
	if n := r.resentGets(); n > 0 {
		p = append(p, fmt.Sprintf("%d GETs succeeded only because net/http sent them again: haproxy had closed their connection unanswered", n))
	}
	if posts > 0 {
		p = append(p, fmt.Sprintf("%d POSTs failed that were not in flight on the killed replica", posts))
	}
	if len(r.lost) > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged writes lost, e.g. %s", len(r.lost), r.lost[0].Key))
	}
	if r.exitErr != nil {
		p = append(p, fmt.Sprintf("r2 ended with %v after SIGTERM, want exit 0", exitStatus(r.exitErr)))
	}
	if r.termOut >= r.drainStart {
		p = append(p, fmt.Sprintf("haproxy took r2 out of rotation %v after SIGTERM, when it had begun draining (%v): raise --shutdown-delay", r.termOut, r.drainStart))
	}
	return p
}

// resentGets counts the GETs net/http had to send again.
func (r *result) resentGets() int {
	n := 0
	for _, rec := range r.records {
		if rec.Method == http.MethodGet && rec.Attempts > 1 {
			n++
		}
	}
	return n
}

// print writes the report as a table.
func (r *result) print(w io.Writer) {
	cfg := r.cfg
	fmt.Fprintf(w, "3 × wasmroute serve behind %s, sharing %s\n", r.haproxyVersion, r.redisVersion)
	fmt.Fprintf(w, "load: %v (ran %v) at ≤ %d req/s, %d keep-alive connections, 1 request in %d a POST; --shutdown-delay %v\n\n",
		cfg.Duration, r.span().Round(100*time.Millisecond), cfg.Rate, cfg.Conns, cfg.PostEvery, cfg.ShutdownDelay)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var gets, posts, failedGets, failedPosts, acked, resent int
	failures := map[string]int{}
	byReplica := map[string]int{}
	for _, rec := range r.records {
		byReplica[rec.Replica]++
		if rec.Attempts > 1 {
			resent++
		}
		if rec.Method == http.MethodGet {
			gets++
		} else {
			posts++
		}
		if rec.acked() {
			acked++
		}
		if !rec.failed() {
			continue
		}
		if rec.Method == http.MethodGet {
			failedGets++
		} else {
			failedPosts++
		}
		when := "neither at SIGKILL nor at SIGTERM"
		switch {
		case r.killed(rec):
			when = "sent before r1 was out of rotation, ended after its SIGKILL"
		case rec.Start+rec.Latency >= r.term:
			when = "after SIGTERM r2"
		}
		why := rec.Err
		if why == "EOF" {
			why = "EOF: haproxy closed the connection unanswered"
		}
		failures[fmt.Sprintf("%s %s, %s", rec.Method, why, when)]++
	}
	fmt.Fprintf(tw, "requests\t%d (%d GET, %d POST)\n", len(r.records), gets, posts)
	fmt.Fprintf(tw, "failed GETs\t%d\n", failedGets)
	fmt.Fprintf(tw, "failed POSTs\t%d (not acknowledged: not lost)\n", failedPosts)
	for _, why := range slices.Sorted(maps.Keys(failures)) {
		fmt.Fprintf(tw, "  %d ×\t%s\n", failures[why], why)
	}
	fmt.Fprintf(tw, "sent again by the client\t%d (net/http resends a GET when a reused connection closes unanswered)\n", resent)
	fmt.Fprintf(tw, "acknowledged writes\t%d, read back from Redis: %d lost\n", acked, len(r.lost))
	var per []string
	for _, name := range slices.Sorted(maps.Keys(byReplica)) {
		label := name
		if label == "" {
			label = "haproxy"
		}
		per = append(per, fmt.Sprintf("%s %d", label, byReplica[name]))
	}
	fmt.Fprintf(tw, "answered by\t%s\n", strings.Join(per, ", "))
	fmt.Fprintf(tw, "haproxy\t%s retries, %s redispatches; %s connection errors, %s response errors\n", r.haproxy["wretr"], r.haproxy["wredis"], r.haproxy["econ"], r.haproxy["eresp"])
	fmt.Fprintln(tw, "\t")

	fmt.Fprintf(tw, "latency\tp50\tp99\tmax\trequests\n")
	fmt.Fprintf(tw, "  whole load\t%s\n", latencies(r.records, 0, r.span()+time.Hour))
	for _, win := range r.windows() {
		fmt.Fprintf(tw, "  %s\t%s\n", win.name, latencies(r.records, win.from, win.to))
	}
	fmt.Fprintln(tw, "\t")

	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	fmt.Fprintf(tw, "SIGKILL r1 at %s\thaproxy took it out of rotation after %s\n", ms(r.kill), ms(r.killOut))
	when := "before"
	if r.termOut >= r.drainStart {
		when = "only after"
	}
	fmt.Fprintf(tw, "SIGTERM r2 at %s\thaproxy took it out of rotation after %s, %s it began draining (--shutdown-delay %v)\n", ms(r.term), ms(r.termOut), when, cfg.ShutdownDelay)
	fmt.Fprintf(tw, "  drain\tSIGTERM → exit %s (%s): the delay, then %s of draining\n", ms(r.drained), exitStatus(r.exitErr), ms(r.drained-r.drainStart))
	fmt.Fprintf(tw, "  restart at %s\t/readyz 200 after %s, back in haproxy's rotation after %s", ms(r.restart), ms(r.ready), ms(r.up))
	if first, ok := r.firstServed(); ok {
		fmt.Fprintf(tw, ", first request answered after %s", ms(first))
	}
	fmt.Fprintln(tw)
	tw.Flush()
}

// span is how long the load ran: until its last request ended.
func (r *result) span() time.Duration {
	var end time.Duration
	for _, rec := range r.records {
		end = max(end, rec.Start+rec.Latency)
	}
	return end
}

// firstServed is how long after its restart r2 answered its first request.
func (r *result) firstServed() (time.Duration, bool) {
	first, ok := time.Duration(0), false
	for _, rec := range r.records {
		if end := rec.Start + rec.Latency; rec.Replica == "r2" && rec.Start >= r.restart && (!ok || end < first) {
			first, ok = end, true
		}
	}
	return first - r.restart, ok
}

// latencies is p50, p99 and max of the requests that started in [from,
// to), and their number, as table cells.
func latencies(records []record, from, to time.Duration) string {
	var l []time.Duration
	for _, rec := range records {
		if rec.Start >= from && rec.Start < to {
			l = append(l, rec.Latency)
		}
	}
	if len(l) == 0 {
		return "-\t-\t-\t0"
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return fmt.Sprintf("%s\t%s\t%s\t%d", round(quantile(l, 0.50)), round(quantile(l, 0.99)), round(l[len(l)-1]), len(l))
}

// quantile is the nearest-rank q-quantile of the sorted l.
func quantile(l []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(l)))) - 1
	return l[min(max(i, 0), len(l)-1)]
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// writeCSV writes every request to the file path, in the order they
// started.
func (r *result) writeCSV(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	records := slices.Clone(r.records)
	sort.Slice(records, func(i, j int) bool { return records[i].Start < records[j].Start })
	w := csv.NewWriter(f)
	w.Write([]string{"start_ms", "latency_ms", "method", "status", "replica", "error"})
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }
	for _, rec := range records {
		w.Write([]string{ms(rec.Start), ms(rec.Latency), rec.Method, strconv.Itoa(rec.Status), rec.Replica, rec.Err})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
