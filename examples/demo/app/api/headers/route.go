//go:build wasip1

// GET /api/headers answers the X-Demo request header: {"x-demo":"42"}.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() { route.Serve(headers) }

func headers(w *route.Response, r *route.Request) {
	w.JSON(200, map[string]string{"x-demo": r.Header("X-Demo")})
}

func main() {}
