package wasmbin

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/wasmroute/wasmroute/internal/build"
	"github.com/wasmroute/wasmroute/internal/routes"
)

var (
	demoOnce sync.Once
	demoErr  error
)

// demo builds examples/demo's route.go sources once per test binary (as
// the runtime's tests do: the build is locked across test binaries).
func demo(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join("..", "..", "examples", "demo")
	demoOnce.Do(func() {
		folders, err := routes.Scan(dir)
		if err != nil {
			demoErr = err
			return
		}
		var dirs []string
		for _, f := range folders {
			dirs = append(dirs, f.Dir)
		}
		demoErr = build.Go(context.Background(), dir, dirs, nil)
	})
	if demoErr != nil {
		tb.Fatal(demoErr)
	}
	return dir
}

// testCacheDir is the compilation cache the runtime's hostile suite keeps
// (runtime.hostileCacheDir): the demo's Go modules compile once across
// test binaries and runs.
func testCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "wasmroute", "test-hostile")
}

// cachedRuntime returns a runtime compiling through the test cache
// runtime's tests share (testCacheDir), so that the demo's Go modules compile once across test runs.
func cachedRuntime(t *testing.T) wazero.Runtime {
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(testCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	t.Cleanup(func() { rt.Close(ctx); cache.Close(ctx) })
	return rt
}

// fuzzTransform fuzzes a module transformation from the WAT fixtures.
func fuzzTransform(f *testing.F, transform func([]byte) ([]byte, error)) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "wat", "*.wasm"))
	for _, file := range files {
		if bin, err := os.ReadFile(file); err == nil {
			f.Add(bin)
		}
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { rt.Close(ctx) })
	f.Fuzz(func(t *testing.T, bin []byte) {
		out, err := transform(bin)
		if err != nil {
			return
		}
		// wazero allocates by the counts it reads: only what the server
		// would hand it (checkModule) may reach it, else the fuzzer finds
		// wazero's out-of-memory, not ours.
		if _, err := checkModule(bin); err != nil {
			return
		}
		if cm, err := rt.CompileModule(ctx, bin); err == nil {
			cm.Close(ctx)
			cm, err := rt.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("wazero accepts the module but not its transformed form: %v", err)
			}
			cm.Close(ctx)
		}
	})
}
