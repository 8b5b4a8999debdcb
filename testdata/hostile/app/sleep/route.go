//go:build wasip1

// sleep attempts to hold its instance by sleeping for an hour in
// time.Sleep (WASI poll_oneoff), where no guest code runs to be stopped.
package main

import "time"

//go:wasmexport GET
func get() { time.Sleep(time.Hour) }

func main() {}
