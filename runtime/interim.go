package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	_ "unsafe" // for go:linkname

	"github.com/tetratelabs/wazero"

	"github.com/wasmroute/wasmroute/internal/wasmbin"
)

// With Config.Dev, a saved route.go should answer within the time go build
// takes plus ~100 ms. wazero's optimizing compiler needs ~0.5 s for a Go
// guest of 2–3 MiB; its interpreter compiles the same module in ~70 ms.
// So a large module this process has not compiled before is first compiled
// by the interpreter and serves at once, an interim version, while the
// compiler compiles it in the background. Once that is done, new requests
// get instances of the compiled code, and the interim's instances are
// closed: the idle ones at once, the busy ones when their requests end.
//
// Both versions are the same instrumented bytes under the same limits; only
// their speed differs (the interpreter's is ~10× slower). A module the
// interpreter fails to compile or initialize is compiled by the compiler
// as usual, which then reports it. Never without Config.Dev: what serves
// in production is compiled code only.

// The interpreter stops a call stack at 2,000 frames, where compiled code
// stops only at the stack budget wasmbin.Instrument sets (8 MiB of
// estimated frames by default, ~20,000 frames of a small recursive
// function): a request that recursed deeper would fail while the interim
// serves, and pass a second later. wazero's own comment on the variable
// says builders may change it; it is raised so that the budget, as in
// compiled code, is what stops a guest. An interpreted frame costs tens of
// bytes of Go heap, up to ~100 with its values, and a frame costs at
// least 48 bytes of the budget: the deepest stack the budget allows holds
// ~2× the budget in heap, in dev only.
//
//go:linkname interpCallStackCeiling github.com/tetratelabs/wazero/internal/engine/interpreter.callStackCeiling
var interpCallStackCeiling int

func init() { interpCallStackCeiling = 1 << 24 }

// interimMinSize is the size from which a module gets an interim version:
// below it the compiler is quick enough (~0.2 s per MiB).
const interimMinSize = 512 << 10

// maxInterims bounds the interim versions alive in the process, each
// counted until its upgrade ends: the interpreter's code of a Go guest of
// 2–3 MiB holds 50–70 MB of heap. Past it (a dev server starting with many
// Go routes), modules are compiled by the compiler at once. An interim
// whose upgrade failed (the compiler refused what the interpreter took,
// logged) serves on uncounted.
const maxInterims = 4

var interims atomic.Int32 // interim versions alive

// devCompile is what a module compiles interim versions with.
type devCompile struct {
	interp func() (wazero.Runtime, error)   // the interpreter's runtime
	later  func(func(context.Context)) bool // runs a compilation in the background (Server.background)
	marks  string                           // where compiled marks the modules it records; "" without Config.CacheDir
}

// compiledBefore holds the hashes of the modules the compiler compiled in
// this process (with Config.Dev): an unchanged route of a reloaded project
// loads from wazero's compilation cache in a few milliseconds and gets no
// interim version. It grows by one entry per distinct module compiled in a
// dev session. With Config.CacheDir, an empty file named by the hash
// (devCompile.marks) tells a dev server started later the same: a restart
// compiles nothing again. A mark whose module the cache trimmer removed
// costs a compilation by the compiler, as before interim versions; a
// missing mark, an interim version.
var compiledBefore sync.Map // [sha256.Size]byte → struct{}

// marksFolder is the folder of the marks in a cache folder.
const marksFolder = "compiled-v1"

// compiled records the module whose hash is sum as compiled by the
// compiler.
func (d *devCompile) compiled(sum [sha256.Size]byte) {
	compiledBefore.Store(sum, struct{}{})
	if d.marks != "" && os.MkdirAll(d.marks, 0o700) == nil {
		_ = os.WriteFile(filepath.Join(d.marks, hex.EncodeToString(sum[:])), nil, 0o600) // a mark lost costs one interim version
	}
}

// known reports whether the module whose hash is sum was compiled by the
// compiler, in this process or before, so that the compiler loads it from
// its cache. Without a cache folder, nothing is known.
func (d *devCompile) known(sum [sha256.Size]byte) bool {
	if d.marks == "" {
		return false
	}
	if _, ok := compiledBefore.Load(sum); ok {
		return true
	}
	_, err := os.Stat(filepath.Join(d.marks, hex.EncodeToString(sum[:])))
	return err == nil
}

// compileInterim compiles ins, whose hash is sum, with the interpreter and
// returns it as an interim version of m, its upgrade started in the
// background; nil when ins gets no interim version (see above).
func (m *module) compileInterim(ctx context.Context, ins *wasmbin.Instrumented, sum [sha256.Size]byte) *compiled {
	if len(ins.Bin) < interimMinSize || m.dev.known(sum) {
		return nil
	}
	if interims.Add(1) > maxInterims {
		interims.Add(-1)
		return nil
	}
	upgrading := false
	defer func() {
		if !upgrading {
			interims.Add(-1)
		}
	}()
	rt, err := m.dev.interp()
	if err != nil {
		return nil
	}
	defer relaxGC()()
	c, err := m.compileIn(ctx, rt, ins)
	if err != nil {
		return nil // the compiler's attempt reports it
	}
	upgrading = m.dev.later(func(ctx context.Context) {
		defer interims.Add(-1)
		m.upgrade(ctx, ins, sum, c)
	})
	if !upgrading { // the server is closing
		c.cm.Close(context.Background())
		return nil
	}
	return c
}

// upgrade compiles ins, whose hash is sum, with the compiler and replaces
// interim, m's interim version, with it, unless m was evicted meanwhile.
func (m *module) upgrade(ctx context.Context, ins *wasmbin.Instrumented, sum [sha256.Size]byte, interim *compiled) {
	if ctx.Err() != nil {
		return
	}
	rt, err := m.rt()
	var c *compiled
	if err == nil {
		c, err = m.compileIn(ctx, rt, ins)
	}
	if err != nil {
		if ctx.Err() == nil && m.log != nil {
			m.log.Warn(m.File+": compiling: the interpreter serves on", "err", err)
		}
		return
	}
	m.dev.compiled(sum)
	m.mu.Lock()
	evicted := m.compiled != interim // (evict gave interim up)
	closeInterim := false
	if !evicted {
		m.compiled = c
		closeInterim = interim.retire()
	}
	// Evicted or not, the interim's instances go: those in use during an
	// eviction came back to the pool.
	interim.superseded.Store(true)
	m.mu.Unlock()
	m.pool.drop(interim)
	if evicted {
		c.close()
	}
	if closeInterim {
		interim.close()
	}
}

// relaxGC lets the heap grow to 5× its live size (GOGC=400) until the
// returned function is called, unless GOGC is higher already: the
// interpreter's compilation of a Go guest of 2–3 MiB allocates 60–80 MB,
// most of it its code, kept; at the default pace the heap grows through
// 4–6 collections, ~15% of the compilation's ~70 ms. Calls may overlap:
// the first raises, the last restores.
func relaxGC() func() {
	relaxed.Lock()
	defer relaxed.Unlock()
	if relaxed.n++; relaxed.n == 1 {
		relaxed.old = debug.SetGCPercent(relaxedGCPercent)
		if relaxed.old < 0 || relaxed.old > relaxedGCPercent {
			debug.SetGCPercent(relaxed.old)
		}
	}
	return func() {
		relaxed.Lock()
		defer relaxed.Unlock()
		if relaxed.n--; relaxed.n == 0 {
			debug.SetGCPercent(relaxed.old)
		}
	}
}

const relaxedGCPercent = 400

var relaxed struct {
	sync.Mutex
	n   int // interim compilations running
	old int // the GC percent before the first
}

// background runs f in a goroutine of its own, one such at a time, with a
// context that ends when s closes; Close waits for it. It reports whether
// f will run: not once Close has begun. f runs even if s closes while it
// waits for its turn, with its context ended.
func (s *Server) background(f func(context.Context)) bool {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed {
		return false
	}
	s.warming.Go(func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		select {
		case s.upgrades <- struct{}{}:
			defer func() { <-s.upgrades }()
		case <-ctx.Done():
		}
		f(ctx)
	})
	return true
}
