package cpu

import (
	"runtime"
	"sync"
)

// The kernels split their work across a fixed set of worker goroutines that
// live as long as the process: starting a goroutine per call would allocate
// (its closure escapes), and the training loop must not allocate per step.
//
// A parallel region runs one job: the caller fills the kernel's job struct,
// a package variable, while it holds par.mu, and calls par.run, which hands
// the same pointer to every worker. A pointer to a package variable converts
// to an interface without allocating. Only one region runs at a time in the
// process; the machines this runtime targets have a few cores, and a kernel
// already keeps them all busy. Jobs must not start regions of their own
// (they call the serial GEMM, not Sgemm).
//
// Work is split statically: part i of n always gets the same share, and
// anything summed across parts is summed in part order afterwards, so a
// result depends on the thread count but never on timing.

// A job is work split into parts; do runs part i of n.
type job interface{ do(i, n int) }

var par struct {
	mu      sync.Mutex
	workers []chan job // worker w runs part w+1
	parts   int
	done    sync.WaitGroup
	scratch [][]float32 // per part, grown on demand and kept
	ints    [][]int32   // the same, for integers
}

// threads is the number of parts a kernel splits into: SetThreads' value,
// or GOMAXPROCS.
func threads() int {
	if t := int(gemmThreads.Load()); t > 0 {
		return t
	}
	return runtime.GOMAXPROCS(0)
}

// runParts runs j in n parts, part 0 on the calling goroutine, and returns
// when all are done. The caller holds par.mu.
func runParts(j job, n int) {
	for len(par.scratch) < n {
		par.scratch = append(par.scratch, nil)
		par.ints = append(par.ints, nil)
	}
	if n <= 1 {
		j.do(0, 1)
		return
	}
	for len(par.workers) < n-1 {
		w := len(par.workers) + 1
		ch := make(chan job, 1)
		par.workers = append(par.workers, ch)
		go worker(ch, w)
	}
	par.parts = n
	par.done.Add(n - 1)
	for w := 1; w < n; w++ {
		par.workers[w-1] <- j
	}
	j.do(0, n)
	par.done.Wait()
}

func worker(ch chan job, w int) {
	for j := range ch {
		j.do(w, par.parts)
		par.done.Done()
	}
}

// partScratch returns part i's scratch, at least n floats long. It is
// allocated the first time a kernel needs that much and reused afterwards;
// its contents are whatever the last job left.
func partScratch(i, n int) []float32 {
	if len(par.scratch[i]) < n {
		par.scratch[i] = make([]float32, n)
	}
	return par.scratch[i][:n]
}

// partInts is partScratch for integers.
func partInts(i, n int) []int32 {
	if len(par.ints[i]) < n {
		par.ints[i] = make([]int32, n)
	}
	return par.ints[i][:n]
}

// share is part i of n of the range [0, total): contiguous, in order, sizes
// differing by at most one.
func share(i, n, total int) (lo, hi int) {
	return total * i / n, total * (i + 1) / n
}
