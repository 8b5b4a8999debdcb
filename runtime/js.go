package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmroute/wasmroute/internal/jsbuild"
	"github.com/wasmroute/wasmroute/internal/jsengine"
	"github.com/wasmroute/wasmroute/internal/wasmbin"
)

// JavaScript and TypeScript routes (app/**/route.ts, route.js) all run in
// one module, the engine of package jsengine (QuickJS), compiled once per
// wazero runtime and shared by every such route. What makes a route is its
// init input (package jsbuild: the platform script and the route's bundle),
// which the engine reads from stdin during its initialization: the
// snapshot taken afterwards holds the route's evaluated JavaScript heap, and
// every instance of the route starts from it.

// engine is the JavaScript engine compiled for one runtime, and the
// snapshot of its initialization with the platform script evaluated, from
// which every JavaScript route of the runtime loads its bundle.
type engine struct {
	mu   sync.Mutex
	code *code
	base *snapshot
}

// loadExport is the engine's export that evaluates more init input on top
// of base (internal/jsengine/CONTRACT.md).
const loadExport = "wasmroute_load"

// maxEngineInit bounds the engine's initialization with the platform: it
// takes tens of milliseconds.
const maxEngineInit = time.Minute

// engine returns the engine of the runtime of k, compiling and initializing
// it on first use. A failure is not kept: the engine is ours, so only a
// cut short compilation can fail, and the next route tries again.
func (s *Server) engine(ctx context.Context, k runtimeKey, maxMemory int64) (*engine, error) {
	s.rtMu.Lock()
	e := s.engines[k]
	if e == nil {
		e = &engine{}
		s.engines[k] = e
	}
	s.rtMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.base != nil {
		return e, nil
	}
	rt, err := s.runtime(ctx, k)
	if err != nil {
		return nil, err
	}
	if e.code == nil {
		if e.code, err = compileEngine(ctx, rt, maxMemory); err != nil {
			return nil, fmt.Errorf("the JavaScript engine: %w", err)
		}
	}
	platform, err := jsbuild.Platform()
	if err != nil {
		return nil, err
	}
	input := jsbuild.PlatformInput(platform)
	file := s.baseFile(e.code, input)
	if e.base = readBase(file, e.code.rw.Globals, maxMemory); e.base != nil {
		return e, nil
	}
	ictx, cancel := context.WithTimeout(ctx, maxEngineInit)
	defer cancel()
	if e.base, err = takeSnapshot(ictx, rt, e.code.cm, moduleConfig().WithStdin(bytes.NewReader(input)), e.code.rw); err != nil {
		return nil, fmt.Errorf("the JavaScript engine: initialization failed: %w", err)
	}
	if file != "" {
		if err := writeBase(ctx, file, rt, e); err != nil {
			s.log.Warn("the JavaScript engine: keeping its snapshot", "file", file, "err", err)
		}
	}
	return e, nil
}

// The engine's base snapshot is kept on disk beside the compiled code:
// evaluating the platform takes ~40 ms, most of a JavaScript route's first
// request after a restart. The file is named by the SHA-256 of the engine
// as compiled and of the platform input, and holds the snapshot's memory
// and globals and the SHA-256 of both, so a file cut short or changed is
// not used:
//
//	"wasmroute-base-v1\n" | u32 pages | u32 globals | u64 global… | memory | sha256
const baseMagic = "wasmroute-base-v1\n"

// baseFile is where the base snapshot of code initialized with input is
// kept, or "" without a cache folder.
func (s *Server) baseFile(code *code, input []byte) string {
	if s.cfg.CacheDir == "" {
		return ""
	}
	h := sha256.New()
	h.Write(code.rw.Bin)
	h.Write(input)
	return filepath.Join(s.cfg.CacheDir, "jsengine-v1", hex.EncodeToString(h.Sum(nil))+".snap")
}

// readBase returns the base snapshot kept in file, or nil if there is none
// fit to use: globals are the names of the engine's mutable globals.
func readBase(file string, globals []string, maxMemory int64) *snapshot {
	if file == "" {
		return nil
	}
	b, err := os.ReadFile(file)
	head := len(baseMagic) + 8
	if err != nil || len(b) < head+sha256.Size || string(b[:len(baseMagic)]) != baseMagic {
		return nil
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil
	}
	pages := binary.LittleEndian.Uint32(body[len(baseMagic):])
	n := int(binary.LittleEndian.Uint32(body[len(baseMagic)+4:]))
	if n != len(globals) || int64(pages)*wasmPageSize > maxMemory || len(body) != head+8*n+int(pages)*wasmPageSize {
		return nil
	}
	snap := &snapshot{pages: pages, names: globals, globals: make([]uint64, n)}
	for i := range snap.globals {
		snap.globals[i] = binary.LittleEndian.Uint64(body[head+8*i:])
	}
	if snap.img, err = newImage(body[head+8*n:]); err != nil {
		return nil
	}
	return snap
}

// writeBase keeps e's base snapshot in file, read from an instance of it.
func writeBase(ctx context.Context, file string, rt wazero.Runtime, e *engine) error {
	inst, err := e.base.instantiate(ctx, rt, e.code.cm, moduleConfig(), methodSet{})
	if err != nil {
		return err
	}
	defer inst.close()
	mem := inst.mod.Memory()
	buf, ok := mem.Read(0, mem.Size())
	if !ok {
		return errors.New("cannot read the memory")
	}
	b := binary.LittleEndian.AppendUint32([]byte(baseMagic), e.base.pages)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.base.globals)))
	for _, g := range e.base.globals {
		b = binary.LittleEndian.AppendUint64(b, g)
	}
	b = append(b, buf...)
	sum := sha256.Sum256(b)
	b = append(b, sum[:]...)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// warmEngines compiles and initializes the engine of every JavaScript
// route's runtime in the background, so that a lazily compiled route's
// first request pays only for loading its own bundle.
func (s *Server) warmEngines() {
	keys := map[runtimeKey]bool{}
	for _, r := range s.routes {
		if r.js == nil {
			continue
		}
		k := runtimeKey{pages: uint32(r.limits.MaxMemory / wasmPageSize)}
		if keys[k] {
			continue
		}
		keys[k] = true
		s.warming.Go(func() {
			if _, err := r.engine(context.Background()); err != nil {
				s.log.Warn("the JavaScript engine", "err", err) // the route's first request says it again
			}
		})
	}
}

// compileEngine checks, instruments and compiles the engine for rt, whose
// memory limit is maxMemory.
func compileEngine(ctx context.Context, rt wazero.Runtime, maxMemory int64) (*code, error) {
	bin, err := wasmbin.Prepare(jsengine.Wasm(), maxMemory)
	if err != nil {
		return nil, err
	}
	ins, err := wasmbin.Instrument(bin, stackBudget(maxMemory))
	if err != nil {
		return nil, err
	}
	var noSnapshot error
	c, err := compileCode(ctx, rt, ins, func(reason error) { noSnapshot = reason })
	if err != nil {
		return nil, err
	}
	if noSnapshot != nil {
		c.cm.Close(context.Background())
		return nil, fmt.Errorf("cannot be snapshotted: %w", noSnapshot)
	}
	return c, nil
}

// engineInfo is the engine module's exports and imports, as load checks
// every module's.
var engineInfo = sync.OnceValues(func() (*wasmbin.Info, error) {
	info, err := wasmbin.Parse(jsengine.Wasm())
	if err != nil {
		return nil, fmt.Errorf("the JavaScript engine: %w", err)
	}
	if _, errs, _ := check(info); len(errs) > 0 {
		return nil, fmt.Errorf("the JavaScript engine: %v", errs)
	}
	return info, nil
})

// compileJS takes the snapshot of a JavaScript route: an instance of the
// engine's base snapshot that has evaluated the route's bundle.
func (m *module) compileJS(ctx context.Context) (*compiled, error) {
	rt, err := m.rt()
	if err != nil {
		return nil, err
	}
	e, err := m.engine(ctx)
	if err != nil {
		return nil, err
	}
	ictx, cancel := context.WithTimeout(ctx, m.limits.MaxDuration) // bounded like a request
	defer cancel()
	inst, err := e.base.instantiate(ictx, rt, e.code.cm, m.cfg.WithStdin(bytes.NewReader(m.js.RouteInput())), methodSet{})
	if err != nil {
		return nil, fmt.Errorf("initialization failed: %w", err)
	}
	defer inst.close()
	load := inst.mod.ExportedFunction(loadExport)
	if load == nil {
		return nil, fmt.Errorf("the JavaScript engine exports no %s", loadExport)
	}
	if _, err := load.Call(ictx); err != nil {
		return nil, fmt.Errorf("initialization failed: %w", withOutput(err, inst.out))
	}
	snap, err := inst.snapshot()
	if err != nil {
		return nil, err
	}
	return &compiled{rt: rt, cm: e.code.cm, snap: snap, resettable: e.code.resettable, shared: true}, nil
}

// bundle builds the JavaScript route file and applies its segment config
// (export const maxDuration = …) to limits. conf is the route's route.json,
// read from confFile.
func (s *Server) bundle(ctx context.Context, file, confFile string, conf fileConfig, limits *Limits) (b *jsbuild.Bundle, errs, warns []string) {
	build := func() (*jsbuild.Bundle, error) {
		if s.cfg.IsolateBuilds {
			return jsbuild.BuildInChild(ctx, s.cfg.Dir, file)
		}
		return jsbuild.Build(s.cfg.Dir, file)
	}
	var err error
	if s.cfg.CacheDir != "" {
		b, err = jsbuild.NewCache(s.cfg.CacheDir).Build(s.cfg.Dir, file, build)
	} else {
		b, err = build()
	}
	if err != nil {
		var be *jsbuild.BuildError
		if errors.As(err, &be) {
			return nil, be.Messages, nil
		}
		return nil, []string{fmt.Sprintf("%s: %v", file, err)}, nil
	}
	warns = b.Warnings
	cfg := b.Config
	if cfg.MaxDuration > 0 {
		d := time.Duration(cfg.MaxDuration * float64(time.Second))
		over := Limits{MaxDuration: d}.above(s.ceiling)
		switch {
		case conf.MaxDuration != 0:
			errs = append(errs, fmt.Sprintf("%s: exports maxDuration and %s sets it too: keep one", file, confFile))
		case len(over) > 0:
			errs = append(errs, file+": "+over[0])
		default:
			limits.MaxDuration = d
		}
	}
	// The rest of the segment config is for features still to come: say
	// so rather than ignore it silently.
	for _, c := range []struct {
		name string
		set  bool
	}{
		{"fetchCache", cfg.FetchCache != ""},
		{"preferredRegion", cfg.PreferredRegion != nil},
		{"dynamicParams", cfg.DynamicParams != nil},
		{"runtime", cfg.Runtime != ""},
	} {
		if c.set {
			warns = append(warns, fmt.Sprintf("%s: export const %s is not acted on yet: every request runs the handler, in wasmroute's sandbox", file, c.name))
		}
	}
	return b, errs, warns
}

// ServeBuildChild makes the process a child that bundles one JavaScript
// route when Config.IsolateBuilds started it, and returns at once
// otherwise. A program that sets IsolateBuilds, or serves Tenants, calls it
// first thing in main.
func ServeBuildChild() { jsbuild.ServeChild() }

// jsMethods is the method set of a JavaScript route: Next.js's seven at
// most (methods beyond them are for WebAssembly modules), and the exports
// that look like methods but are not served.
func jsMethods(b *jsbuild.Bundle) methodSet {
	var s methodSet
	for _, name := range b.Methods {
		s.std |= 1 << methodIndex[name]
	}
	for _, name := range b.Exports {
		if _, lower := methodIndex[strings.ToUpper(name)]; name == "default" || lower && !slices.Contains(b.Methods, name) {
			s.misnamed = append(s.misnamed, name)
		}
	}
	return s
}
