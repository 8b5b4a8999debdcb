//go:build wasip1

// recursion attempts to exhaust the host's memory or stack through the
// guest's stack: GET recurses without end, each frame holding 1 KiB.
package main

var depth int

//go:noinline
func deeper(n int) int {
	var frame [1024]byte
	frame[n%len(frame)] = byte(n)
	depth = n
	return deeper(n+1) + int(frame[(n+1)%len(frame)])
}

//go:wasmexport GET
func get() { deeper(0) }

func main() {}
