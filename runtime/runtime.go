// Package runtime loads a wasmroute project — a folder whose app/ tree holds
// WebAssembly route modules, laid out like Next.js route handlers — and
// serves it as an http.Handler.
//
// A program that serves a project:
//
//	srv, err := runtime.New(ctx, runtime.Config{Dir: "examples/demo"})
//	if err != nil {
//		log.Fatal(err) // every load problem, one per line, each naming its file
//	}
//	defer srv.Close(ctx)
//	log.Fatal(http.ListenAndServe("127.0.0.1:3000", srv))
//
// Loading scans app/, builds the route table (the README lists the rules),
// reads each route's route.json and the project's wasmroute.json, checks
// every module's exports and imports against the ABI (package abi) and
// compiles the modules in parallel, cached on disk when Config.CacheDir is
// set (Config.LazyCompile defers compiling to first use). Modules are
// instantiated lazily, pooled per route, one request per instance at a time,
// within the route's Limits. Tenants serves many projects from one process,
// chosen by Host.
//
// # GOMAXPROCS
//
// A guest running compiled WebAssembly holds its Go P until it returns or
// reaches a loop back-edge, where the Go scheduler may switch goroutines
// every 10 ms. With as many runaway guests as Ps, everything else — other
// routes, other tenants — waits its turn behind them (a median of ~150 ms
// with 8 runaway guests on 2 Ps). Give the process more Ps than cores
// (wasmroute serve uses 8 × the cores): the runaway guests then hold theirs,
// and the operating system's scheduler keeps the rest responsive (~0.2 ms).
package runtime

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"go.opentelemetry.io/otel/trace"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/jsbuild"
	"github.com/wasmroute/wasmroute/internal/kv"
	"github.com/wasmroute/wasmroute/internal/routes"
	"github.com/wasmroute/wasmroute/internal/wasmbin"
)

// Config configures a Server. The zero value of each field is a safe
// default, documented on the field.
type Config struct {
	// Dir is the project folder; its app/ folder holds the routes. Required.
	Dir string

	// CacheDir keeps wazero's compiled code between runs so that a restart
	// skips compilation. Empty: compile in memory only.
	CacheDir string

	// Logger receives load warnings, guest failures and guest output.
	// Nil: slog.Default().
	Logger *slog.Logger

	// Limits bound each route's requests; each zero field takes its value
	// from DefaultLimits. The project's wasmroute.json and each route's
	// route.json override them.
	Limits Limits

	// MaxTenantInstances bounds the instances in use at once across all
	// the project's routes (a tenant's share of the machine); past it
	// requests wait up to MaxWait, then get 503. Zero: 32. wasmroute.json
	// may override it.
	MaxTenantInstances int

	// Env is the environment every guest of the project sees; wasmroute.json
	// and route.json add to it. Nothing of the host's environment reaches a
	// guest unless it is put here or mapped with {"fromEnv": "NAME"} in a
	// config file.
	Env map[string]string

	// Secrets are added to Env, but their values are never logged: guest
	// output holding one has it replaced by "[redacted]". Values the config
	// files take from the server's environment (fromEnv) join them.
	Secrets map[string]string

	// AllowedOutboundHosts lists the destinations guests may fetch, such as
	// "https://api.example.com" or "http://127.0.0.1:*", for routes whose
	// route.json and project's wasmroute.json list none. Empty: no network.
	AllowedOutboundHosts []string

	// Untrusted marks a project whose files come from a tenant rather than
	// the operator: its wasmroute.json and route.json files may not read
	// the server's environment (fromEnv), choose a key-value store, or list
	// outbound destinations beyond AllowedOutboundHosts. Tenants sets it.
	Untrusted bool

	// KV selects the key-value store guests reach with kv_*: empty, the
	// embedded store in DataDir; "redis://HOST:PORT", Redis or Valkey, which
	// several replicas can share. The project's wasmroute.json may set its
	// own unless Untrusted.
	KV string

	// DataDir holds the embedded key-value store. Empty: .wasmroute/data
	// in the project folder.
	DataDir string

	// KVNamespace names the project's namespace in the store: no key of
	// one namespace reaches another. Empty: the project folder's name.
	KVNamespace string

	// MaxKVKeys and MaxKVValue bound the project's namespace: its number of
	// keys and each value's size. Zero: 10,000 and 1 MiB. wasmroute.json may
	// lower them.
	MaxKVKeys  int
	MaxKVValue int64

	// IdleTimeout closes an instance that has served no request for this
	// long, giving its memory back. Zero: 5 minutes; negative: never.
	IdleTimeout time.Duration

	// MaxCompiled bounds how many modules stay compiled at once, so that a
	// project or tenant set with more routes than memory can run: past it,
	// the module used least recently is dropped (its idle instances too)
	// and compiled again, from the compilation cache, on its next request.
	// Zero: no bound.
	MaxCompiled int

	// IsolateBuilds bundles JavaScript and TypeScript routes in a child
	// process, the program's own executable, rather than in process: a
	// route built to crash the bundler (esbuild has no bound on nesting)
	// then fails alone. The program must call ServeBuildChild first thing in
	// main. Tenants sets it for every tenant.
	IsolateBuilds bool

	// LazyCompile makes New check each module against the ABI without
	// compiling it; each compiles on its first request, or when CompileAll
	// is called. A project then starts in the time it takes to read its
	// modules; a module wazero refuses (invalid code, not an ABI problem)
	// is reported by CompileAll or its first request's 500, not by New.
	LazyCompile bool

	// MaxCacheBytes bounds the project's response cache (the GET answers
	// of the routes that set revalidate or dynamic: "force-static"), in
	// bytes; past it the answer used least recently goes. Zero: 64 MiB;
	// negative: no cache. wasmroute.json may lower it.
	MaxCacheBytes int64

	// SharedCache keeps the response cache in the Redis or Valkey server
	// of KV, in the project's namespace, rather than in process: replicas
	// sharing the server share their cached answers, and revalidatePath on
	// one drops them on all. KV must then be a Redis URL. A project's files
	// cannot set it. See cache_shared.go.
	SharedCache bool

	// Progress, when set, is told as each module finishes compiling.
	Progress func(done, total int, file string)

	// Dev is for development (wasmroute dev): a route that fails to load,
	// or whose module fails, answers 500 with the problem as plain text
	// rather than failing New or answering an empty 500, so that the
	// developer sees it in the browser; the other routes serve. Only
	// project-wide problems (wasmroute.json, two folders for one URL) fail
	// New. Never set it where the clients are not the developer: the
	// problems name files and show guest output.
	Dev bool

	// BuildErrors, when set, is asked at each load which route folders'
	// sources failed to build, by folder as package routes names it (""
	// for app/, "blog/[slug]"): with Dev, each answers 500 with its text;
	// otherwise they are load errors.
	BuildErrors func() map[string]string

	// Metrics, when set, counts the project's requests, limits, traps,
	// module phases, cache answers and service calls in Prometheus metrics
	// (see Metrics; metrics.go). Many Servers may share one. Nil: none, at
	// no cost to a request.
	Metrics *Metrics

	// AccessLog, when set, receives one line per request, message
	// "request", with tenant, route (its pattern), method, path (without
	// the query), status, bytes, duration, wait (for an instance), cache
	// (HIT, STALE, MISS) and trace (the trace-id of a valid traceparent).
	// Nil: none.
	AccessLog *slog.Logger

	// AccessLogSample is the fraction of requests AccessLog receives,
	// chosen at random, from 0 to 1. Zero: every request.
	AccessLogSample float64

	// Tracer, when set, makes one OpenTelemetry span per request, named
	// after its route pattern, the child of the request's W3C traceparent
	// when it has a valid one; the guest and its fetches then see the
	// span's own traceparent. Nil: no spans; a valid traceparent is passed
	// to the guest and its fetches as it came.
	Tracer trace.Tracer

	store *store // shared by Tenants; nil: the Server opens its own
}

const (
	defaultMaxKVKeys          = 10_000
	defaultMaxKVValue         = 1 << 20
	defaultIdleTimeout        = 5 * time.Minute
	defaultMaxTenantInstances = 32
	wasmPageSize              = 64 << 10
)

// Server serves one project. It is an http.Handler, safe for concurrent use.
type Server struct {
	cfg      Config // with the project's wasmroute.json applied
	ceiling  Limits // the operator's: what a route.json may not exceed
	root     *os.Root
	log      *slog.Logger
	table    *routes.Table
	routes   []*route // indexed by routes.Route.Index
	rtMu     sync.Mutex
	runtimes map[runtimeKey]wazero.Runtime
	engines  map[runtimeKey]*engine // the JavaScript engine, compiled per runtime (js.go)
	cache    wazero.CompilationCache
	tenant   chan struct{} // one token per instance in use in the project
	stop     chan struct{} // closed by Close: ends the idle sweeper
	stopOnce sync.Once
	swept    sync.WaitGroup
	warming  sync.WaitGroup // warmEngines, background
	upgrades chan struct{}  // one token per compilation background runs (interim.go)
	bgMu     sync.Mutex     // guards bgClosed, and warming's count once Close waits
	bgClosed bool
	compiled atomic.Int64 // modules compiled now, bounded by Config.MaxCompiled
	output   outputLimit  // guest output logged, across requests

	projectHosts []string // wasmroute.json's allowedOutboundHosts; nil: none set
	policies     policies // outbound policies, one per list (services.go)
	kv           *namespace
	responses    *respCache // nil: no response cache (cache.go)
	ownStore     *store     // the store the Server opened, not Tenants'

	secretsMu sync.Mutex      // guards secrets while routes load
	secrets   map[string]bool // values never logged (Config.Secrets, fromEnv)
	redact    *strings.Replacer

	obs     *serverObs   // metrics and access log (observe.go); nil: none
	guestKV kv.Namespace // what guests reach: kv, counted with Config.Metrics

	projectCORS *corsConfig // wasmroute.json's cors (cors.go); nil: none set
	mw          *middleware // the project's middleware, nil if none (this package's middleware.go)
}

// route is a loaded route: its table entry and its module.
type route struct {
	*routes.Route
	*module
}

// module is a compiled, checked route module and its instance pool.
type module struct {
	File    string // relative to the project, e.g. "app/api/hello/route.wasm"
	Size    int64  // module size in bytes
	methods methodSet
	allow   string
	limits  Limits
	pool    *pool
	cache   cacheRule // its GET answers' caching (cache.go)

	outbound *host.Outbound // what its guests may fetch
	cors     *corsPolicy    // its cross-origin policy (cors.go); nil: none

	root *os.Root                       // the project's
	path string                         // the file, in root
	rt   func() (wazero.Runtime, error) // see runtimeKey
	cfg  wazero.ModuleConfig            // its instances' (clocks, randomness, environment)

	// Set for a JavaScript or TypeScript route (js.go):
	js     *jsbuild.Bundle                        // the route's bundle, loaded on the engine's base snapshot
	engine func(context.Context) (*engine, error) // the engine, compiled once per runtime

	log       *slog.Logger
	obs       *serverObs // times compile and snapshot; nil: not
	mu        sync.Mutex // guards compiled and err
	compiled  *compiled
	err       error        // why it cannot compile, kept
	used      atomic.Int64 // when a request last asked for an instance, in Unix ns
	onCompile func(*module)

	broken     string      // with Config.Dev: why the route failed to load; it answers 500 with it
	version    string      // tells the module's code apart from another version's (compileLike)
	dev        *devCompile // with Config.Dev (interim.go); nil without
	middleware bool        // the project's middleware, not a route (this package's middleware.go)
}

var wazeroVersion sync.Once

// LoadError lists every problem found while loading a project. Each line
// names the file or route at fault.
type LoadError struct {
	Problems []string
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("%d load error(s):\n\t%s", len(e.Problems), strings.Join(e.Problems, "\n\t"))
}

// New loads the project in cfg.Dir. On failure the error is a *LoadError
// listing every problem at once, each naming its file.
func New(ctx context.Context, cfg Config) (*Server, error) {
	wazeroVersion.Do(func() {
		// wazero caches its version in a variable it writes unguarded on
		// first use (internal/version), when the first compiler runtime or
		// compilation cache is made: make one here, once, before servers
		// loaded in parallel (NewTenants) make theirs side by side.
		wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler()).Close(ctx)
	})
	if cfg.Dir == "" {
		return nil, errors.New("runtime: Config.Dir is empty")
	}
	if err := checkKVURL(cfg.KV); err != nil {
		return nil, fmt.Errorf("runtime: Config.KV: %w", err)
	}
	if err := cfg.Limits.check(); err != nil {
		return nil, fmt.Errorf("runtime: Config.Limits: %w", err)
	}
	obs, err := newServerObs(cfg) // observe.go
	if err != nil {
		return nil, err
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	// Every file of the project is read through root: a symlink that
	// leaves the project is refused, so a tenant cannot read another's.
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, &LoadError{Problems: []string{fmt.Sprintf("no app folder in %s: %v", cfg.Dir, err)}}
	}
	var load LoadError
	// The operator's limits are ceilings: wasmroute.json and route.json may
	// lower them, never raise them.
	ceiling := cfg.Limits.Or(DefaultLimits)
	maxTenant := cmp.Or(cfg.MaxTenantInstances, defaultMaxTenantInstances)
	kvCeiling := kvLimits{cmp.Or(cfg.MaxKVKeys, defaultMaxKVKeys), cmp.Or(cfg.MaxKVValue, defaultMaxKVValue)}
	project, err := readConfig(root, "wasmroute.json", false)
	if err == nil {
		err = project.within("wasmroute.json", ceiling, maxTenant, kvCeiling)
	}
	if err != nil {
		load.Problems = append(load.Problems, problems(err)...)
	}
	cfg.Limits = project.limits().Or(ceiling)
	cfg.MaxTenantInstances = cmp.Or(project.MaxTenantInstances, maxTenant)
	cfg.MaxKVKeys = cmp.Or(project.MaxKVKeys, kvCeiling.keys)
	cfg.MaxKVValue = cmp.Or(int64(project.MaxKVValue), kvCeiling.value)
	if cfg.MaxCacheBytes, err = cacheBytes(cfg.MaxCacheBytes, project); err != nil {
		load.Problems = append(load.Problems, err.Error())
	}
	if project.KV != "" {
		if cfg.Untrusted {
			load.Problems = append(load.Problems, "wasmroute.json: kv: the key-value store is the operator's choice, not a tenant's")
		} else {
			cfg.KV = project.KV
		}
	}
	if cfg.SharedCache && cfg.MaxCacheBytes > 0 {
		if p := sharedCacheProblem(cfg.KV); p != "" {
			load.Problems = append(load.Problems, p)
		}
	}
	secrets := map[string]bool{}
	for _, v := range cfg.Secrets {
		secrets[v] = true
	}
	cfg.Env = mergeEnv(cfg.Env, cfg.Secrets)
	if env, err := resolveEnv("wasmroute.json", project.Env, cfg.Untrusted, os.LookupEnv, secrets); err != nil {
		load.Problems = append(load.Problems, err.Error())
	} else {
		cfg.Env = mergeEnv(cfg.Env, env)
	}

	folders, err := routes.Scan(cfg.Dir)
	if err != nil && len(folders) == 0 {
		return nil, &LoadError{Problems: problems(err)}
	}
	if err != nil {
		load.Problems = append(load.Problems, problems(err)...)
	}
	dirs := make([]string, 0, len(folders))
	var served []routes.Folder
	broken := map[string][]string{} // with Dev: the routes that answer 500, by folder
	var buildErrors map[string]string
	if cfg.BuildErrors != nil {
		buildErrors = cfg.BuildErrors()
	}
	for _, f := range folders {
		var problem string
		switch msg, failed := buildErrors[f.Dir]; {
		case failed:
			problem = msg
		case !f.Wasm && f.JS == "":
			problem = fmt.Sprintf("app/%s: not built: run `wasmroute build %s`", joinDir(f.Dir, "route.go"), cfg.Dir)
		}
		switch {
		case problem != "" && cfg.Dev:
			broken[f.Dir] = []string{problem}
			dirs = append(dirs, f.Dir)
		case problem != "":
			load.Problems = append(load.Problems, problem)
		default:
			dirs = append(dirs, f.Dir)
			served = append(served, f)
		}
	}
	table, err := routes.Build(dirs)
	if err != nil {
		load.Problems = append(load.Problems, problems(err)...)
	}

	s := &Server{
		cfg:      cfg,
		ceiling:  ceiling,
		root:     root,
		log:      cfg.Logger,
		table:    table,
		runtimes: map[runtimeKey]wazero.Runtime{},
		engines:  map[runtimeKey]*engine{},
		tenant:   make(chan struct{}, cfg.MaxTenantInstances),
		stop:     make(chan struct{}),
		upgrades: make(chan struct{}, 1),
		secrets:  secrets,
		obs:      obs,

		projectCORS: project.CORS,
	}
	s.responses = newRespCache(cfg.MaxCacheBytes)
	if cfg.store == nil {
		s.ownStore = newStore(cfg, cfg.Dir, cfg.Logger)
		cfg.store = s.ownStore
	}
	s.kv = &namespace{store: cfg.store, name: cmp.Or(cfg.KVNamespace, namespaceName(cfg.Dir)), lim: kv.Limits{MaxKeys: cfg.MaxKVKeys, MaxValue: cfg.MaxKVValue}}
	if cfg.SharedCache {
		if err := s.responses.share(s.kv, cfg.Dir, cfg.Logger); err != nil { // cache_shared.go
			return nil, err
		}
	}
	s.guestKV = s.observedKV()
	if cfg.Untrusted {
		// The operator's list is the most a tenant's files may list.
		if s.policies.ceiling, err = s.policies.policy(cfg.AllowedOutboundHosts, "--allow-outbound"); err != nil {
			return nil, fmt.Errorf("runtime: Config.AllowedOutboundHosts: %w", err)
		}
	}
	if project.AllowedOutboundHosts != nil {
		s.projectHosts = project.AllowedOutboundHosts
		if _, err := s.policies.policy(s.projectHosts, "wasmroute.json"); err != nil {
			load.Problems = append(load.Problems, err.Error())
			s.projectHosts = []string{} // reported once, not once per route
		}
	}
	if cfg.CacheDir != "" {
		if s.cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("runtime: compilation cache %s: %w", cfg.CacheDir, err)
		}
	}
	modules, errs := s.loadAll(ctx, served)
	for dir, msgs := range errs {
		if cfg.Dev {
			broken[dir] = msgs
		} else {
			load.Problems = append(load.Problems, msgs...)
		}
	}
	var mwErrs []string
	s.mw, mwErrs = s.loadMiddlewareLogged(ctx, project.Middleware)
	load.Problems = append(load.Problems, mwErrs...)
	s.redact = redactor(s.secrets)
	for dir, msgs := range broken {
		sort.Strings(msgs)
		modules[dir] = s.brokenModule(dir, strings.Join(msgs, "\n"))
	}
	if len(load.Problems) > 0 {
		s.Close(ctx)
		sortProblems(load.Problems)
		return nil, &load
	}
	for _, r := range table.Routes() {
		s.routes = append(s.routes, &route{Route: r, module: modules[r.Dir]})
	}
	if !cfg.LazyCompile {
		if err := s.CompileAll(ctx); err != nil {
			s.Close(ctx)
			return nil, err
		}
	} else {
		s.warmEngines()
	}
	if idle := cmp.Or(cfg.IdleTimeout, defaultIdleTimeout); idle > 0 {
		s.swept.Go(func() { s.sweep(idle) })
	}
	s.obs.start(s)
	return s, nil
}

// sweep closes idle instances older than idle, checking every idle/2,
// until Close.
func (s *Server) sweep(idle time.Duration) {
	t := time.NewTicker(max(idle/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			for _, r := range s.routes {
				r.pool.evict(now.Add(-idle))
			}
			if s.mw != nil {
				s.mw.pool.evict(now.Add(-idle))
			}
		}
	}
}

// runtimeKey tells wazero runtimes apart: wazero sets the memory limit per
// runtime.
type runtimeKey struct {
	pages  uint32 // the memory limit
	interp bool   // wazero's interpreter, for interim versions (interim.go)
}

// runtime returns the wazero runtime for k, creating it on first use.
func (s *Server) runtime(ctx context.Context, k runtimeKey) (wazero.Runtime, error) {
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	if rt, ok := s.runtimes[k]; ok {
		return rt, nil
	}
	// No WithCloseOnContextDone: every module is instrumented
	// (wasmbin.Instrument), which stops runaway guests more cheaply.
	rc := wazero.NewRuntimeConfig()
	if k.interp {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	rc = rc.WithMemoryLimitPages(k.pages)
	if s.cache != nil && !k.interp {
		rc = rc.WithCompilationCache(s.cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := host.InstantiateWASI(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("runtime: wasi: %w", err)
	}
	if _, err := host.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("runtime: host module: %w", err)
	}
	s.runtimes[k] = rt
	return rt, nil
}

// loadAll reads and checks the module of every route folder, one per core
// at a time, and returns them by folder, and the problems found by folder.
func (s *Server) loadAll(ctx context.Context, folders []routes.Folder) (map[string]*module, map[string][]string) {
	var (
		mu       sync.Mutex
		modules  = make(map[string]*module, len(folders))
		problems = map[string][]string{}
		wg       sync.WaitGroup
		sem      = make(chan struct{}, cores())
	)
	for _, f := range folders {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, errs, warns := s.load(ctx, f)
			mu.Lock()
			defer mu.Unlock()
			if len(errs) > 0 {
				problems[f.Dir] = errs
			} else {
				modules[f.Dir] = m
			}
			for _, w := range warns {
				s.log.Warn(w)
			}
		}()
	}
	wg.Wait()
	return modules, problems
}

// load reads one route folder's configuration and module (or bundles its
// JavaScript) and checks the module against the ABI, without compiling it.
func (s *Server) load(ctx context.Context, f routes.Folder) (m *module, errs, warns []string) {
	dir := f.Dir
	file := moduleFile(dir)
	if f.JS != "" {
		file = "app/" + joinDir(dir, f.JS)
	}
	prefix := func(msgs []string) []string {
		for i, msg := range msgs {
			msgs[i] = file + ": " + msg
		}
		return msgs
	}
	confFile := "app/" + joinDir(dir, "route.json")
	conf, err := readConfig(s.root, confFile, true)
	if err == nil {
		err = conf.within(confFile, s.ceiling, 0, kvLimits{})
	}
	if err != nil {
		return nil, problems(err), nil
	}
	limits := conf.limits().Or(s.cfg.Limits)
	path := filepath.FromSlash(file)
	var (
		methods methodSet
		size    int64
		version string
		js      *jsbuild.Bundle
		info    *wasmbin.Info
	)
	if f.JS != "" {
		if js, errs, warns = s.bundle(ctx, file, confFile, conf, &limits); len(errs) > 0 {
			return nil, errs, warns
		}
		methods = jsMethods(js)
		size = int64(len(js.Code))
		version = fmt.Sprintf("%x", sha256.Sum256(js.Code))
		info, err = engineInfo()
	} else {
		info, size, err = wasmbin.ReadHead(s.root, path)
		if fi, err := s.root.Stat(path); err == nil {
			version = fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano())
		}
		if err != nil && !errors.Is(err, wasmbin.ErrTruncated) && !errors.As(err, new(*fs.PathError)) {
			err = fmt.Errorf("not a valid WebAssembly module: %w", err)
		}
	}
	if err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", file, err)}, warns
	}
	if js == nil {
		var w []string
		methods, errs, w = check(info)
		warns = append(warns, prefix(w)...)
	}
	if p := memoryProblem(info, limits); p != "" {
		errs = append(errs, p)
	}
	if len(errs) > 0 {
		return nil, prefix(errs), warns
	}
	var segment *jsbuild.SegmentConfig
	if js != nil {
		segment = &js.Config
	}
	rule, errs := cacheRuleOf(file, confFile, conf, segment)
	if len(errs) > 0 {
		return nil, errs, warns
	}
	m = &module{File: file, Size: size, methods: methods, allow: methods.allow(), js: js, version: version, cache: rule, onCompile: s.admit}
	if errs := s.newModule(ctx, m, path, confFile, conf, limits, nil); len(errs) > 0 {
		return nil, errs, warns
	}
	m.cors = cmp.Or(conf.CORS, s.projectCORS).forRoute(methods)
	return m, nil, warns
}

// newModule completes m, a route's or the middleware's module read and
// checked (memoryProblem too) from path: it resolves its environment (conf's, read from confFile) and outbound policy, and
// gives it its instance pool; bind, when set, completes each instance. It
// returns the problems, each naming the file.
func (s *Server) newModule(ctx context.Context, m *module, path, confFile string, conf fileConfig, limits Limits, bind func(*instance)) []string {
	pages := uint32(limits.MaxMemory / wasmPageSize)
	rt := func() (wazero.Runtime, error) { return s.runtime(ctx, runtimeKey{pages: pages}) }
	if _, err := rt(); err != nil {
		return []string{err.Error()}
	}
	s.secretsMu.Lock()
	env, err := resolveEnv(confFile, conf.Env, s.cfg.Untrusted, os.LookupEnv, s.secrets)
	s.secretsMu.Unlock()
	if err != nil {
		return []string{err.Error()}
	}
	if m.outbound, err = s.outbound(m.File, conf.AllowedOutboundHosts, confFile, limits); err != nil {
		return []string{err.Error()}
	}
	modCfg := moduleConfig()
	for k, v := range mergeEnv(s.cfg.Env, env) {
		modCfg = modCfg.WithEnv(k, v)
	}
	m.limits, m.root, m.path, m.rt, m.cfg, m.log, m.obs = limits, s.root, path, rt, modCfg, s.log, s.obs
	if s.cfg.Dev {
		m.dev = &devCompile{
			interp: func() (wazero.Runtime, error) { return s.runtime(ctx, runtimeKey{pages: pages, interp: true}) },
			later:  s.background,
		}
		if s.cfg.CacheDir != "" {
			m.dev.marks = filepath.Join(s.cfg.CacheDir, marksFolder)
		}
	}
	if m.js != nil {
		m.engine = func(ctx context.Context) (*engine, error) {
			return s.engine(ctx, runtimeKey{pages: pages}, limits.MaxMemory)
		}
	}
	m.pool = newPool(limits.MaxInstances, s.tenant, func(ctx context.Context) (*instance, error) {
		c, done, err := m.use(ctx)
		if err != nil {
			return nil, err
		}
		defer done()
		ictx, cancel := context.WithTimeout(ctx, limits.MaxDuration) // bounds an initialization
		defer cancel()
		t := s.obs.now()
		inst, err := c.newInstance(ictx, modCfg, m.methods)
		if err != nil {
			return nil, err
		}
		s.obs.phase(phaseInstantiate, t)
		if bind != nil {
			bind(inst)
		}
		return inst, nil
	})
	return nil
}

// memoryProblem says why a module whose initial memory info gives is over
// limits' maxMemory, or "".
func memoryProblem(info *wasmbin.Info, limits Limits) string {
	if pages, ok := info.MemoryMin[abi.ExportMemory]; ok && pages*wasmPageSize > uint64(limits.MaxMemory) {
		return fmt.Sprintf("starts with %s of memory, more than its maxMemory of %s", FormatSize(int64(pages)*wasmPageSize), FormatSize(limits.MaxMemory))
	}
	return ""
}

// brokenModule is the module of a route folder that failed to load, with
// Config.Dev: it answers every request with 500 and problem.
func (s *Server) brokenModule(dir, problem string) *module {
	return &module{File: "app/" + dir, broken: s.redacted(problem), pool: newPool(0, s.tenant, nil), log: s.log}
}

// moduleConfig is every instance's configuration: the real clocks and
// sleep, a cryptographic random source, nothing else of the host's.
func moduleConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().
		WithName("").
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
}

// CompileAll compiles every route's module now, one per core at a time, rather
// than on its first request, telling Config.Progress as each finishes. It
// returns a *LoadError listing the modules wazero refused (such a route
// answers 500). New calls it unless Config.LazyCompile is set; a server that
// starts lazily may call it in the background.
func (s *Server) CompileAll(ctx context.Context) error {
	return s.compile(ctx, func(*route) bool { return true })
}

// compileLike compiles the modules of the routes that old has compiled: a
// new version of a project answers its routes in use as fast as the old.
// With Config.Dev, only those whose code changed: the others compile after
// the swap, so that a saved file is served sooner.
func (s *Server) compileLike(ctx context.Context, old *Server) {
	hot := map[string]string{} // the versions of old's compiled modules, by route
	for _, r := range old.routes {
		if r.broken == "" && r.isCompiled() {
			hot[r.Pattern] = r.version
		}
	}
	s.compile(ctx, func(r *route) bool {
		v, ok := hot[r.Pattern]
		return ok && (!s.cfg.Dev || v != r.version)
	}) // failures answer 500, logged then
}

// compile compiles the modules of the routes that want, as CompileAll.
func (s *Server) compile(ctx context.Context, want func(*route) bool) error {
	var todo []*route
	for _, r := range s.routes {
		if r.broken == "" && want(r) {
			todo = append(todo, r)
		}
	}
	var (
		mu       sync.Mutex
		problems []string
		done     int
		wg       sync.WaitGroup
		sem      = make(chan struct{}, cores())
	)
	// Modules compile side by side; a lone module gets the spare cores.
	ctx = experimental.WithCompilationWorkers(ctx, max(1, cores()/max(1, len(todo))))
	for _, r := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := r.compile(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if out := s.redacted(errorOutput(err)); out != "" {
					err = fmt.Errorf("%w\nguest output:\n%s", err, out)
				}
				problems = append(problems, err.Error())
			}
			done++
			if s.cfg.Progress != nil {
				s.cfg.Progress(done, len(todo), r.File)
			}
		}()
	}
	wg.Wait()
	if err := s.compileMiddleware(ctx); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return &LoadError{Problems: problems}
	}
	return nil
}

// cores is how many CPU-bound jobs to run at once: GOMAXPROCS, but no more
// than the machine's cores (wasmroute serve runs with more Ps than cores).
func cores() int { return min(goruntime.GOMAXPROCS(0), goruntime.NumCPU()) }

func moduleFile(dir string) string { return "app/" + joinDir(dir, "route.wasm") }

func joinDir(dir, file string) string {
	if dir == "" {
		return file
	}
	return dir + "/" + file
}

// problems flattens an error from package routes into one line per problem.
func problems(err error) []string {
	var errs routes.Errors
	if errors.As(err, &errs) {
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = e.Error()
		}
		return lines
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok { // a config file's (errors.Join)
		var lines []string
		for _, e := range joined.Unwrap() {
			lines = append(lines, problems(e)...)
		}
		return lines
	}
	return []string{err.Error()}
}

// Route describes one served route, for listings such as wasmroute routes.
type Route struct {
	Pattern string // e.g. "/blog/[slug]"
	Methods string // the exported methods, e.g. "GET, POST"
	Allow   string // what the Allow header lists, e.g. "GET, HEAD, OPTIONS"
	File    string // e.g. "app/blog/[slug]/route.wasm"
	Size    int64  // module size in bytes
}

// Routes lists the served routes sorted by pattern.
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.routes))
	for i, r := range s.routes {
		out[i] = Route{Pattern: r.Pattern, Methods: r.methods.String(), Allow: r.allow, File: r.File, Size: r.Size}
	}
	return out
}

// Problems lists why each route that answers 500 failed to load, with
// Config.Dev (without it, such a project does not load).
func (s *Server) Problems() []string {
	var out []string
	for _, r := range s.routes {
		if r.broken != "" {
			out = append(out, r.broken)
		}
	}
	return out
}

// Close closes every instance and compiled module. Requests still running
// fail; drain them first (http.Server.Shutdown).
func (s *Server) Close(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.bgMu.Lock()
	s.bgClosed = true
	s.bgMu.Unlock()
	s.obs.stop(s)
	s.swept.Wait()
	s.warming.Wait() // a warming engine, or an upgrade, compiles in a runtime closed below
	s.responses.close()
	for _, r := range s.routes {
		r.pool.close()
	}
	if s.mw != nil {
		s.mw.pool.close()
	}
	var errs []error
	for _, rt := range s.runtimes {
		errs = append(errs, rt.Close(ctx))
	}
	s.policies.close()
	if s.ownStore != nil {
		errs = append(errs, s.ownStore.close())
	}
	if s.cache != nil {
		errs = append(errs, s.cache.Close(ctx))
	}
	errs = append(errs, s.root.Close())
	return errors.Join(errs...)
}
