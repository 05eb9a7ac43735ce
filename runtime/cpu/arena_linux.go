package cpu

import (
	"runtime"
	"syscall"
)

// mapArena makes an arena its own anonymous private mapping, page-aligned,
// zero and untouched, unmapped when the Arena is collected; nil if the
// system refuses (the caller then falls back to the Go heap). Transparent
// huge pages are turned off for it, so that touching one page of a 2 MiB
// region does not make the whole region resident.
func mapArena(size int64) *Arena {
	if size <= 0 || int64(int(size)) != size {
		return nil
	}
	m, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	_ = syscall.Madvise(m, syscall.MADV_NOHUGEPAGE) // advice only: nothing to do if refused
	a := &Arena{bytes: m}
	runtime.SetFinalizer(a, func(a *Arena) { _ = syscall.Munmap(a.bytes) })
	return a
}
