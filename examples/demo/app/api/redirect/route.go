//go:build wasip1

// GET /api/redirect answers 307 with Location: /api/hello.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() { route.Serve(redirect) }

func redirect(w *route.Response, r *route.Request) {
	w.Redirect("/api/hello")
}

func main() {}
