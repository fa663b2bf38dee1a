package sandbox

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestTimersStop: Stop cancels what has not started, waits for what is
// running, and nothing scheduled afterwards runs.
func TestTimersStop(t *testing.T) {
	var tm Timers
	var ran, finished, late atomic.Int32
	started := make(chan struct{})
	tm.After(0, func() {
		close(started)
		time.Sleep(50 * time.Millisecond)
		finished.Add(1)
	})
	tm.After(time.Hour, func() { ran.Add(1) })
	<-started
	tm.Stop()
	if finished.Load() != 1 {
		t.Fatal("Stop returned before the running action finished")
	}
	tm.After(0, func() { late.Add(1) })
	time.Sleep(20 * time.Millisecond)
	if ran.Load() != 0 || late.Load() != 0 {
		t.Fatalf("cancelled ran %d, scheduled after Stop ran %d", ran.Load(), late.Load())
	}
}
