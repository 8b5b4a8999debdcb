//go:build wasip1

// output attempts to flood the host's log: GET prints 1 MiB to stdout (1,024
// lines of 1 KiB of 'Q') and a little to stderr, then answers 200.
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		line := append(bytes.Repeat([]byte("Q"), 1023), '\n')
		for range 1024 {
			os.Stdout.Write(line)
		}
		fmt.Fprintln(os.Stderr, "output: done")
		w.WriteString("printed")
	})
}

func main() {}
