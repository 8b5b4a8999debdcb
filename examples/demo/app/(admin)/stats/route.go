//go:build wasip1

// GET /stats answers a little JSON about this instance. The (admin) folder is
// a route group: it organizes the tree and is left out of the URL.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

// served counts the requests this instance has answered. Instances are
// pooled and reused, so it grows, but each instance has its own.
var served int

//go:wasmexport GET
func get() { route.Serve(stats) }

func stats(w *route.Response, r *route.Request) {
	served++
	w.JSON(200, map[string]any{"group": "(admin)", "servedByThisInstance": served})
}

func main() {}
