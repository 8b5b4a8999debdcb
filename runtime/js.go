package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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

// engine is the JavaScript engine compiled for one runtime.
type engine struct {
	mu   sync.Mutex
	code *code
}

// engine returns the engine compiled for the runtime of k, compiling it on
// first use. A failure is not kept: the engine is ours, so only a cut short
// compilation can fail, and the next route tries again.
func (s *Server) engine(ctx context.Context, k runtimeKey, maxMemory int64) (*code, error) {
	s.rtMu.Lock()
	e := s.engines[k]
	if e == nil {
		e = &engine{}
		s.engines[k] = e
	}
	s.rtMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.code != nil {
		return e.code, nil
	}
	rt, err := s.runtime(ctx, k)
	if err != nil {
		return nil, err
	}
	bin, err := wasmbin.Prepare(jsengine.Wasm(), maxMemory)
	if err != nil {
		return nil, fmt.Errorf("the JavaScript engine: %w", err)
	}
	ins, err := wasmbin.Instrument(bin, stackBudget(maxMemory))
	if err != nil {
		return nil, fmt.Errorf("the JavaScript engine: %w", err)
	}
	var noSnapshot error
	c, err := compileCode(ctx, rt, ins, func(reason error) { noSnapshot = reason })
	if err != nil {
		return nil, fmt.Errorf("the JavaScript engine: %w", err)
	}
	if noSnapshot != nil {
		c.cm.Close(context.Background())
		return nil, fmt.Errorf("the JavaScript engine cannot be snapshotted: %w", noSnapshot)
	}
	e.code = c
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

// compileJS takes the snapshot of a JavaScript route: the engine,
// initialized with the route's init input.
func (m *module) compileJS(ctx context.Context) (*compiled, error) {
	rt, err := m.rt()
	if err != nil {
		return nil, err
	}
	code, err := m.engine(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := m.snapshot(ctx, rt, code, m.cfg.WithStdin(bytes.NewReader(m.js.Input())))
	if err != nil {
		return nil, err
	}
	return &compiled{rt: rt, cm: code.cm, snap: snap, resettable: code.resettable, shared: true}, nil
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
		switch {
		case conf.MaxDuration != 0:
			errs = append(errs, fmt.Sprintf("%s: exports maxDuration and %s sets it too: keep one", file, confFile))
		case len(Limits{MaxDuration: d}.above(s.ceiling)) > 0:
			errs = append(errs, fmt.Sprintf("%s: maxDuration %v is above the operator's ceiling of %v", file, d, s.ceiling.MaxDuration))
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
		{"dynamic", cfg.Dynamic != ""},
		{"revalidate", cfg.Revalidate != nil},
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
