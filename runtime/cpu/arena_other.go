//go:build !linux

package cpu

// mapArena is Linux-only; elsewhere arenas live on the Go heap.
func mapArena(int64) *Arena { return nil }
