//go:build !(linux || darwin || freebsd)

package cpu

// processCPUTime is not measured on this system.
func processCPUTime() float64 { return 0 }
