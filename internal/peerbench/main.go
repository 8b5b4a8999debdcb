// Command peerbench puts wasmroute beside the servers a user would pick for
// the same route handlers, under an external load generator (wrk), on
// 127.0.0.1, one server at a time, in one run:
//
//	native     a Go net/http server (this program, run again as a child)
//	workerd    Cloudflare's runtime (V8) serving testdata/workerd/worker.js
//	next       `next start` of a Next.js app made of testdata/app
//	wasmroute  `wasmroute serve` of the same testdata/app route.ts files
//	wasmroute-go  `wasmroute serve` of examples/demo's Go /api/hello
//
// Run it from the repository root:
//
//	go run ./internal/peerbench [-d 10s] [-targets native,workerd,next,wasmroute,wasmroute-go]
//
// It installs the npm packages pinned in testdata/npm (package-lock.json,
// with integrity hashes) into a temporary folder with `npm ci`, builds the
// Next.js app and the wasmroute CLI there, then for each target: starts it,
// times its first 200, checks each route's body once, warms all its routes
// up, and runs `wrk -t2 -c32 --latency` on it. It prints req/s, p50 and p99 per
// target and route, and wasmroute's req/s divided by each peer's (with
// -rounds N, the median of the N rounds' ratios: load from elsewhere on a
// shared machine drifts between targets). Every
// process it starts runs in its own process group and is killed with it at
// the end, on failure or on an interrupt.
//
// A target that fails to start or answers wrongly is reported and skipped;
// the exit status is then 1, except for wasmroute, which cannot serve
// route.ts files everywhere yet.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

//go:embed testdata
var testdata embed.FS

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-serve-native" {
		os.Exit(serveNative(os.Args[2]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command's flags.
type options struct {
	duration, warmup time.Duration
	conns, threads   int
	rounds           int
	targets          []string
	dir              string // work folder; empty: a temporary one, removed at the end
	repo             string // repository root
}

var allTargets = []string{"native", "workerd", "next", "wasmroute", "wasmroute-go"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("peerbench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var o options
	d := 10 * time.Second
	if s := os.Getenv("PEERBENCH_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			fmt.Fprintf(stderr, "peerbench: PEERBENCH_DURATION: %v\n", err)
			return 2
		}
	}
	fl.DurationVar(&o.duration, "d", d, "wrk's duration per route (env PEERBENCH_DURATION)")
	fl.DurationVar(&o.warmup, "warmup", 3*time.Second, "load per route, all of a target's routes in turn, before any is measured")
	fl.IntVar(&o.conns, "c", 32, "wrk's connections")
	fl.IntVar(&o.threads, "t", 2, "wrk's threads")
	fl.IntVar(&o.rounds, "rounds", 1, "times to go through the targets; ratios are then the median of each round's")
	targets := fl.String("targets", strings.Join(allTargets, ","), "targets to run, in this order")
	fl.StringVar(&o.dir, "dir", "", "work folder, kept (npm ci is skipped when its lock matches); default: a temporary folder, removed")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 0 || o.duration <= 0 || o.warmup < 0 || o.conns < 1 || o.rounds < 1 || o.threads < 1 || o.threads > o.conns {
		fmt.Fprintln(stderr, "peerbench: bad flags")
		fl.Usage()
		return 2
	}
	for _, t := range strings.Split(*targets, ",") {
		if !slices.Contains(allTargets, t) {
			fmt.Fprintf(stderr, "peerbench: unknown target %q (want some of %s)\n", t, strings.Join(allTargets, ","))
			return 2
		}
		o.targets = append(o.targets, t)
	}
	if err := setup(ctx, &o, stderr); err != nil {
		fmt.Fprintf(stderr, "peerbench: %v\n", err)
		return 1
	}
	if o.dir == "" {
		dir, err := os.MkdirTemp("", "peerbench-")
		if err != nil {
			fmt.Fprintf(stderr, "peerbench: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		o.dir = dir
	}
	b := &bench{o: o, stdout: stdout, stderr: stderr}
	defer b.stopAll()
	return b.run(ctx)
}

// setup finds the repository root and wrk, installing wrk with apt-get if
// it is missing.
func setup(ctx context.Context, o *options, stderr io.Writer) error {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return errors.New("run from inside the wasmroute repository (no go.mod here)")
	}
	o.repo = filepath.Dir(gomod)
	if _, err := exec.LookPath("wrk"); err != nil {
		fmt.Fprintln(stderr, "wrk is missing: apt-get install -y wrk")
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "wrk")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("installing wrk: %w", err)
		}
	}
	return nil
}

// writeTestdata copies testdata/<from> into dir, which must not hold any of
// its files yet.
func writeTestdata(from, dir string) error {
	sub, err := fs.Sub(testdata, "testdata/"+from)
	if err != nil {
		return err
	}
	return os.CopyFS(dir, sub)
}
