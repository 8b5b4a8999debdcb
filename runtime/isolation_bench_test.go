package runtime

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/host"
)

// demoRoute loads the demo with limits and returns the server and its
// /api/hello route.
func demoRoute(tb testing.TB, lim Limits) (*Server, *route) {
	tb.Helper()
	return demoRouteIn(tb, demo(tb), lim)
}

// demoTS is the TypeScript demo, which answers as the Go demo does.
const demoTS = "../examples/demo-ts"

// demoRouteIn is demoRoute for the demo in dir.
func demoRouteIn(tb testing.TB, dir string, lim Limits) (*Server, *route) {
	tb.Helper()
	s, err := New(context.Background(), Config{Dir: dir, CacheDir: hostileCacheDir(), Logger: slog.New(slog.DiscardHandler),
		Limits: lim, MaxTenantInstances: max(lim.MaxInstances, 32)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close(context.Background()) })
	for _, r := range s.routes {
		if r.Pattern == "/api/hello" {
			return s, r
		}
	}
	tb.Fatal("no /api/hello")
	return nil, nil
}

// call runs GET on inst directly, as serve does, and checks the answer.
func call(tb testing.TB, inst *instance) {
	rec := httptest.NewRecorder()
	inst.ex.Reset(rec, httptest.NewRequest("GET", "/api/hello", nil), nil)
	err := inst.fns[methodGET].CallWithStack(host.WithExchange(context.Background(), &inst.ex), nil)
	if err == nil {
		err = inst.ex.Finish()
	}
	if err != nil || rec.Code != 200 {
		tb.Fatalf("GET /api/hello = %d, %v", rec.Code, err)
	}
	inst.ex.Reset(nil, nil, nil)
}

// BenchmarkIsolation compares the demo's Go GET /api/hello in each isolation
// mode with a native handler writing the same bytes, in one run, and times
// the ways to fresh state on their own:
//
//   - native, instance, request: ServeHTTP, in process;
//   - reset: putting an instance that served a request back to its
//     snapshot (the pages it wrote, its globals), the mechanism request
//     isolation adds to every request;
//   - restore: a new instance from the snapshot, closed again;
//   - initialize: a new instance of the module as built, running its data
//     segments and _initialize (what fresh state costs without a snapshot).
func BenchmarkIsolation(b *testing.B) {
	const body = `{"message":"hello"}`
	native := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	})
	instance, _ := demoRoute(b, Limits{Isolation: IsolationInstance})
	request, r := demoRoute(b, Limits{Isolation: IsolationRequest})
	tsInstance, _ := demoRouteIn(b, demoTS, Limits{Isolation: IsolationInstance})
	tsRequest, _ := demoRouteIn(b, demoTS, Limits{Isolation: IsolationRequest})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"native", native}, {"instance", instance}, {"request", request}, {"ts-instance", tsInstance}, {"ts-request", tsRequest}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api/hello", nil)
			rec := httptest.NewRecorder()
			bc.h.ServeHTTP(rec, req) // warm: instantiate outside the timed loop
			if rec.Code != 200 || rec.Body.String() != body {
				b.Fatalf("GET /api/hello = %d %q, want 200 %q", rec.Code, rec.Body, body)
			}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}

	inst, err := r.pool.get(context.Background(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	call(b, inst)
	b.Run("reset", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !inst.reset() {
				b.Fatal("reset failed")
			}
		}
	})
	r.pool.put(inst, false)

	c, err := r.compile(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	cfg := r.cfg // the route's: clocks, randomness, environment
	b.Run("restore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			inst, err := c.newInstance(context.Background(), cfg, r.methods)
			if err != nil {
				b.Fatal(err)
			}
			inst.close()
		}
	})
	bin, err := r.root.ReadFile(r.path)
	if err != nil {
		b.Fatal(err)
	}
	cm, err := c.rt.CompileModule(context.Background(), bin)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("initialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			inst, err := instantiate(context.Background(), c.rt, cm, cfg.WithStartFunctions(abi.ExportInitialize), r.methods)
			if err != nil {
				b.Fatal(err)
			}
			inst.close()
		}
	})
}
