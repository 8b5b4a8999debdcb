//go:build wasip1

// env attempts to read the host's environment (secrets, paths): GET answers
// os.Environ() as a JSON array.
package main

import (
	"os"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		env := os.Environ()
		if env == nil {
			env = []string{}
		}
		w.JSON(200, env)
	})
}

func main() {}
