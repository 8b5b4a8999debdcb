package runtime

// Hostile module binaries: modules that attack the host itself, through
// wazero's decoder and the allocations the host makes for a guest, rather
// than the sandbox (testdata/hostile/README.md, "Module binaries").

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileModules serves, as wasmroute serve --tenants does (checked at
// load, compiled later), modules that once killed the process: 2^32-1
// function bodies, 2^32-1 locals, a table of 50,000,000 entries, and
// table.grow by 0xFFFFFFF0. Each refused route answers 500 with its reason
// logged, table.grow fails as the spec says (-1), the healthy routes of
// the same tenant and of another keep answering, and repeated rounds do
// not grow the heap.
func TestHostileModules(t *testing.T) {
	wat := filepath.Join("..", "testdata", "hostile", "wat")
	e := newHostileEnvWith(t, hostileOptions{lazy: true, routes: func(t *testing.T, dir string) {
		hostile := filepath.Join(dir, "hostile")
		hostileAddRoute(t, hostile, "bodies", filepath.Join(wat, "bodies.wasm"), "")
		hostileAddRoute(t, hostile, "locals", filepath.Join(wat, "locals.wasm"), "")
		hostileAddRoute(t, hostile, "bigtable", filepath.Join(wat, "bigtable.wasm"), "")
		hostileAddRoute(t, hostile, "tablegrow", filepath.Join(wat, "tablegrow.wasm"), `{"maxMemory": "64MiB"}`)
	}}, "none")
	p := e.probe(hostileHealthy...)
	refused := []struct{ route, reason string }{
		{"bodies", "code section declares 4294967295 function bodies in 1 bytes"},
		{"locals", "code section: function 0 declares at least 4294967295 locals, parameters included; the limit is 50000"},
		{"bigtable", "table section: table 0 starts with 50000000 entries, more than the limit of 10000000"},
	}
	for round := range 3 {
		for _, tc := range refused {
			before := len(e.logs.String())
			a := e.get("hostile", "/"+tc.route)
			if a.err != nil || a.status != 500 || len(a.body) != 0 {
				t.Errorf("round %d: GET /%s: %d %q, err %v; want 500, empty", round, tc.route, a.status, a.body, a.err)
			}
			if hostileLogLine(e.logSince(before), "app/"+tc.route+"/route.wasm: "+tc.reason) == "" {
				t.Errorf("round %d: GET /%s: the log lacks %q:\n%s", round, tc.route, tc.reason, e.logSince(before))
			}
			e.healthy(t)
		}
	}

	// What serve runs in the background after loading: every problem
	// reported, every other route compiled.
	err := e.tenants.Server("hostile").CompileAll(context.Background())
	var le *LoadError
	if !errors.As(err, &le) || len(le.Problems) != len(refused) {
		t.Errorf("CompileAll: %v, want the %d refused modules", err, len(refused))
	} else {
		for _, tc := range refused {
			if !strings.Contains(err.Error(), "app/"+tc.route+"/route.wasm: "+tc.reason) {
				t.Errorf("CompileAll: %v lacks %q", err, tc.reason)
			}
		}
	}

	// table.grow under maxMemory 64MiB: the table may hold 64MiB/64 entries.
	i32 := func(a hostileAnswer) int32 {
		if a.err != nil || a.status != 200 || len(a.body) != 4 {
			t.Fatalf("tablegrow: %d %q, err %v; want 200 and 4 bytes", a.status, a.body, a.err)
		}
		return int32(binary.LittleEndian.Uint32(a.body))
	}
	heap0 := hostileHeap()
	if got := i32(e.get("hostile", "/tablegrow")); got != -1 {
		t.Errorf("table.grow by 0xFFFFFFF0 returned %d, want -1", got)
	}
	const cap64 = (64 << 20) / 64
	if got := i32(e.call(context.Background(), "hostile", "POST", "/tablegrow", nil, 0)); got != cap64 {
		t.Errorf("the table grew to %d entries, want %d", got, cap64)
	}
	heap1 := hostileHeap()
	for range 10 {
		i32(e.get("hostile", "/tablegrow"))
		i32(e.call(context.Background(), "hostile", "POST", "/tablegrow", nil, 0))
		e.healthy(t)
	}
	heap2 := hostileHeap()
	t.Logf("heap: %s before tablegrow, %s after its table reached %d entries, %s after 10 more rounds",
		hostileMiB(heap0), hostileMiB(heap1), cap64, hostileMiB(heap2))
	if heap1 > heap0+24<<20 {
		t.Errorf("the heap grew by %s with one table at its cap of %d entries (8 MiB)", hostileMiB(heap1-heap0), cap64)
	}
	if heap2 > heap1+4<<20 {
		t.Errorf("the heap grew by %s over 10 rounds", hostileMiB(heap2-heap1))
	}
	p.check(t)
}
