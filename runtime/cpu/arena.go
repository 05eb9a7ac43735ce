package cpu

import (
	"fmt"
	"unsafe"
)

// Arena is one device's memory: a single allocation, made once, that the
// memory plan carves into buffers at fixed byte offsets. Reusing it for
// every step keeps the hot path free of allocation and of the page faults
// that fresh memory costs on these machines: a page faults in the first time
// a step touches it and stays resident. Pages that no program touches (the
// gradients and momenta, and the training program's extra scratch, when a
// model only infers) never become resident at all.
//
// On Linux the arena is its own anonymous mapping, outside the Go heap: the
// Go allocator zeroes a large allocation itself whenever part of its
// address range held objects before, which makes every page of the arena
// resident at once (seen in about half of the runs of a 1.35 GB arena). The
// mapping is returned to the system when the Arena is garbage collected, so
// the slices it hands out must not outlive it: keep the Arena (or the engine
// or model holding it) alive while they are in use.
type Arena struct {
	words []uint64 // Go-heap backing where there is no mapping; uint64 keeps offsets that are multiples of 8 aligned
	bytes []byte
}

// Align is the alignment of every buffer offset in a memory plan: a cache
// line, which is also enough for AVX-512 loads.
const Align = 64

// NewArena allocates an arena of the given size in bytes. It starts zeroed
// and untouched.
func NewArena(size int64) *Arena {
	if a := mapArena(size); a != nil {
		return a
	}
	words := make([]uint64, (size+Align+7)/8)
	base := unsafe.Pointer(unsafe.SliceData(words))
	skip := (Align - uintptr(base)%Align) % Align
	bytes := unsafe.Slice((*byte)(unsafe.Add(base, skip)), size)
	return &Arena{words: words, bytes: bytes}
}

// Size is the arena's size in bytes.
func (a *Arena) Size() int64 { return int64(len(a.bytes)) }

func (a *Arena) span(kind string, off, n, size int64) unsafe.Pointer {
	if off < 0 || n < 0 || off%4 != 0 && size == 4 || off+n*size > int64(len(a.bytes)) {
		panic(fmt.Sprintf("cpu.Arena: %s buffer [%d, %d) outside the %d-byte arena", kind, off, off+n*size, len(a.bytes)))
	}
	return unsafe.Pointer(&a.bytes[off])
}

// F32 returns n float32 values at byte offset off.
func (a *Arena) F32(off, n int64) []float32 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(a.span("f32", off, n, 4)), n)
}

// I32 returns n int32 values at byte offset off.
func (a *Arena) I32(off, n int64) []int32 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*int32)(a.span("i32", off, n, 4)), n)
}

// U8 returns n bytes at byte offset off.
func (a *Arena) U8(off, n int64) []uint8 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*uint8)(a.span("u8", off, n, 1)), n)
}
