package main

import "syscall"

// workerAttr starts a worker in its own process group, so that a
// terminal's Ctrl-C reaches the supervisor only (which drains, then stops
// its workers), and has the kernel kill it if the supervisor dies.
func workerAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
