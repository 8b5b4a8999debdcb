//go:build wasip1

// GET /blog/new answers "new post". This static folder sits beside
// app/blog/[slug] and wins over it for /blog/new.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() { route.Serve(newPost) }

func newPost(w *route.Response, r *route.Request) {
	w.Text(200, "new post")
}

func main() {}
