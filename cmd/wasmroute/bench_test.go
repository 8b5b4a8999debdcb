package main

import (
	"net/http"
	"os/exec"
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
