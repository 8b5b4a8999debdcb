//go:build wasip1

// This route is never served: a folder whose name starts with _ is private,
// and it and everything under it stay out of the route table. GET
// /_lib/secret is a 404. (A URL segment that really starts with _ is written
// %5F in the folder name: app/%5Fwell answers /_well.)
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() { route.Serve(secret) }

func secret(w *route.Response, r *route.Request) {
	w.JSON(200, map[string]string{"secret": "if you can read this, private folders are routed"})
}

func main() {}
