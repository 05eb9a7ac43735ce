package cuda_test

import (
	"flag"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/experiments/cudacheck"
	"github.com/alexnetc/alexnetc/runtime/cuda"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// The device check's flags. scripts/device-check.sh builds the tests into a
// binary for a GPU machine, with -ptx pointing at the PTX it compiled for
// the cases and -root at the specs.
var (
	ptxDir = flag.String("ptx", "ptx", "directory of the cases' PTX (scripts/device-check.sh writes it)")
	root   = flag.String("root", "../..", "the repository root, where the specs are")
	steps  = flag.Int("steps", 3, "training steps compared")
)

// The tolerances of the check: bounds on ‖gpu − cpu‖₂ / ‖cpu‖₂ per tensor
// (see cuda.Compare). Both backends compute in float32 and differ in the
// order of their sums (and a GPU fuses multiply-adds), which moves results
// by a few units in the last place per operation; after several steps
// these compound.
const (
	tolForward = 1e-4 // probabilities of an inference pass from the start
	tolStep    = 1e-3 // loss, gradients, momenta and parameters after one step
	tolSteps   = 5e-3 // the same after the last step, and the probabilities then
)

const checkSeed = 7 // dropout draws

// checkCase runs a plan on a backend over drv and on the CPU engine from
// the same weights (the spec's initialisation), images and labels, with the
// same dropout masks: an inference pass (the forward pass), a training step
// (loss and gradients: the backward pass; momenta and parameters: the
// update), more steps, and inference again. It returns the largest
// element difference it saw, relative to the largest value of its tensor.
func checkCase(t *testing.T, p *plan.Plan, drv cuda.Driver, ptx []byte, steps int) float64 {
	b, err := cuda.New(p, ptx, drv, cuda.Options{Seed: checkSeed})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	t.Logf("%s", b.Describe())

	e := engine.New(p, 1)
	e.Init(5)
	cuda.RandomBatch(e, 5)
	e.LR = 0.01
	b.SetLR(0.01)
	if err := b.Load(e); err != nil {
		t.Fatal(err)
	}
	gpu := engine.New(p, 1) // what the backend computed, copied back
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
	largest := 0.0
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
			largest = max(largest, d.Max)
		}
		t.Logf("%s: %d tensors, worst %s (%v), tolerance %g", what, len(names), at, worst, tol)
	}

	run(plan.Infer)
	compare("forward (inference)", plan.Infer, infer, tolForward)
	for s := 1; s <= steps; s++ {
		run(plan.Train)
		switch s {
		case 1:
			compare("training step 1", plan.Train, train, tolStep)
		case steps:
			compare(fmt.Sprintf("training step %d", s), plan.Train, train, tolSteps)
		}
	}
	run(plan.Infer)
	compare(fmt.Sprintf("inference after %d steps", steps), plan.Infer, infer, tolSteps)
	loss, err := b.Loss()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss: backend %.6f, cpu %.6f", loss, e.F32(plan.Train, p.Model.Loss)[0])
	return largest
}

// emulatedPTX stands for a module's PTX on the emulator, which runs the
// kernels by their plan names: it only needs the module's mark.
func emulatedPTX(p *plan.Plan) []byte { return []byte(".entry " + p.Module.Marker() + "()") }

// TestEmulatorMatchesCPU runs the backend's host code, on the emulated
// device, through the device check's comparison with the CPU engine. The
// emulator runs each launch as docs/plan.md documents it, so this is also
// the launch plan's reference semantics against the engine's steps. The
// paper's two-GPU network (at batch 2, one training step: at so small a
// batch, ReLUs and max pools within rounding of a tie amplify the steps'
// float32 differences beyond the check's tolerance by the second), the
// Fashion-MNIST net and the small ones, one inference, training steps and
// inference again, with dropout.
func TestEmulatorMatchesCPU(t *testing.T) {
	cases := []struct {
		cudacheck.Case
		steps int
	}{
		{cudacheck.Case{Spec: "examples/alexnet.toml", Batch: 2}, 1},
		{cudacheck.Case{Spec: "examples/fashion.toml", Batch: 8}, 2},
		{cudacheck.Case{Spec: "examples/fashion.toml", Variant: "tanh", Batch: 4}, 2},
		{cudacheck.Case{Spec: "examples/cifar-4layer.toml", Batch: 4}, 2},
		{cudacheck.Case{Spec: "testdata/alexnet-small.toml", Batch: 4}, 2},
		{cudacheck.Case{Spec: "testdata/alexnet-small.toml", Variant: "mean-lrn", Batch: 3}, 2},
	}
	if testing.Short() {
		cases = cases[1:]
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			p, _, err := cudacheck.LoadPlan(*root, c.Case)
			if err != nil {
				t.Fatal(err)
			}
			d := checkCase(t, p, cuda.NewEmulator(2), emulatedPTX(p), c.steps)
			t.Logf("largest element difference from the CPU engine: %.3g of the tensor's largest value", d)
		})
	}
}

// TestEmulatorCatchesAMissingWait drops each wait of a two-GPU training
// program in turn (a sample of them) and requires the emulated device to
// report a race: the events the planner placed are what keeps the streams
// apart, and a backend or planner that lost one must fail here.
func TestEmulatorCatchesAMissingWait(t *testing.T) {
	p, _, err := cudacheck.LoadPlan(*root, cudacheck.Case{Spec: "examples/fashion.toml", Variant: "no-dropout", Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	full := p.Launches[plan.Train]
	var waits []int
	for i, l := range full {
		if l.Kind == plan.WaitEvent {
			waits = append(waits, i)
		}
	}
	if len(waits) == 0 {
		t.Fatal("the two-GPU plan has no waits")
	}
	// The plan as it is runs clean.
	if err := trainOnce(p); err != nil {
		t.Fatalf("the plan with every wait: %v", err)
	}
	caught := 0
	for k, w := range waits {
		if k%max(len(waits)/6, 1) != 0 {
			continue
		}
		p.Launches[plan.Train] = append(append([]plan.Launch(nil), full[:w]...), full[w+1:]...)
		err := trainOnce(p)
		p.Launches[plan.Train] = full
		if err == nil || !strings.Contains(err.Error(), "race") {
			t.Errorf("without launch %d (%s): %v; want a race", w, full[w].Note, err)
			continue
		}
		caught++
		if caught == 1 {
			t.Logf("without launch %d (%s): %v", w, full[w].Note, err)
		}
	}
	t.Logf("%d of %d waits dropped one at a time, each caught", caught, len(waits))
}

// trainOnce runs one training step on the emulated device and returns what
// went wrong.
func trainOnce(p *plan.Plan) error {
	b, err := cuda.New(p, emulatedPTX(p), cuda.NewEmulator(2), cuda.Options{Seed: 1})
	if err != nil {
		return err
	}
	defer b.Close()
	e := engine.New(p, 1)
	e.Init(1)
	cuda.RandomBatch(e, 1)
	if err := b.Load(e); err != nil {
		return err
	}
	if err := b.Run(plan.Train); err != nil {
		return err
	}
	loss, err := b.Loss()
	if err == nil && math.IsNaN(loss) {
		err = fmt.Errorf("loss NaN")
	}
	return err
}

// TestEmulatorStreamsAndEvents: a write on one stream and a read of the
// same bytes on another race unless an event orders them; a wait holds its
// stream until the record it waits for has happened.
func TestEmulatorStreamsAndEvents(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		em := cuda.NewEmulator(1)
		mem, _ := em.Alloc(0, 4096)
		a, _ := em.NewStream(0)
		b, _ := em.NewStream(0)
		ev, _ := em.NewEvent(0)
		src, _ := em.Alloc(0, 4096)
		if err := em.CopyIn(src, []byte{1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
		em.Copy2D(a, mem, 4, src, 4, 4, 1) // a writes mem[0:4]
		if ordered {
			em.Record(ev, a)
			em.Wait(b, ev)
		}
		dst, _ := em.Alloc(0, 4096)
		em.Copy2D(b, dst, 4, mem, 4, 4, 1) // b reads mem[0:4]
		errA, errB := em.Synchronize(a), em.Synchronize(b)
		out := make([]byte, 4)
		errOut := em.CopyOut(out, dst)
		switch {
		case ordered && (errA != nil || errB != nil || errOut != nil):
			t.Errorf("ordered by an event: %v, %v, %v", errA, errB, errOut)
		case ordered && string(out) != "\x01\x02\x03\x04":
			t.Errorf("ordered by an event, b read %v", out)
		case !ordered && (errB == nil || !strings.Contains(errB.Error(), "race")):
			t.Errorf("unordered: %v; want a race", errB)
		}
		em.Close()
	}
}
