package main

import (
	"os"
	"runtime/debug"
	"sync"
)

// defaultGCPercent is the garbage collector's target when GOGC is unset.
// A request allocates a few kilobytes that die with it, and the live heap
// of a gateway is small (tens of megabytes), so collecting at 4× the live
// heap instead of Go's 2× halves the collector's CPU for a few tens of
// megabytes more memory. GOGC (and GOMEMLIMIT) in the environment win.
const defaultGCPercent = 400

var gcOnce sync.Once

// tuneGC applies defaultGCPercent once per process unless GOGC is set.
func tuneGC() {
	gcOnce.Do(func() {
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(defaultGCPercent)
		}
	})
}
