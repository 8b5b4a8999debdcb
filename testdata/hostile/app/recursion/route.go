//go:build wasip1

// recursion attempts to exhaust the host's memory or stack through the
// guest's stack: GET recurses without end, each frame holding 1 KiB. With
// ?depth=N it recurses N calls deep in small frames and answers "ok N":
// how deep an honest Go guest may go within the stack budget.
package main

import (
	"strconv"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

var depth int

//go:noinline
func deeper(n int) int {
	var frame [1024]byte
	frame[n%len(frame)] = byte(n)
	depth = n
	return deeper(n+1) + int(frame[(n+1)%len(frame)])
}

//go:noinline
func simple(n int) int {
	if n == 0 {
		return 0
	}
	return simple(n-1) + 1
}

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		if d := r.Query().Get("depth"); d != "" {
			n, _ := strconv.Atoi(d)
			w.WriteString("ok " + strconv.Itoa(simple(n)))
			return
		}
		deeper(0)
	})
}

func main() {}
