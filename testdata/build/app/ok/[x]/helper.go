//go:build wasip1

package main

// greet lives in a second file: route folders are built by file list.
func greet() { println("hello") }
