// Command replicas runs wasmroute as an operator would run several copies
// of it, and fails them under load: three `wasmroute serve` processes on
// 127.0.0.1 behind a real haproxy, which checks each one's /readyz, sharing
// a real redis-server. While a bounded load of GETs (reads of a key) and
// POSTs (each writes a key of its own) runs through haproxy, replica r1 is
// killed with SIGKILL and replica r2 gets SIGTERM, drains and is started
// again on the same ports. Then every write that was acknowledged is read
// back from Redis.
//
// It prints a table: requests, failed GETs and POSTs (with why), lost
// writes, latency overall and after each signal, the SIGTERM drain time and
// how long the restarted replica took to be ready and back in haproxy's
// rotation. It exits 1 if a GET failed, an acknowledged write was lost, or
// a request failed anywhere but in flight on the killed replica.
//
// Usage, from the repository (haproxy and redis-server on PATH; Debian:
// apt-get install haproxy redis-server):
//
//	go run ./internal/replicas [-duration 30s] [-rate 300] [-conns 16] [-keep]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := doMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func doMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replicas", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := defaultConfig
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the load runs (r1 is killed at a quarter of it, r2 gets SIGTERM at half)")
	fs.IntVar(&cfg.Rate, "rate", cfg.Rate, "requests per second, at most")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "client connections: requests in flight at most")
	fs.IntVar(&cfg.PostEvery, "post-every", cfg.PostEvery, "one request in this many, at random, is a POST (a write), the others GETs")
	fs.DurationVar(&cfg.ShutdownDelay, "shutdown-delay", cfg.ShutdownDelay, "the replicas' --shutdown-delay: longer than haproxy's checks take to see a 503 (fall × inter)")
	csvPath := fs.String("csv", "", "write every request (start in ms since the load began, latency in ms, method, status, replica, error) to this CSV file")
	keep := fs.Bool("keep", false, "keep the scratch folder (the replicas' and haproxy's logs, haproxy.cfg) and print where it is")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || cfg.Duration < 2*time.Second || cfg.Rate < 1 || cfg.Conns < 1 || cfg.PostEvery < 1 || cfg.ShutdownDelay < 0 {
		fmt.Fprintln(stderr, "replicas: want -duration of 2s or more, a positive -rate, -conns and -post-every, and no arguments")
		return 2
	}
	dir, err := os.MkdirTemp("", "wasmroute-replicas-")
	if err != nil {
		fmt.Fprintln(stderr, "replicas:", err)
		return 1
	}
	if *keep {
		fmt.Fprintln(stderr, "replicas: scratch folder", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	cfg.Dir, cfg.Log = dir, stderr
	res, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "replicas:", err)
		return 1
	}
	res.print(stdout)
	if *csvPath != "" {
		if err := res.writeCSV(*csvPath); err != nil {
			fmt.Fprintln(stderr, "replicas:", err)
			return 1
		}
	}
	if problems := res.problems(); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "replicas: FAIL:", p)
		}
		return 1
	}
	return 0
}
