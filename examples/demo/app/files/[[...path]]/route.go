//go:build wasip1

// GET /files/x/y answers {"path":["x","y"]} and GET /files {"path":[]}: an
// optional catch-all takes zero or more segments.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() { route.Serve(files) }

func files(w *route.Response, r *route.Request) {
	// ParamValues is an empty, non-nil slice when nothing matched: [] in JSON.
	w.JSON(200, map[string][]string{"path": r.ParamValues("path")})
}

func main() {}
