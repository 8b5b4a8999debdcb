//go:build wasip1

// GET /api/hello answers {"message":"hello"}.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() { route.Serve(hello) }

func hello(w *route.Response, r *route.Request) {
	w.JSON(200, map[string]string{"message": "hello"})
}

func main() {}
