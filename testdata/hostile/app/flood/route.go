//go:build wasip1

// flood attempts to exhaust the host's memory or bandwidth with an endless
// response: GET writes 64 KiB chunks until a write fails, tries a 1-byte
// write, and prints what happened to stdout.
package main

import (
	"bytes"
	"fmt"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		chunk := bytes.Repeat([]byte("F"), 64<<10)
		written := 0
		for {
			n, err := w.Write(chunk)
			written += n
			if err != nil {
				_, again := w.Write([]byte("F"))
				fmt.Printf("flood: wrote %d bytes, then: %v; then: %v\n", written, err, again)
				return
			}
		}
	})
}

func main() {}
