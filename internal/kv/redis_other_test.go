//go:build !linux

package kv_test

import "os/exec"

// killWithParent does nothing here: stopRedis kills the server.
func killWithParent(*exec.Cmd) {}
