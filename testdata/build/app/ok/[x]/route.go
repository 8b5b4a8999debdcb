//go:build wasip1

// A route without the SDK, built by internal/build's tests.
package main

//go:wasmexport GET
func get() { greet() }

func main() {}
