//go:build wasip1

// GET /api/crash panics. The runtime answers 500 with an empty body, logs the
// panic with the route and the guest's stack, and discards the instance.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() { route.Serve(crash) }

func crash(w *route.Response, r *route.Request) {
	panic("crash on purpose")
}

func main() {}
