//go:build wasip1

// A route that does not compile, for internal/build's error test.
package main

var broken int = "not an int"

func main() {}
