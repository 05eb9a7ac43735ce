package cuda_test

import (
	"testing"

	"github.com/alexnetc/alexnetc/experiments/cudacheck"
	"github.com/alexnetc/alexnetc/runtime/cuda"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// TestRunsBackToBack: runs of programs issued one after another, with no
// Synchronize between them, do not race on the emulated device (the
// backend waits for a run before it issues the next: a plan's events order
// its streams only within one run), and give what runs with a
// Synchronize after each give.
func TestRunsBackToBack(t *testing.T) {
	p, _, err := cudacheck.LoadPlan(*root, cudacheck.Case{Spec: "examples/fashion.toml", Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	runs := []plan.Program{plan.Train, plan.Train, plan.Infer, plan.Train}
	result := func(sync bool) []float32 {
		b, err := cuda.New(p, emulatedPTX(p), cuda.NewEmulator(2), cuda.Options{Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		e := engine.New(p, 1)
		e.Init(2)
		cuda.RandomBatch(e, 2)
		if err := b.Load(e); err != nil {
			t.Fatal(err)
		}
		b.SetLR(0.01)
		for _, prog := range runs {
			if err := b.Run(prog); err != nil {
				t.Fatal(err)
			}
			if sync {
				if err := b.Synchronize(); err != nil {
					t.Fatal(err)
				}
			}
		}
		out := engine.New(p, 1)
		if err := b.Store(out); err != nil {
			t.Fatalf("synchronising after each run %v: %v", sync, err)
		}
		return append([]float32(nil), out.F32(plan.Train, p.Params()[0].Name)...)
	}
	apart, together := result(true), result(false)
	for i := range apart {
		if apart[i] != together[i] {
			t.Fatalf("%s[%d]: %g with a Synchronize after each run, %g without", p.Params()[0].Name, i, apart[i], together[i])
		}
	}
}
