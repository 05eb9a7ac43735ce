//go:build linux || darwin || freebsd

package cpu

import "syscall"

// processCPUTime returns the user and system CPU time of the process so
// far, in seconds, or 0 where it cannot be read.
func processCPUTime() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
