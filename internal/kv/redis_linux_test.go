package kv_test

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill cmd when the test binary dies, even
// by a signal or a test timeout, so that no redis-server outlives it.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
