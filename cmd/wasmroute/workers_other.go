//go:build !linux

package main

import "syscall"

// workerAttr is nil where there is no parent-death signal: a worker
// still exits when the supervisor is gone, once its standard input ends.
func workerAttr() *syscall.SysProcAttr { return nil }
