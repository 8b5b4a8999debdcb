package runtime

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/wasmbin"
)

// methodIndex maps a method name to its position in abi.Methods.
var methodIndex = func() map[string]int {
	m := make(map[string]int, len(abi.Methods))
	for i, name := range abi.Methods {
		m[name] = i
	}
	return m
}()

// methodSet is the set of methods a module exports: one bit per abi.Methods
// (the fast path), and the other methods it exports (abi.IsExtraMethod), at
// most abi.MaxExtraMethods, sorted. Method i < len(abi.Methods) is
// abi.Methods[i]; method len(abi.Methods)+j is extra[j].
type methodSet struct {
	std   uint8
	extra []string
	// misnamed are function exports that look like methods but are not
	// served ("get", "default", a method name with another signature),
	// named in the error a request to a module without methods logs.
	misnamed []string
}

func (s methodSet) has(i int) bool {
	if i < len(abi.Methods) {
		return s.std&(1<<i) != 0
	}
	return i-len(abi.Methods) < len(s.extra)
}

// lookup returns the index of method if s has it.
func (s methodSet) lookup(method string) (int, bool) {
	if i, ok := methodIndex[method]; ok {
		return i, s.std&(1<<i) != 0
	}
	for j, name := range s.extra {
		if name == method {
			return len(abi.Methods) + j, true
		}
	}
	return 0, false
}

// empty reports whether the module exports no method at all.
func (s methodSet) empty() bool { return s.std == 0 && len(s.extra) == 0 }

// equal reports whether s and o hold the same methods.
func (s methodSet) equal(o methodSet) bool {
	return s.std == o.std && slices.Equal(s.extra, o.extra)
}

// count is the number of method indexes: an instance's fns has this many.
func (s methodSet) count() int { return len(abi.Methods) + len(s.extra) }

// name returns the name of method i.
func (s methodSet) name(i int) string {
	if i < len(abi.Methods) {
		return abi.Methods[i]
	}
	return s.extra[i-len(abi.Methods)]
}

// names lists the methods of s, sorted.
func (s methodSet) names() []string {
	names := make([]string, 0, bits.OnesCount8(s.std)+len(s.extra))
	for i, name := range abi.Methods {
		if s.has(i) {
			names = append(names, name)
		}
	}
	names = append(names, s.extra...)
	slices.Sort(names)
	return names
}

// allow is the Allow header for a module exporting s: its methods, HEAD when
// GET is there, and OPTIONS, sorted.
func (s methodSet) allow() string {
	s.std |= 1 << methodIndex["OPTIONS"]
	if s.has(methodIndex["GET"]) {
		s.std |= 1 << methodIndex["HEAD"]
	}
	return strings.Join(s.names(), ", ")
}

// String lists the exported methods, e.g. "GET, POST".
func (s methodSet) String() string { return strings.Join(s.names(), ", ") }

// wasiModule is the WASI preview 1 host module name.
const wasiModule = "wasi_snapshot_preview1"

// check validates a module against the ABI and returns the methods it
// exports, problems that stop it from loading, and warnings. A module that
// exports no method loads, with a warning: it answers 405 (Next.js answers
// such a route the same way).
func check(m *wasmbin.Info) (methods methodSet, errs, warns []string) {
	names := make([]string, 0, len(m.Exports))
	for name := range m.Exports {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		x := m.Exports[name]
		noArgs := len(x.Sig.Params) == 0 && len(x.Sig.Results) == 0
		_, isMethod := methodIndex[name]
		_, lowercase := methodIndex[strings.ToUpper(name)]
		extra := abi.IsExtraMethod(name)
		switch {
		case x.Kind != wasmbin.ExternFunc:
			if isMethod || name == abi.ExportInitialize {
				errs = append(errs, fmt.Sprintf("export %s is not a function", name))
			}
		case isMethod && !noArgs:
			errs = append(errs, fmt.Sprintf("export %s has signature %s; a method takes no parameters and returns nothing", name, x.Sig))
		case isMethod:
			methods.std |= 1 << methodIndex[name]
		case extra && !noArgs:
			// Not an error: before methods beyond the seven, such a
			// function was just a function.
			methods.misnamed = append(methods.misnamed, name)
			warns = append(warns, fmt.Sprintf("export %s is not served as a method: it has signature %s; a method takes no parameters and returns nothing", name, x.Sig))
		case extra:
			methods.extra = append(methods.extra, name)
		case slices.Contains(abi.UnservedMethods[:], name):
			methods.misnamed = append(methods.misnamed, name)
			warns = append(warns, fmt.Sprintf("export %s is not served: CONNECT, TRACE and TRACK requests never reach a module", name))
		case name == abi.ExportStart:
			errs = append(errs, fmt.Sprintf("exports %s: it is a WASI command; build a reactor (Go: -buildmode=c-shared)", abi.ExportStart))
		case name == abi.ExportInitialize && !noArgs:
			errs = append(errs, fmt.Sprintf("export %s has signature %s; it must take no parameters and return nothing", name, x.Sig))
		case lowercase:
			methods.misnamed = append(methods.misnamed, name)
			warns = append(warns, fmt.Sprintf("export %q is not a method: method exports are case-sensitive, rename it %s", name, strings.ToUpper(name)))
		case name == "default":
			methods.misnamed = append(methods.misnamed, name)
			warns = append(warns, `export "default" is not a method: export one function per method, named GET, POST, ...`)
		}
	}
	if n := len(methods.extra); n > abi.MaxExtraMethods {
		errs = append(errs, fmt.Sprintf("exports %d methods beyond %s (%s, ...); at most %d are allowed", n, strings.Join(abi.Methods[:], ", "), strings.Join(methods.extra[:3], ", "), abi.MaxExtraMethods))
		methods.extra = nil
	}
	if methods.empty() && len(errs) == 0 {
		warns = append(warns, noMethodWarning(methods.misnamed))
	}
	if _, ok := m.MemoryMin[abi.ExportMemory]; !ok {
		errs = append(errs, fmt.Sprintf("does not export its memory as %q", abi.ExportMemory))
	}
	errs = append(errs, checkImports(m.Imports, m.OtherImports)...)
	return methods, errs, warns
}

// noMethodWarning is the load warning for a module that exports no method.
func noMethodWarning(misnamed []string) string {
	w := "exports no method, so it answers 405 to every request but OPTIONS: export at least one of " + strings.Join(abi.Methods[:], ", ") + " (or another method, in uppercase)"
	if len(misnamed) > 0 {
		w += fmt.Sprintf("; not methods: %s", strings.Join(misnamed, ", "))
	}
	return w
}

// hostFuncs maps each v1 host function to its signature.
var hostFuncs = func() map[string]abi.Func {
	m := make(map[string]abi.Func, len(abi.Funcs))
	for _, f := range abi.Funcs {
		m[f.Name] = f
	}
	return m
}()

func checkImports(imports []wasmbin.FuncImport, others []wasmbin.ExternImport) (errs []string) {
	for _, im := range others {
		errs = append(errs, fmt.Sprintf("imports %s %s.%s: the host provides functions only", wasmbin.KindName(im.Kind), im.Module, im.Name))
	}
	for _, im := range imports {
		switch im.Module {
		case wasiModule:
		case abi.ModuleName:
			f, ok := hostFuncs[im.Name]
			if !ok {
				errs = append(errs, fmt.Sprintf("imports %s.%s, which this host does not provide", im.Module, im.Name))
				continue
			}
			if !allI32(im.Sig.Params, f.Params) || !allI32(im.Sig.Results, f.Results) {
				errs = append(errs, fmt.Sprintf("imports %s.%s with signature %s; the ABI has %d i32 parameters and %d i32 results", im.Module, im.Name, im.Sig, f.Params, f.Results))
			}
		default:
			errs = append(errs, fmt.Sprintf("imports %s.%s: only %s and %s are provided", im.Module, im.Name, abi.ModuleName, wasiModule))
		}
	}
	return errs
}

func allI32(types []byte, n int) bool {
	if len(types) != n {
		return false
	}
	for _, t := range types {
		if t != 0x7f {
			return false
		}
	}
	return true
}

// instance is one instantiated module with its method functions looked up
// once. It serves one request at a time.
type instance struct {
	mod api.Module
	fns []api.Function // by method index (methodSet), nil for those not exported
	out *guestOutput
	ex  host.Exchange // reused from request to request, keeping its buffers

	deadline *deadline // its time limit, reset per request
	// deep is set by the guest once its stack passed an eighth of its
	// budget (wasmbin.Instrument): the stack wazero grew for it stays with the
	// method, so the instance is not kept.
	deep api.Global

	from *compiled // the code it runs

	// Set for an instance made from a snapshot:
	snap    *snapshot
	noReset bool // its module changes tables or drops segments: reset cannot undo it
	mem     linearMemory
	globals []api.MutableGlobal // the snapshot's globals, in order
}

func instantiate(ctx context.Context, rt wazero.Runtime, cm wazero.CompiledModule, cfg wazero.ModuleConfig, methods methodSet) (*instance, error) {
	out := &guestOutput{}
	mod, err := rt.InstantiateModule(ctx, cm, cfg.WithStdout(out).WithStderr(out))
	if err != nil {
		return nil, withOutput(err, out)
	}
	inst := &instance{mod: mod, out: out, deep: mod.ExportedGlobal(wasmbin.DeepExport), fns: make([]api.Function, methods.count())}
	for i := range inst.fns {
		if methods.has(i) {
			inst.fns[i] = mod.ExportedFunction(methods.name(i))
		}
	}
	return inst, nil
}

// withOutput adds what the guest printed to err, as an *outputError.
func withOutput(err error, out *guestOutput) error {
	if s := out.take(); s != "" {
		return &outputError{err, s}
	}
	return err
}

// outputError is a guest's failure with what it printed. Its message leaves
// the output out: a failed initialization is kept and answered again on
// every request, so its output goes to the log through the tenant's output
// limit (errorOutput), not with each error line.
type outputError struct {
	err    error
	output string
}

func (e *outputError) Error() string { return e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

// errorOutput returns what the guest printed before err, or "".
func errorOutput(err error) string {
	var oe *outputError
	if errors.As(err, &oe) {
		return oe.output
	}
	return ""
}

// close closes inst. Never call it while inst is in a call.
func (inst *instance) close() {
	_ = inst.mod.Close(context.Background())
	if inst.mem != nil {
		inst.mem.release()
	}
}

// compiled is a module's compiled code and what instances start from.
type compiled struct {
	rt   wazero.Runtime
	cm   wazero.CompiledModule
	snap *snapshot // nil: each instance runs the module's initialization
	// resettable: no instruction changes a table or drops a segment, so an
	// instance is back in the snapshot's state once its memory and globals
	// are (wasmbin.Instrumented.MutatesTables).
	resettable bool
	// shared: cm is the JavaScript engine's, compiled once for every
	// JavaScript route (js.go); evicting a route keeps it.
	shared bool
	// superseded: an interim version whose compiled code now serves
	// (interim.go): its instances are closed, not kept.
	superseded atomic.Bool

	// Guarded by the module's mu:
	users int  // instantiations running from it (module.use)
	gone  bool // given up (evicted, upgraded): the last user closes it
}

// retire marks c, no longer its module's code, as given up, and reports
// whether it can be closed now: no instantiation uses it. Call it with the
// module's mu held.
func (c *compiled) retire() bool {
	c.gone = true
	return c.users == 0
}

// close closes c's compiled code, unless it is the JavaScript engine's.
func (c *compiled) close() {
	if !c.shared {
		c.cm.Close(context.Background())
	}
}

// use returns m's compiled code, compiling it first if need be, held for
// one instantiation until done is called: code evicted meanwhile is
// closed after that, never under it. (wazero shares the code of identical
// modules within a runtime, so code closed under an instantiation made it
// fail with "source module must be compiled before instantiation", under
// --max-compiled churn.)
func (m *module) use(ctx context.Context) (c *compiled, done func(), err error) {
	for {
		if c, err = m.compile(ctx); err != nil {
			return nil, nil, err
		}
		m.mu.Lock()
		if m.compiled == c {
			c.users++
			m.mu.Unlock()
			return c, func() { m.unuse(c) }, nil
		}
		m.mu.Unlock() // evicted since: compile again
	}
}

func (m *module) unuse(c *compiled) {
	m.mu.Lock()
	c.users--
	closeNow := c.gone && c.users == 0
	m.mu.Unlock()
	if closeNow {
		c.close()
	}
}

// compile compiles m once, on first use (or again after evict), from the
// file load checked, and takes its snapshot.
func (m *module) compile(ctx context.Context) (*compiled, error) {
	m.mu.Lock()
	if m.compiled != nil || m.err != nil {
		defer m.mu.Unlock()
		return m.compiled, m.err
	}
	var c *compiled
	var err error
	t := m.obs.now()
	if m.js != nil {
		c, err = m.compileJS(ctx)
	} else {
		c, err = m.compileWasm(ctx)
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", m.File, err)
		if ctx.Err() == nil {
			m.err = err // else cut short: the next use tries again
		}
		m.mu.Unlock()
		return nil, err
	}
	m.compiled = c
	m.mu.Unlock()
	m.obs.phase(phaseCompile, t)
	if m.onCompile != nil {
		m.onCompile(m) // outside m.mu: it may evict other modules
	}
	return c, nil
}

// compileWasm reads m's module file again, checks and instruments it, and
// compiles it.
func (m *module) compileWasm(ctx context.Context) (*compiled, error) {
	bin, err := wasmbin.ReadFile(m.root, m.path)
	if err != nil {
		return nil, err
	}
	if !m.same(bin) {
		return nil, errors.New("changed on disk since it was loaded: restart to serve the new module")
	}
	// Nothing, ours or wazero's, allocates by the module's counts before
	// they are checked (wasmbin.Prepare).
	if bin, err = wasmbin.Prepare(bin, m.limits.MaxMemory); err != nil {
		return nil, err
	}
	// Every module is instrumented (wasmbin.Instrument): nothing else stops
	// a runaway guest or bounds its stack.
	ins, err := wasmbin.Instrument(bin, stackBudget(m.limits.MaxMemory))
	if err != nil {
		return nil, err
	}
	return m.compileAs(ctx, ins)
}

// compileLocks serialize the compilations of identical modules. wazero
// (v1.12.0, wazevo's getCompiledModule) publishes a module it loads from the
// compilation cache before it has written its entry preambles, so a second
// CompileModule of the same bytes in the same runtime could return it
// half-made, and an instance of it read the preambles as they are written
// (a data race the race detector reports; an index out of range at worst).
// Tenants often serve identical modules. Different modules hash to
// different locks, mostly, and compile side by side.
var compileLocks [64]sync.Mutex

// lockCompile locks the compilation of bin and returns the unlock.
func lockCompile(bin []byte) func() {
	sum := sha256.Sum256(bin)
	mu := &compileLocks[sum[0]%byte(len(compileLocks))]
	mu.Lock()
	return mu.Unlock
}

// maxCompileTime bounds compiling a module (wazero checks it between
// functions): a Go guest of 3 MiB takes about a second, and what a module
// may hold is bounded (wasmbin.Prepare, wasmbin.Instrument), so only a module
// built to exhaust the compiler comes near it.
const maxCompileTime = time.Minute

// stackBudget is the wasm stack an instance may use, in estimated bytes
// (wasmbin.Instrument): a 16th of its memory limit, 8 MiB by default.
func stackBudget(maxMemory int64) uint32 {
	return uint32(min(maxMemory/16, 1<<30))
}

// compileAs rewrites the instrumented module ins for snapshots when it
// can, compiles it and takes its snapshot; with Config.Dev, perhaps as an
// interim version first (interim.go).
func (m *module) compileAs(ctx context.Context, ins *wasmbin.Instrumented) (*compiled, error) {
	var sum [sha256.Size]byte // with Config.Dev: what tells the module apart (interim.go)
	if m.dev != nil {
		sum = sha256.Sum256(ins.Bin)
		if c := m.compileInterim(ctx, ins, sum); c != nil {
			return c, nil
		}
	}
	rt, err := m.rt()
	if err != nil {
		return nil, err
	}
	c, err := m.compileIn(ctx, rt, ins)
	if err == nil && m.dev != nil {
		m.dev.compiled(sum)
	}
	return c, err
}

// compileIn is compileAs in rt.
func (m *module) compileIn(ctx context.Context, rt wazero.Runtime, ins *wasmbin.Instrumented) (*compiled, error) {
	code, err := compileCode(ctx, rt, ins, func(reason error) {
		if m.log != nil {
			m.log.Warn(m.File+": each instance runs the module's initialization", "reason", reason)
		}
	})
	if err != nil {
		return nil, err
	}
	c := &compiled{rt: rt, cm: code.cm, resettable: code.resettable}
	if code.rw != nil {
		if c.snap, err = m.snapshot(ctx, rt, code, m.cfg); err != nil {
			c.cm.Close(context.Background())
			return nil, err
		}
	}
	return c, nil
}

// snapshot runs code's initialization with cfg, bounded like a request, and
// takes its snapshot.
func (m *module) snapshot(ctx context.Context, rt wazero.Runtime, code *code, cfg wazero.ModuleConfig) (*snapshot, error) {
	ictx, cancel := context.WithTimeout(ctx, m.limits.MaxDuration)
	defer cancel()
	t := m.obs.now()
	snap, err := takeSnapshot(ictx, rt, code.cm, cfg, code.rw)
	if err != nil {
		return nil, fmt.Errorf("initialization failed: %w", err)
	}
	m.obs.phase(phaseSnapshot, t)
	return snap, nil
}

// code is an instrumented module compiled, rewritten for snapshots when it
// can be.
type code struct {
	cm         wazero.CompiledModule
	rw         *wasmbin.Rewritten // nil: no snapshot
	resettable bool               // see compiled.resettable
}

// compileCode rewrites ins for snapshots when it can (else tells noSnapshot
// why) and compiles it in rt.
func compileCode(ctx context.Context, rt wazero.Runtime, ins *wasmbin.Instrumented, noSnapshot func(error)) (c *code, err error) {
	defer func() {
		// A bug in wazero's compiler must cost one route, not the process
		// or a module's lock.
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("cannot compile: compiler panicked: %v", p)
		}
	}()
	bin := ins.Bin
	var rw *wasmbin.Rewritten
	if ins.MutatesTables {
		// A snapshot keeps memory and globals, not tables: memory that
		// indexes a table the initialization filled would not match an
		// instance's fresh one.
		err = fmt.Errorf("%w: it changes its tables", wasmbin.ErrNoSnapshot)
	} else if rw, err = wasmbin.Rewrite(bin); err == nil {
		bin = rw.Bin
	}
	if errors.Is(err, wasmbin.ErrNoSnapshot) {
		noSnapshot(err)
	}
	if experimental.GetCompilationWorkers(ctx) < 2 {
		// wazero (v1.12.0) checks the context between functions only when
		// it compiles with 2 or more workers: with one, nothing would stop
		// it, maxCompileTime or Close.
		ctx = experimental.WithCompilationWorkers(ctx, 2)
	}
	cctx, cancel := context.WithTimeout(ctx, maxCompileTime)
	unlock := lockCompile(bin)
	cm, err := rt.CompileModule(cctx, bin)
	unlock()
	cancel()
	if err != nil {
		if cctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("took more than %v", maxCompileTime)
		}
		return nil, fmt.Errorf("cannot compile: %w", err)
	}
	return &code{cm: cm, rw: rw, resettable: !ins.MutatesTables}, nil
}

// newInstance makes an instance of c, from its snapshot if it has one.
func (c *compiled) newInstance(ctx context.Context, cfg wazero.ModuleConfig, methods methodSet) (inst *instance, err error) {
	if c.snap == nil {
		var img *image
		if img, err = emptyImage(); err != nil {
			return nil, err
		}
		inst, err = instantiateFrom(ctx, img, c.rt, c.cm, cfg.WithStartFunctions(abi.ExportInitialize), methods)
	} else {
		inst, err = c.snap.instantiate(ctx, c.rt, c.cm, cfg, methods)
	}
	if err == nil {
		inst.from = c
		inst.deadline = &deadline{}
		inst.noReset = !c.resettable
	}
	return inst, err
}

// evict drops m's compiled code and idle instances; instances in use finish
// their requests. It reports whether m was compiled.
func (m *module) evict() bool {
	m.mu.Lock()
	c := m.compiled
	m.compiled = nil
	closeNow := c != nil && c.retire()
	m.mu.Unlock()
	if c == nil {
		return false
	}
	m.pool.evict(time.Now().Add(time.Hour))
	if closeNow {
		c.close()
	}
	return true
}

// admit counts a newly compiled module and, past Config.MaxCompiled, evicts
// the modules used least recently.
func (s *Server) admit(m *module) {
	n := s.compiled.Add(1)
	for max := int64(s.cfg.MaxCompiled); max > 0 && n > max; {
		var victim *module
		for _, r := range s.routes {
			if r.module != m && (victim == nil || r.used.Load() < victim.used.Load()) && r.isCompiled() {
				victim = r.module
			}
		}
		if victim == nil {
			return
		}
		if victim.evict() {
			n = s.compiled.Add(-1)
		}
	}
}

func (m *module) isCompiled() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.compiled != nil
}

// same reports whether bin still passes the checks load made and exports
// the same methods: a module file replaced under a running server must not
// bring exports the checks never saw.
func (m *module) same(bin []byte) bool {
	info, err := wasmbin.Parse(bin)
	if err != nil {
		return false
	}
	check := check
	if m.middleware {
		check = checkMiddleware
	}
	methods, errs, _ := check(info)
	pages, ok := info.MemoryMin[abi.ExportMemory]
	return len(errs) == 0 && methods.equal(m.methods) && ok && pages*wasmPageSize <= uint64(m.limits.MaxMemory)
}
