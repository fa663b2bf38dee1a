//go:build harness && !linux

package main

import "os/exec"

// setDeathSignal does nothing where the kernel offers no parent-death
// signal; the tests' cleanups kill their children.
func setDeathSignal(*exec.Cmd) {}
