//go:build wasip1

// GET /docs/a/b/c answers {"path":["a","b","c"]}: a catch-all takes one or
// more segments, so /docs itself is a 404.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() { route.Serve(docs) }

func docs(w *route.Response, r *route.Request) {
	w.JSON(200, map[string][]string{"path": r.ParamValues("path")})
}

func main() {}
