//go:build wasip1

// GET /api/stream answers five server-sent events, data: 0 to data: 4, 200 ms
// apart, each flushed: the client sees every event when it is written, not
// when the handler returns.
package main

import (
	"time"

	"github.com/wasmroute/wasmroute/examples/demo/internal/handlers"
	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() { route.Serve(handlers.Stream(200 * time.Millisecond)) }

func main() {}
