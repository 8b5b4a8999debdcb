//go:build wasip1

// sleepthenok holds its only instance (route.json: maxInstances 1) on
// demand: GET ?sleep=1 sleeps for an hour, ?panic=1 panics, and otherwise
// it answers "ok" at once, proving the instance slot is free.
package main

import (
	"time"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		q := r.Query()
		if q.Get("sleep") == "1" {
			time.Sleep(time.Hour)
		}
		if q.Get("panic") == "1" {
			panic("sleepthenok: panic requested")
		}
		w.WriteString("ok")
	})
}

func main() {}
