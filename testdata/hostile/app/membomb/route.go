//go:build wasip1

// membomb attempts to exhaust the host's memory: GET allocates 1 MiB blocks,
// touching and keeping each, until the guest's memory limit stops it.
package main

var hoard [][]byte

//go:wasmexport GET
func get() {
	for {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		hoard = append(hoard, b)
	}
}

func main() {}
