//go:build wasip1

// loop attempts to hold its instance and a CPU forever: GET spins in a tight
// loop that makes no call, so only the runtime's deadline can stop it.
package main

var spins uint64

//go:wasmexport GET
func get() {
	for {
		spins++
	}
}

func main() {}
