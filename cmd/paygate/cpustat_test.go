//go:build harness

package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuTimes is the machine's CPU time so far, from /proc/stat: busy (user,
// nice, system, irq, softirq) and idle (idle, iowait), summed over all
// cores. ok is false where /proc/stat cannot be read.
func cpuTimes() (busy, idle time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, false
	}
	tick := time.Second / 100 // USER_HZ on Linux
	var v [7]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	busy = time.Duration(v[0]+v[1]+v[2]+v[5]+v[6]) * tick
	idle = time.Duration(v[3]+v[4]) * tick
	return busy, idle, true
}

// cpuMeter measures the machine's CPU spent over a span of work.
type cpuMeter struct {
	busy, idle time.Duration
	ok         bool
}

func startCPUMeter() cpuMeter {
	b, i, ok := cpuTimes()
	return cpuMeter{b, i, ok}
}

// per returns the busy CPU per unit of work and the idle share of the span.
func (m cpuMeter) per(units int64) (busyPer time.Duration, idleShare float64, ok bool) {
	b, i, ok := cpuTimes()
	if !ok || !m.ok || units <= 0 {
		return 0, 0, false
	}
	db, di := b-m.busy, i-m.idle
	if db+di <= 0 {
		return 0, 0, false
	}
	return db / time.Duration(units), float64(di) / float64(db+di), true
}

// processCPU is this process's CPU time so far (user and system), from
// /proc/self/stat; ok is false where it cannot be read. In the harnesses
// the process holds the gateway and the load's senders, not PostgreSQL
// or Redis.
func processCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces: count from its ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * (time.Second / 100), true
}
