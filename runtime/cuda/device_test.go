//go:build cuda

package cuda_test

import (
	"flag"
	"fmt"
	"testing"

	"github.com/alexnetc/alexnetc/compiler/cudagen"
	"github.com/alexnetc/alexnetc/compiler/plan"
	"github.com/alexnetc/alexnetc/runtime/cuda"
	"github.com/alexnetc/alexnetc/runtime/engine"
)

// The device check needs a GPU. scripts/device-check.sh builds this test
// into a binary and prints the command that runs it on a GPU machine, with
// -ptx pointing at the PTX it compiled for the cases and -root at the
// specs.
var (
	ptxDir = flag.String("ptx", "ptx", "directory of the cases' PTX (scripts/device-check.sh writes it)")
	root   = flag.String("root", "../..", "the repository root, where the specs are")
	steps  = flag.Int("steps", 3, "training steps compared")
)

// The tolerances of the device check: bounds on ‖gpu − cpu‖₂ / ‖cpu‖₂ per
// tensor (see cuda.Compare). Both backends compute in float32 and differ in
// the order of their sums (and the GPU fuses multiply-adds), which moves
// results by a few units in the last place per operation; after several
// steps these compound.
const (
	tolForward = 1e-4 // probabilities of an inference pass from the start
	tolStep    = 1e-3 // loss, gradients, momenta and parameters after one step
	tolSteps   = 5e-3 // the same after the last step, and the probabilities then
)

const checkSeed = 7 // dropout draws

// TestDevice runs each of cuda.CheckCases on the GPU and on the CPU engine
// from the same weights (the spec's initialisation), images and labels,
// with the same dropout masks: an inference pass (the forward pass), a
// training step (loss and gradients: the backward pass; momenta and
// parameters: the update), more steps, and inference again.
func TestDevice(t *testing.T) {
	for _, c := range cuda.CheckCases {
		t.Run(c.String(), func(t *testing.T) { checkCase(t, c) })
	}
}

func checkCase(t *testing.T, c cuda.Case) {
	p, err := cuda.LoadPlan(*root, c)
	if err != nil {
		t.Fatal(err)
	}
	m, err := cudagen.Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	ptx, compiled, err := cuda.FindPTX(*ptxDir, m)
	if err != nil {
		t.Fatal(err)
	}
	if compiled {
		t.Logf("%s was not in %s: compiled it with the toolkit on PATH", cuda.PTXName(m), *ptxDir)
	}
	b, err := cuda.New(p, m, ptx, cuda.Options{Seed: checkSeed})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	t.Logf("%s: %d functions; %s", c, len(m.Funcs), b.Describe())

	e := engine.New(p, 1)
	e.Init(5)
	cuda.RandomBatch(e, 5)
	e.LR, b.LR = 0.01, 0.01
	if err := b.Load(e); err != nil {
		t.Fatal(err)
	}
	gpu := engine.New(p, 1) // what the GPU computed, copied back
	train, infer := cuda.Results(p)
	runs := map[plan.Program]uint64{}
	run := func(prog plan.Program) {
		t.Helper()
		if err := b.Run(prog); err != nil {
			t.Fatal(err)
		}
		cuda.Reference(e, prog, checkSeed, runs[prog])
		runs[prog]++
		if err := b.Store(gpu); err != nil {
			t.Fatal(err)
		}
	}
	compare := func(what string, prog plan.Program, names []string, tol float64) {
		t.Helper()
		worst, at := cuda.Difference{}, ""
		for _, name := range names {
			d := cuda.Compare(gpu.F32(prog, name), e.F32(prog, name))
			if !d.Within(tol) {
				t.Errorf("%s: %s: %v, tolerance %g", what, name, d, tol)
			}
			if d.Norm >= worst.Norm || d.Bad {
				worst, at = d, name
			}
		}
		t.Logf("%s: %d tensors, worst %s (%v), tolerance %g", what, len(names), at, worst, tol)
	}

	run(plan.Infer)
	compare("forward (inference)", plan.Infer, infer, tolForward)
	for s := 1; s <= *steps; s++ {
		run(plan.Train)
		switch s {
		case 1:
			compare("training step 1", plan.Train, train, tolStep)
		case *steps:
			compare(fmt.Sprintf("training step %d", s), plan.Train, train, tolSteps)
		}
	}
	run(plan.Infer)
	compare(fmt.Sprintf("inference after %d steps", *steps), plan.Infer, infer, tolSteps)
	t.Logf("loss: gpu %.6f, cpu %.6f", gpu.F32(plan.Train, "loss")[0], e.F32(plan.Train, "loss")[0])
}
