//go:build wasip1

// exit attempts to take the server down with it: GET calls os.Exit(3), or
// os.Exit(N) for ?code=N after writing "bye" (a clean exit with ?code=0).
package main

import (
	"os"
	"strconv"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		code := 3
		if c := r.Query().Get("code"); c != "" {
			code, _ = strconv.Atoi(c)
			w.WriteString("bye")
		}
		os.Exit(code)
	})
}

func main() {}
