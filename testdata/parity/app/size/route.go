//go:build wasip1

// size answers GET with ?n= bytes of "x", written 1,000 at a time, and
// flushes after the first write when ?flush=1: its HEAD knows the length
// only when nothing was flushed.
package main

import (
	"strconv"
	"strings"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		n, _ := strconv.Atoi(r.Query().Get("n"))
		flush := r.Query().Get("flush") == "1"
		w.SetHeader("Content-Type", "text/plain")
		chunk := strings.Repeat("x", 1000)
		for i := 0; n > 0; i++ {
			k := min(n, len(chunk))
			if _, err := w.WriteString(chunk[:k]); err != nil {
				return
			}
			if i == 0 && flush {
				w.Flush()
			}
			n -= k
		}
	})
}

func main() {}
