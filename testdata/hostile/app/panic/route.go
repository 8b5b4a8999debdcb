//go:build wasip1

// panic attempts to leak its Go panic (message and stack) to the client:
// GET sets a header and a status, then panics.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		w.SetHeader("Set-Cookie", "session=stolen")
		w.Status(202)
		panic("hostile panic: this text must reach the log, never the client")
	})
}

func main() {}
