//go:build harness

package main

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill the child when the test process dies
// without running its cleanups (a test timeout, say), so no gateway or
// Redis outlives the test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
