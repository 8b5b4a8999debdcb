// Command wasmroute builds, lists and serves a folder of WebAssembly route
// handlers laid out like Next.js route handlers (app/blog/[slug]/route.wasm
// answers /blog/hello).
//
// Usage:
//
//	wasmroute serve [--addr 127.0.0.1:3000] [--cache-dir DIR] [--cache-max-size SIZE] [--no-build] DIR
//	wasmroute dev [serve's flags] DIR
//	wasmroute build DIR
//	wasmroute routes DIR
//	wasmroute load [flags] DIR
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wasmroute/wasmroute/internal/build"
	"github.com/wasmroute/wasmroute/internal/jsbuild"
	"github.com/wasmroute/wasmroute/internal/routes"
	"github.com/wasmroute/wasmroute/runtime"
)

func main() {
	runtime.ServeBuildChild() // when a tenant's route.ts is being bundled in a child process
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `wasmroute serves a folder of WebAssembly route handlers.

Usage:
	wasmroute serve [flags] DIR   build what needs building, load DIR/app and serve it; SIGHUP reloads
	wasmroute dev [flags] DIR     serve DIR for development: each saved change is built and served at once
	wasmroute build DIR           build every app/**/route.go into route.wasm beside it; print the project's digest
	wasmroute routes DIR          print the route table, or every load error
	wasmroute load [flags] DIR    compare a route's requests/s with a native Go server's over loopback
	wasmroute version             print the versions of wasmroute, wazero and Go

Run "wasmroute COMMAND -h" for a command's flags.
`

// run is the whole CLI: it returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch cmd, args := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr, false)
	case "dev":
		return serve(ctx, args, stdout, stderr, true)
	case "build":
		return buildCmd(ctx, args, stdout, stderr)
	case "routes":
		return routesCmd(ctx, args, stdout, stderr)
	case "load":
		return loadCmd(ctx, args, stdout, stderr)
	case "version", "-version", "--version":
		return version(stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "wasmroute: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// parse parses flags that may come before or after the single DIR argument.
// It returns the exit code to end with (0 after -h, which printed the
// usage; 2 for a bad command line), or -1 to go on with dir.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (dir string, code int) {
	fs.SetOutput(stderr)
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return "", 0
		} else if err != nil {
			return "", 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "wasmroute %s: want one project folder, got %d arguments\n", fs.Name(), len(pos))
		fs.Usage()
		return "", 2
	}
	return pos[0], -1
}

// version prints wasmroute's version (its module's, or the VCS revision it
// was built from) and those of wazero and Go.
func version(stdout io.Writer) int {
	v, wazero := versions()
	fmt.Fprintf(stdout, "wasmroute %s\nwazero %s\n%s %s/%s\n", v, wazero, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
	return 0
}

// versions returns wasmroute's version (or the revision it was built from)
// and wazero's, as the binary records them.
func versions() (v, wazero string) {
	v, wazero = "(unknown)", "(unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
				v = "(devel) " + s.Value
			}
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				wazero = d.Version
			}
		}
	}
	return v, wazero
}

func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wasmroute %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func buildCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("build", "build DIR")
	dir, code := parse(fs, args, stderr)
	if code >= 0 {
		return code
	}
	if err := buildSources(ctx, dir, stderr); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := bundleSources(dir, stderr); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return printDigest(dir, stdout, stderr)
}

// bundleSources bundles every route.ts and route.js of dir, as serve will,
// to report their errors and warnings; serve bundles them again when it
// loads (in milliseconds), so nothing is written.
func bundleSources(dir string, stderr io.Writer) error {
	folders, err := routes.Scan(dir)
	if err != nil {
		return err
	}
	var files []string
	for _, f := range folders {
		if f.JS != "" {
			files = append(files, "app/"+strings.TrimPrefix(f.Dir+"/"+f.JS, "/"))
		}
	}
	for _, name := range jsbuild.MiddlewareFiles {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			files = append(files, name)
		}
	}
	p := newProgress(stderr, "bundling")
	var problems, warnings []string
	for i, file := range files {
		b, err := jsbuild.Build(dir, file)
		p.update(i+1, len(files), file)
		var be *jsbuild.BuildError
		switch {
		case errors.As(err, &be):
			problems = append(problems, be.Messages...)
		case err != nil:
			problems = append(problems, err.Error())
		default:
			warnings = append(warnings, b.Warnings...)
		}
	}
	p.end()
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d build error(s):\n\t%s", len(problems), strings.Join(problems, "\n\t"))
	}
	return nil
}

// buildSources builds every route folder of dir that has a route.go.
func buildSources(ctx context.Context, dir string, stderr io.Writer) error {
	folders, err := routes.Scan(dir)
	if err != nil {
		return err
	}
	dirs := goRouteDirs(folders)
	// go mod tidy cannot read app/: wasmroute_deps.go shows it the routes'
	// imports, so that it keeps their requirements.
	warnings, err := build.WriteDeps(ctx, dir, dirs)
	if err != nil {
		warnings = append(warnings, err.Error())
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	var mwErr error
	if hasMiddlewareGo(dir) {
		mwErr = build.Middleware(ctx, dir) // the project's middleware, beside app/
	}
	return errors.Join(mwErr, buildRoutes(ctx, dir, dirs, stderr))
}

// goRouteDirs lists the route folders that have a route.go.
func goRouteDirs(folders []routes.Folder) []string {
	var dirs []string
	for _, f := range folders {
		if f.Go {
			dirs = append(dirs, f.Dir)
		}
	}
	return dirs
}

// hasMiddlewareGo reports whether the project in dir has a middleware.go.
func hasMiddlewareGo(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, "middleware.go"))
	return err == nil && fi.Mode().IsRegular()
}

// buildRoutes builds the Go routes of the folders dirs, with progress.
func buildRoutes(ctx context.Context, dir string, dirs []string, stderr io.Writer) error {
	if len(dirs) == 0 {
		return nil
	}
	p := newProgress(stderr, "building")
	p.update(0, len(dirs), "")
	defer p.end()
	return build.Go(ctx, dir, dirs, func(done, total int, d string) {
		p.update(done, total, "app/"+strings.TrimPrefix(d+"/route.go", "/"))
	})
}

func routesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("routes", "routes [--cache-dir DIR] [--cache-max-size SIZE] [--tenants [--domain localhost] [--workers N]] DIR")
	cache := cacheFlags(fs)
	tenants := fs.Bool("tenants", false, "DIR holds one project per tenant, as for serve --tenants")
	domain := fs.String("domain", "localhost", "with --tenants: the domain of the tenants' URLs")
	workers := fs.Int("workers", 0, "with --tenants: show which of serve --workers N's workers serves each tenant")
	dir, code := parse(fs, args, stderr)
	if code >= 0 {
		return code
	}
	if *workers < 0 || *workers > maxWorkers || *workers > 0 && !*tenants {
		fmt.Fprintf(stderr, "wasmroute routes: --workers is for --tenants, from 1 to %d\n", maxWorkers)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cache.trim(logger)
	if *tenants {
		return routesTenants(ctx, dir, *domain, *workers, cache.dir, logger, stdout, stderr)
	}
	srv, err := load(ctx, dir, cache.dir, logger, stderr)
	cache.trim(logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer srv.Close(ctx)
	printRoutes(stdout, srv)
	return 0
}

// serve is wasmroute serve, or with dev wasmroute dev.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, dev bool) int {
	fs := newFlagSet("serve", "serve [flags] DIR\n\nThe limit flags (--max-*, --isolation request) are ceilings: a project's wasmroute.json\nand a route's route.json may lower them, never raise them (see --grants).\nSIGHUP reloads DIR: requests in flight finish on the version they started on.\n")
	if dev {
		fs = newFlagSet("dev", "dev [flags] DIR\n\nServes DIR as serve does, watching it: a saved change is built and served at once, a route\nthat fails to build or load answers 500 with its error as text, the others serve on.\nNever expose it: its errors show your files and your guests' output.\n")
	}
	addr := fs.String("addr", "127.0.0.1:3000", "address to listen on (port 0: any free port)")
	cache := cacheFlags(fs)
	noBuild := fs.Bool("no-build", false, "do not build route.go sources; serve the route.wasm files as they are (always so with --tenants)")
	tenants := fs.Bool("tenants", false, "DIR holds one project per tenant, chosen by the request's Host")
	domain := fs.String("domain", "localhost", "with --tenants: <tenant>.DOMAIN selects a tenant")
	hosts := mapFlag{}
	fs.Var(hosts, "host", "with --tenants: HOST=TENANT sends requests for HOST to TENANT (repeatable)")
	grantsFile := fs.String("grants", "", "with --tenants: a JSON file granting named tenants other limits than the flags', e.g. {\"acme\": {\"maxDuration\": \"2m\"}}")
	env := mapFlag{}
	fs.Var(env, "env", "NAME=VALUE set in every guest's environment (repeatable), under the config files' env; guests see nothing of the server's own environment unless a config file maps it")
	var allowOutbound listFlag
	fs.Var(&allowOutbound, "allow-outbound", "a destination guests may fetch, e.g. https://api.example.com, https://*.example.org:8443 or http://127.0.0.1:* (repeatable); used where no wasmroute.json or route.json lists allowedOutboundHosts; with --tenants, the most a tenant may list (see --grants). None: no network")
	kvURL := fs.String("kv", "", "the key-value store: empty for the embedded one in --data-dir, or redis://HOST:PORT (Redis or Valkey), which replicas can share")
	dataDir := fs.String("data-dir", "", "folder of the embedded key-value store (default DIR/.wasmroute/data)")
	maxKVKeys := fs.Int("max-kv-keys", 10_000, "keys per project or tenant in the key-value store")
	var maxKVValue int64 = 1 << 20
	fs.Var(sizeFlag{&maxKVValue}, "max-kv-value", "size of a value in the key-value store")
	var maxCache int64 = 64 << 20
	fs.Var(sizeFlag{&maxCache}, "max-cache", "response cache per project or tenant, for the GET answers of routes that set revalidate or dynamic \"force-static\"; past it the answer used least recently goes (0: no cache)")
	sharedCache := fs.Bool("shared-cache", false, "keep the response cache in the --kv Redis server, shared by the replicas using it (needs --kv redis://…)")
	var lim runtime.Limits
	d := runtime.DefaultLimits
	// Size flags show their defaults in --help only when set before
	// they are declared.
	lim.MaxMemory, lim.MaxBody, lim.MaxResponse, lim.MaxHeaderBytes, lim.MaxFetchBody = d.MaxMemory, d.MaxBody, d.MaxResponse, d.MaxHeaderBytes, d.MaxFetchBody
	fs.DurationVar(&lim.MaxDuration, "max-duration", d.MaxDuration, "wall-clock limit per request; then 504")
	fs.Var(sizeFlag{&lim.MaxMemory}, "max-memory", "linear memory per instance, e.g. 64MiB")
	fs.Var(sizeFlag{&lim.MaxBody}, "max-body", "request body limit; larger bodies get 413")
	fs.Var(sizeFlag{&lim.MaxResponse}, "max-response", "response body limit")
	fs.IntVar(&lim.MaxHeaders, "max-headers", d.MaxHeaders, "response header values per response")
	fs.Var(sizeFlag{&lim.MaxHeaderBytes}, "max-header-bytes", "response header bytes per response")
	fs.IntVar(&lim.MaxInstances, "max-instances", d.MaxInstances, "instances per route (requests it serves at once)")
	maxTenant := fs.Int("max-tenant-instances", 32, "instances in use at once per project or tenant")
	idleTimeout := fs.Duration("idle-timeout", 5*time.Minute, "close an instance idle this long (negative: never)")
	maxCompiled := fs.Int("max-compiled", 256, "modules kept compiled at once per project or tenant; past it the least recently used is dropped, with its idle instances, and recompiled from the cache when asked again (0: no bound)")
	fs.DurationVar(&lim.MaxWait, "max-wait", d.MaxWait, "how long a request waits for a free instance; then 503")
	fs.IntVar(&lim.MaxFetches, "max-fetches", d.MaxFetches, "outbound requests (fetch) per request")
	fs.IntVar(&lim.MaxFetchConcurrency, "max-fetch-concurrency", d.MaxFetchConcurrency, "outbound requests of one request in flight at once; more wait in line")
	fs.Var(sizeFlag{&lim.MaxFetchBody}, "max-fetch-body", "outbound response body limit")
	isolationFlag(fs, &lim.Isolation)
	adminAddr := fs.String("admin-addr", "", "address of the operator's endpoints /healthz, /readyz and /metrics (Prometheus), e.g. 127.0.0.1:9090 (empty: none, and no metrics kept); never the public --addr")
	obs := obsFlags(fs) // obs.go
	shutdownDelay := fs.Duration("shutdown-delay", 0, "on SIGTERM, how long /readyz answers 503 while requests are still served, so that load balancers stop sending before the server drains")
	workers := fs.Int("workers", 0, "with --tenants: serve the tenants from N worker processes behind this one, each a fixed share, each restarted if it dies: a crash takes down one share, not every tenant (0: one process)")
	procs := fs.Int("procs", max(goruntime.GOMAXPROCS(0), 8*goruntime.NumCPU()), "Go Ps (GOMAXPROCS): keep it well above the cores, so that runaway guests, each holding one until stopped, leave Ps for everything else")
	dir, code := parse(fs, args, stderr)
	if code >= 0 {
		return code
	}
	if *procs < 1 {
		fmt.Fprintf(stderr, "wasmroute %s: --procs must be at least 1\n", fs.Name())
		return 2
	}
	if dev && *tenants {
		fmt.Fprintln(stderr, "wasmroute dev: --tenants is for serve: develop one project at a time")
		return 2
	}
	if *workers < 0 || *workers > maxWorkers || *workers > 0 && !*tenants {
		fmt.Fprintf(stderr, "wasmroute %s: --workers is for --tenants, from 1 to %d\n", fs.Name(), maxWorkers)
		return 2
	}
	wk, err := workerFromEnv() // nil unless this process is a worker of --workers
	if err != nil {
		fmt.Fprintf(stderr, "wasmroute %s: %v\n", fs.Name(), err)
		return 2
	}
	goruntime.GOMAXPROCS(*procs)
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var metrics *runtime.Metrics
	if wk != nil { // the supervisor has the admin listener and the shutdown delay
		if *adminAddr != "" { // its /metrics gathers the workers'
			if metrics, err = wk.serveMetrics(); err != nil {
				fmt.Fprintf(stderr, "wasmroute %s: metrics: %v\n", fs.Name(), err)
				return 1
			}
		}
		*adminAddr, *shutdownDelay = "", 0
		logger = logger.With("worker", wk.n)
		ctx = wk.context(ctx)
		*dataDir = wk.dataDir(*kvURL, *dataDir, dir)
	}
	probes := newAdmin()
	if *adminAddr != "" {
		if _, port, _ := net.SplitHostPort(*addr); *adminAddr == *addr && port != "0" {
			fmt.Fprintf(stderr, "wasmroute %s: --admin-addr must differ from --addr: the probes are the operator's, not the public's\n", fs.Name())
			return 2
		}
		var err error
		if metrics, err = probes.serveMetrics(); err != nil {
			fmt.Fprintf(stderr, "wasmroute %s: metrics: %v\n", fs.Name(), err)
			return 1
		}
		a, err := probes.listen(*adminAddr, logger)
		if err != nil {
			fmt.Fprintf(stderr, "wasmroute %s: %v\n", fs.Name(), err)
			return 1
		}
		defer probes.close()
		fmt.Fprintf(stdout, "admin on http://%s (/healthz, /readyz, /metrics)\n", a)
	}
	if *workers > 0 && wk == nil {
		return supervise(ctx, supervisorConfig{args: args, addr: *addr, workers: *workers,
			tenants:       runtime.TenantsConfig{Dir: dir, Domain: *domain, Hosts: hosts},
			shutdownDelay: *shutdownDelay, probes: probes, logger: logger, stdout: stdout, stderr: stderr})
	}
	tracer, stopTracing, terr := obs.tracer(ctx) // obs.go
	if terr != nil {
		fmt.Fprintf(stderr, "wasmroute %s: %v\n", fs.Name(), terr)
		return 1
	}
	defer stopTracing()
	// A tenant's Go sources are not built here: the go command would read
	// whatever the tenant's go.mod names (a replace by ../victim, a go.work
	// or module above it, symlinked sources) and run as the operator. Each
	// tenant builds its own modules (wasmroute build) and uploads them.
	building := !*noBuild && !*tenants
	var builds *devBuilds // in dev: the route folders that failed to build
	if dev {
		builds = &devBuilds{dir: dir}
		if building {
			builds.build(ctx, nil, stderr)
		}
	} else if building {
		if err := buildSources(ctx, dir, stderr); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	if !dev {
		probes.deployed(logDigest(dir, logger))
	}
	cache.trim(logger)
	// Modules are checked against the ABI before serving, and compiled in
	// the background once serving (or on their first request, if sooner):
	// a restart answers in the time it takes to read the modules.
	cfg := runtime.Config{
		CacheDir:           cache.dir,
		Logger:             logger,
		Limits:             lim,
		MaxTenantInstances: *maxTenant,
		Env:                env,
		IdleTimeout:        *idleTimeout,

		AllowedOutboundHosts: allowOutbound,
		KV:                   *kvURL,
		DataDir:              *dataDir,
		MaxKVKeys:            *maxKVKeys,
		MaxKVValue:           maxKVValue,

		MaxCacheBytes: cmp.Or(maxCache, -1), // 0: none
		SharedCache:   *sharedCache,

		MaxCompiled: *maxCompiled,
		LazyCompile: true,
		Progress:    newLogProgress(logger, "compiling").update,

		Metrics:         metrics,
		AccessLog:       obs.accessLogger(stdout),
		AccessLogSample: obs.sample,
		Tracer:          tracer,
	}
	var live *runtime.Live
	if *tenants {
		live, err = runtime.NewLiveTenants(ctx, runtime.TenantsConfig{Dir: dir, Domain: *domain, Hosts: hosts, GrantsFile: *grantsFile, Project: cfg, Select: wk.selector()})
	} else {
		cfg.Dir = dir
		cfg.Dev = dev
		if builds != nil {
			cfg.BuildErrors = builds.errors
		}
		live, err = runtime.NewLive(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer live.Close(context.Background())
	probes.loaded.Store(true)
	printLive(stdout, stderr, live, *domain)

	ln, err := wk.listen(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "wasmroute %s: %v\n", fs.Name(), err)
		return 1
	}
	if a, ok := ln.Addr().(*net.TCPAddr); dev && ok && !a.IP.IsLoopback() {
		logger.Warn("wasmroute dev answers with your errors, files and guest output: it listens beyond this machine", "addr", ln.Addr())
	}
	hs := &http.Server{
		Handler:           wk.handler(live),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		Protocols:         new(http.Protocols),
	}
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetUnencryptedHTTP2(true) // h2c, for clients that know the server speaks it
	if wk == nil {
		fmt.Fprintf(stdout, "\nlistening on http://%s\n", ln.Addr())
	}
	wk.report("listening")

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	// Each version is compiled in the background once it serves; a reload
	// cancels the compilation of the version it replaces, which would
	// otherwise keep that version open until done.
	var stopCompile context.CancelFunc = func() {}
	compileAndTrim := func() {
		stopCompile()
		var cctx context.Context
		cctx, stopCompile = context.WithCancel(ctx)
		go func() {
			compileAll(cctx, live, *maxCompiled, logger)
			if cctx.Err() == nil {
				probes.compiled.Store(true)
				wk.report("compiled")
			}
			cache.trim(logger)
		}()
	}
	defer func() { stopCompile() }()
	compileAndTrim()
	go cache.trimEvery(ctx, 10*time.Minute, logger)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var changes <-chan []string
	if dev {
		w, err := watch(dir, logger)
		if err != nil {
			fmt.Fprintf(stderr, "wasmroute dev: watching %s: %v\n", dir, err)
			return 1
		}
		defer w.close()
		changes = w.changes
	}
	reload := func(changed []string) {
		start := time.Now()
		switch {
		case builds != nil && building:
			builds.build(ctx, changed, stderr)
		case building:
			if err := buildSources(ctx, dir, stderr); err != nil {
				logger.Error("reload: the build failed; the previous version serves on", "err", err)
				return
			}
		}
		if err := live.Reload(ctx); err != nil {
			logger.Error("reload failed; the previous version serves on", "err", err)
			return
		}
		logger.Info("reloaded", "took", time.Since(start).Round(time.Millisecond))
		if !dev {
			probes.deployed(logDigest(dir, logger))
			printLive(stdout, stderr, live, *domain)
		} else {
			printProblems(stderr, live)
		}
		compileAndTrim()
	}
	for {
		select {
		case err := <-errc:
			fmt.Fprintf(stderr, "wasmroute %s: %v\n", fs.Name(), err)
			return 1
		case <-hup:
			reload(nil)
			continue
		case changed := <-changes:
			reload(changed)
			continue
		case <-ctx.Done():
		}
		break
	}
	probes.drain(*shutdownDelay, stdout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintf(stderr, "wasmroute serve: shutdown: %v\n", err)
		return 1
	}
	return 0
}

// mapFlag collects repeated NAME=VALUE flags.
// listFlag is a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, " ") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

type mapFlag map[string]string

func (m mapFlag) String() string { return "" }

func (m mapFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	m[k] = v
	return nil
}

// sizeFlag is a byte count such as 64MiB.
type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil {
		return ""
	}
	return runtime.FormatSize(*f.n)
}

func (f sizeFlag) Set(s string) error {
	n, err := runtime.ParseSize(s)
	if err != nil {
		return err
	}
	*f.n = n
	return nil
}

// load loads the project, reporting its compilation's progress.
// routesTenants is routes --tenants: every tenant's table, each compiled,
// and with --workers the worker that serves it; exit status 1 if a tenant
// does not load.
func routesTenants(ctx context.Context, dir, domain string, workers int, cacheDir string, logger *slog.Logger, stdout, stderr io.Writer) int {
	p := newProgress(stderr, "compiling")
	t, err := runtime.NewTenants(ctx, runtime.TenantsConfig{Dir: dir, Domain: domain,
		Project: runtime.Config{CacheDir: cacheDir, Logger: logger}})
	if err != nil {
		p.end()
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer t.Close(ctx)
	code := 0
	for i, name := range t.Names() {
		if err := t.Server(name).CompileAll(ctx); err != nil {
			fmt.Fprintf(stderr, "tenant %s: %v\n", name, err)
			code = 1
		}
		p.update(i+1, len(t.Names()), name)
	}
	p.end()
	printTenants(stdout, t, domain, workers)
	for name, err := range t.Errors() {
		fmt.Fprintf(stderr, "tenant %s: %v\n", name, err)
		code = 1
	}
	return code
}

func load(ctx context.Context, dir, cacheDir string, logger *slog.Logger, stderr io.Writer) (*runtime.Server, error) {
	p := newProgress(stderr, "compiling")
	defer p.end()
	return runtime.New(ctx, runtime.Config{
		Dir:      dir,
		CacheDir: cacheDir,
		Logger:   logger,
		Progress: p.update,
	})
}

// printRoutes prints srv's route table, and its middleware.
func printRoutes(w io.Writer, srv *runtime.Server) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tMETHODS\tMODULE\tSIZE")
	for _, r := range srv.Routes() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Pattern, r.Allow, r.File, size(r.Size))
	}
	tw.Flush()
	if mw := srv.Middleware(); mw != "" {
		fmt.Fprintf(w, "middleware: %s runs before the routes its matcher accepts\n", mw)
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// isolationFlag defines --isolation on fs, setting *iso.
func isolationFlag(fs *flag.FlagSet, iso *runtime.Isolation) {
	fs.Func("isolation", `"instance" (default): an instance serves request after request; "request": every request gets fresh state, from a snapshot taken after the module's initialization`, func(v string) error {
		switch *iso = runtime.Isolation(v); *iso {
		case runtime.IsolationInstance, runtime.IsolationRequest:
			return nil
		}
		return fmt.Errorf("want %q or %q", runtime.IsolationInstance, runtime.IsolationRequest)
	})
}
