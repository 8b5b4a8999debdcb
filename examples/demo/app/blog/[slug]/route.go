//go:build wasip1

// GET /blog/<slug> answers {"slug":"<slug>"}: one dynamic segment. The
// handler lives in internal/handlers, where it is unit-tested natively; a
// folder named [slug] cannot hold a file that builds natively.
package main

import (
	"github.com/wasmroute/wasmroute/examples/demo/internal/handlers"
	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() { route.Serve(handlers.Slug) }

func main() {}
