package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkServeStart measures wasmroute serve of examples/demo, from
// starting the process to the first answer of GET /api/hello: cold (an empty
// compilation cache) and warm (a filled one). The routes are built already
// (--no-build), as on a restart; "warm+build" also lets serve ask the go
// command whether each route is up to date. As a baseline, "exec" starts the binary and
// waits for it to print its usage: the cost of starting any process.
func BenchmarkServeStart(b *testing.B) {
	warm := b.TempDir()
	first := start(b, "--no-build", "--cache-dir", warm, demo) // fills the cache
	first.cmd.Process.Kill()
	first.cmd.Wait()

	b.Run("exec", func(b *testing.B) {
		for b.Loop() {
			exec.Command(binary, "help").Run()
		}
	})
	for _, bc := range []struct {
		name  string
		build bool
		cache func() string
	}{
		{"cold", false, func() string { return b.TempDir() }},
		{"warm", false, func() string { return warm }},
		{"warm+build", true, func() string { return warm }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				args := []string{"--cache-dir", bc.cache(), demo}
				if !bc.build {
					args = append(args, "--no-build")
				}
				s := start(b, args...)
				for {
					res, err := http.Get(s.url + "/api/hello")
					if err == nil {
						res.Body.Close()
						if res.StatusCode == 200 {
							break
						}
					}
					time.Sleep(time.Millisecond)
				}
				s.cmd.Process.Kill()
				s.cmd.Wait()
			}
		})
	}
}

// BenchmarkServeStartJS measures TypeScript routes from a warm cache (the
// compiled engine and the bundles, filled by a first start):
//
//   - demo-ts: from starting the process to the first 200 of the TypeScript
//     demo's /api/hello; first-request-ms is that request's own latency,
//     asked as soon as serve says it listens (the engine's platform snapshot,
//     the route's snapshot, the request);
//   - 1000-routes: the same for a project of 1,000 route.ts files, one
//     request to one of them.
func BenchmarkServeStartJS(b *testing.B) {
	many := b.TempDir()
	for i := range 1000 {
		dir := filepath.Join(many, "app", fmt.Sprintf("r%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		src := fmt.Sprintf("export function GET() { return Response.json({ route: %d }) }\n", i)
		if err := os.WriteFile(filepath.Join(dir, "route.ts"), []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct{ name, dir, path string }{
		{"demo-ts", demoTS, "/api/hello"},
		{"1000-routes", many, "/r500"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			warm := b.TempDir()
			first := start(b, "--cache-dir", warm, bc.dir)
			get(b, first.url+bc.path)
			first.cmd.Process.Kill()
			first.cmd.Wait()
			var firstRequest time.Duration
			for b.Loop() {
				s := start(b, "--cache-dir", warm, bc.dir)
				t := time.Now()
				get(b, s.url+bc.path)
				firstRequest += time.Since(t)
				s.cmd.Process.Kill()
				s.cmd.Wait()
			}
			b.ReportMetric(float64(firstRequest.Milliseconds())/float64(b.N), "first-request-ms")
		})
	}
}

// get asks url until it answers 200.
func get(b *testing.B, url string) {
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
			b.Fatalf("GET %s: %d", url, res.StatusCode)
		}
		time.Sleep(time.Millisecond)
	}
}
