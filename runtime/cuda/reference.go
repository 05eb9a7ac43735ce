package cuda

import (
	"fmt"

	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// The GPU draws dropout masks with a counter-based generator instead of the
// CPU engine's PCG32 stream: a thread cannot wait for the draws of the units
// before its own. Unit i of a dropout_train launch keeps its value unless
// DropoutBits(seed, i) < rate·2³², the same comparison cpu.Dropout.Train
// makes with its PCG32 draw; the launch's seed is LaunchSeed(seed of the
// backend, run, launch index). The masks therefore differ from the CPU
// engine's, but not in distribution, and Reference reproduces them exactly.

// golden is SplitMix64's increment, ⌊2⁶⁴/φ⌋.
const golden = 0x9E3779B97F4A7C15

// mix64 is SplitMix64's output function (Stafford's variant 13).
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// DropoutBits is draw i of a dropout_train launch with the given seed: the
// upper half of the (i+1)-th output of a SplitMix64 sequence starting at
// seed. The kernel (compiler/cudagen/kernels.cuh) computes the same.
func DropoutBits(seed, i uint64) uint32 { return uint32(mix64(seed+(i+1)*golden) >> 32) }

// DropoutKeeps reports whether unit i of a launch keeps its value.
func DropoutKeeps(seed, i uint64, rate float32) bool {
	return uint64(DropoutBits(seed, i)) >= uint64(float64(rate)*(1<<32))
}

// LaunchSeed is the seed passed to launch number launch of a program in its
// run-th run (counted from 0 per program) by a backend seeded with seed.
func LaunchSeed(seed, run uint64, launch int) uint64 {
	return mix64(mix64(seed+run*golden) + uint64(launch+1)*golden)
}

// Reference runs a program on the CPU engine as the GPU runs it: the same
// steps, with each dropout mask replaced by the one the GPU draws in the
// same run. run counts the program's runs from 0, as the backend does.
func Reference(e *engine.Engine, prog plan.Program, seed, run uint64) {
	p := e.Plan
	steps := p.Steps[prog]
	index := map[*plan.Step]int{}
	for i, s := range steps {
		index[s] = i
	}
	launchOf := map[int]int{} // step → its dropout_train launch
	for _, l := range p.Launches[prog] {
		if l.Kind == plan.KernelLaunch && l.Kernel == "dropout_train" {
			launchOf[l.Step] = l.Index
		}
	}
	e.RunChecked(prog, func(s *plan.Step) bool {
		if s.Kernel != plan.DropoutTrain {
			return true
		}
		l, ok := launchOf[index[s]]
		if !ok {
			panic(fmt.Sprintf("cuda: no dropout_train launch for step %d (%s)", index[s], s.Note))
		}
		n, rate := s.Attrs.Int("Len"), s.Attrs.F32("Rate")
		x, y := e.F32(prog, s.Arg("x").Name), e.F32(prog, s.Arg("y").Name)
		mb := s.Arg("mask")
		mask := e.Arenas[mb.Device].U8(mb.Offset[prog], mb.Elems())
		ls := LaunchSeed(seed, run, l)
		for i := range n {
			if DropoutKeeps(ls, uint64(i), rate) {
				mask[i], y[i] = 1, x[i]
			} else {
				mask[i], y[i] = 0, 0
			}
		}
		return true
	})
}
