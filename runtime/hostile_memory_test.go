package runtime

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

// TestHostileMemoryBound checks that the operator's memory limit bounds
// what the process grows by per instance: 8 hog guests at once, each
// holding all the linear memory (written to every page) and all the table
// entries its maxMemory of 64 MiB allows, while a healthy route of another
// tenant keeps answering. Each instance may hold its linear memory
// (maxMemory), its tables (maxMemory/64 entries of 8 bytes, plus Go's
// slack when a slice grows) and a little host-side state; the test allows
// 1.25 × maxMemory an instance and logs what it measured.
func TestHostileMemoryBound(t *testing.T) {
	const (
		instances = 8
		maxMemory = 64 << 20
	)
	dir := t.TempDir()
	hostileAddRoute(t, filepath.Join(dir, "hog"), "hog", filepath.Join("..", "testdata", "hostile", "wat", "hog.wasm"),
		fmt.Sprintf(`{"maxMemory": "64MiB", "maxInstances": %d}`, instances))
	hostileAddRoute(t, filepath.Join(dir, "other"), "healthy", filepath.Join("..", "testdata", "wat", "hello.wasm"), "")
	e := &connEnv{srv: serveTenantsDir(t, dir, Config{})}
	client := &http.Client{Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	if status, body, err := e.get(context.Background(), client, "other", "/healthy"); err != nil || status != 200 || body != "hello" {
		t.Fatalf("healthy: %d %q %v", status, body, err)
	}

	goruntime.GC()
	before := hostileRSS()
	peak := before
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak = max(peak, hostileRSS())
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	bodies := make([]string, instances)
	for i := range instances {
		wg.Go(func() {
			status, body, err := e.get(context.Background(), client, "hog", "/hog")
			if err != nil || status != 200 || len(body) != 8 {
				t.Errorf("hog %d: %d %q, err %v; want 200 and two sizes", i, status, body, err)
				return
			}
			bodies[i] = body
		})
	}
	healthyMax := time.Second
	if raceEnabled {
		healthyMax = 2 * time.Second // 8 hogs filling 64 MiB each, all race-checked, on 2 cores
	}
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		start := time.Now()
		if status, body, err := e.get(context.Background(), client, "other", "/healthy"); err != nil || status != 200 || body != "hello" || time.Since(start) > healthyMax {
			t.Errorf("healthy beside the hogs: %d %q in %v, err %v; want 200 \"hello\" within %v", status, body, time.Since(start), err, healthyMax)
		}
	}
	wg.Wait()
	close(stop)
	<-sampled
	for i, body := range bodies {
		if body == "" {
			continue
		}
		pages, entries := binary.LittleEndian.Uint32([]byte(body)), binary.LittleEndian.Uint32([]byte(body)[4:])
		if pages*wasmPageSize != maxMemory || entries != maxMemory/64 {
			t.Errorf("hog %d held %d pages and %d table entries; want %d and %d", i, pages, entries, maxMemory/wasmPageSize, maxMemory/64)
		}
	}
	grew := int64(peak) - int64(before)
	perInstance := float64(grew) / instances
	t.Logf("%d hogs at maxMemory 64 MiB: RSS %s → peak %s, %.1f MiB an instance (%.2f × maxMemory)",
		instances, hostileMiB(before), hostileMiB(peak), perInstance/(1<<20), perInstance/maxMemory)
	bound := 1.25
	if raceEnabled {
		bound = 2 // the race detector shadows the Go heap, where the tables are
	}
	if perInstance > bound*maxMemory {
		t.Errorf("the process grew by %.1f MiB an instance, more than %.2f × maxMemory", perInstance/(1<<20), bound)
	}
	if perInstance < 0.9*maxMemory {
		t.Errorf("the process grew by only %.1f MiB an instance: the hogs did not take their memory, the test shows nothing", perInstance/(1<<20))
	}
}

// TestHostileDeepStackKept checks that an instance whose request went deep
// (past an eighth of its stack budget, not past the budget) answers, and
// is then not kept: wazero keeps the stack it grew for the method as long
// as the instance lives, so a pooled instance would hold it. deepok counts
// the requests its instance served: shallow POSTs count on, and after a
// deep GET the count starts over on a new instance.
func TestHostileDeepStackKept(t *testing.T) {
	dir := t.TempDir()
	hostileAddRoute(t, filepath.Join(dir, "deep"), "deepok", filepath.Join("..", "testdata", "hostile", "wat", "deepok.wasm"),
		`{"maxMemory": "64MiB", "maxInstances": 1}`)
	hostileAddRoute(t, filepath.Join(dir, "other"), "healthy", filepath.Join("..", "testdata", "wat", "hello.wasm"), "")
	srv := serveTenantsDir(t, dir, Config{})
	client := srv.Client()
	var got []string
	for _, method := range []string{"POST", "POST", "GET", "POST", "POST"} {
		req, _ := http.NewRequest(method, srv.URL+"/deepok", nil)
		req.Host = "deep." + hostileDomain
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got = append(got, fmt.Sprintf("%s %d %s", method, res.StatusCode, b))
		e := &connEnv{srv: srv}
		if status, body, err := e.get(context.Background(), client, "other", "/healthy"); err != nil || status != 200 || body != "hello" {
			t.Errorf("healthy after %s: %d %q, err %v", method, status, body, err)
		}
	}
	want := []string{"POST 200 1", "POST 200 2", "GET 200 3", "POST 200 1", "POST 200 2"}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}
