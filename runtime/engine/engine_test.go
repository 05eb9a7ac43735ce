package engine_test

import (
	"math"
	"os"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
)

func network(t *testing.T, path, variant string) *check.Network {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse(path, src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if variant != "" {
		if s, diags = s.ApplyVariant(variant); len(diags) > 0 {
			t.Fatal(diags)
		}
	}
	n, diags := check.Check(s)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return n
}

func build(t *testing.T, n *check.Network, batch int, single bool) *engine.Engine {
	t.Helper()
	p, err := compiler.Compile(n, compiler.Options{Batch: batch, SingleDevice: single})
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(p, 7)
}

// fill gives both engines the same weights, images and labels.
func fill(e *engine.Engine, seed uint64) {
	rng := cpu.NewRNG(seed, 1)
	g := e.Plan
	for _, b := range g.Params() {
		w := e.F32(plan.Train, b.Name)
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	for _, prog := range plan.Programs {
		x := e.F32(prog, "data")
		r := cpu.NewRNG(seed, 2)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		if !e.Uses(prog, "labels") {
			continue
		}
		labels := e.I32(prog, "labels")
		for i := range labels {
			labels[i] = int32(i % g.Model.Classes)
		}
	}
}

func maxDiff(t *testing.T, what string, a, b []float32) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: lengths %d and %d", what, len(a), len(b))
	}
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// TestTwoDevicesMatchOne runs each two-GPU network as two devices (one arena
// each, transfers as copies) and as one device, and requires the same
// probabilities, loss and gradients.
func TestTwoDevicesMatchOne(t *testing.T) {
	for _, tc := range []struct{ file, variant string }{
		{"../../testdata/alexnet-small.toml", ""},
		{"../../testdata/alexnet-small.toml", "no-dropout"},
		{"../../examples/fashion.toml", ""},
		{"../../examples/fashion.toml", "no-dropout"},
	} {
		n := network(t, tc.file, tc.variant)
		two, one := build(t, n, 3, false), build(t, n, 3, true)
		if len(two.Arenas) != 2 || len(one.Arenas) != 1 {
			t.Fatalf("%s: %d and %d arenas", tc.file, len(two.Arenas), len(one.Arenas))
		}
		fill(two, 1)
		fill(one, 1)
		two.Run(plan.Infer)
		one.Run(plan.Infer)
		if d := maxDiff(t, "prob", two.F32(plan.Infer, "loss.out"), one.F32(plan.Infer, "loss.out")); d != 0 {
			t.Errorf("%s %s: inference probabilities differ by %g", tc.file, tc.variant, d)
		}
		if tc.variant == "" {
			continue // dropout draws differ between one and two devices
		}
		// Programs share the transient region: write the images again.
		fill(two, 1)
		fill(one, 1)
		two.Run(plan.Train)
		one.Run(plan.Train)
		if two.Loss != one.Loss || math.IsNaN(two.Loss) {
			t.Errorf("%s: loss %v on two devices, %v on one", tc.file, two.Loss, one.Loss)
		}
		for _, b := range two.Plan.Params() {
			d := maxDiff(t, b.Name, two.F32(plan.Train, b.Name+".grad"), one.F32(plan.Train, b.Name+".grad"))
			if d > 1e-6 {
				t.Errorf("%s: gradient of %s differs by %g", tc.file, b.Name, d)
			}
		}
	}
}

// TestTransfersWhereTheSpecCrosses checks that the two-device training
// program copies between devices exactly for the layers that read all GPUs'
// parts (and the image, which every GPU needs).
func TestTransfersWhereTheSpecCrosses(t *testing.T) {
	n := network(t, "../../examples/alexnet.toml", "")
	p, err := compiler.Compile(n, compiler.Options{Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	crossing := map[string]bool{}
	for _, s := range p.Steps[plan.Infer] {
		if _, ok := s.Transfer(); ok {
			crossing[s.Layer] = true
		}
	}
	want := map[string]bool{"": true, "conv3": true, "fc6": true, "fc7": true, "fc8": true}
	if len(crossing) != len(want) {
		t.Errorf("transfers for %v, want %v", crossing, want)
	}
	for l := range want {
		if !crossing[l] {
			t.Errorf("no transfer for %q", l)
		}
	}
}

// TestNoAllocationsPerStep checks that once an engine has run each program
// once (which sizes the kernels' per-thread scratch), its steps allocate
// nothing: the arenas hold every buffer, and the kernels' workers live as
// long as the process.
func TestNoAllocationsPerStep(t *testing.T) {
	for _, threads := range []int{1, 2} {
		cpu.SetThreads(threads)
		e := build(t, network(t, "../../examples/fashion.toml", ""), 16, false)
		fill(e, 1)
		e.LR = 0.01
		for _, prog := range plan.Programs {
			e.Run(prog)
			if n := testing.AllocsPerRun(3, func() { e.Run(prog) }); n != 0 {
				t.Errorf("%d thread(s): %s step: %g allocations", threads, prog, n)
			}
		}
	}
	cpu.SetThreads(0)
}

// TestFusedLRNPoolMatchesSteps runs networks with an LRN before a max
// pooling, as two devices and as one, through Run (which fuses the pair)
// and through RunChecked (every step on its own), and requires the same
// probabilities, loss and gradients, bit for bit; and that Run did fuse.
func TestFusedLRNPoolMatchesSteps(t *testing.T) {
	for _, tc := range []struct {
		file   string
		single bool
	}{
		{"../../testdata/alexnet-small.toml", false},
		{"../../testdata/alexnet-small.toml", true},
		{"../../examples/fashion.toml", false},
	} {
		n := network(t, tc.file, "no-dropout")
		fusedRun, stepRun := build(t, n, 3, tc.single), build(t, n, 3, tc.single)
		for _, prog := range plan.Programs {
			count := 0
			for i, j := range fusedRun.Fused(prog) {
				if j > i {
					count++
				}
			}
			if count == 0 {
				t.Fatalf("%s: the %s program fuses no LRN and pooling", tc.file, prog)
			}
		}
		all := func(*plan.Step) bool { return true }
		for _, prog := range plan.Programs {
			fill(fusedRun, 1)
			fill(stepRun, 1)
			fusedRun.Run(prog)
			stepRun.RunChecked(prog, all)
			if d := maxDiff(t, "prob", fusedRun.F32(prog, "loss.out"), stepRun.F32(prog, "loss.out")); d != 0 {
				t.Errorf("%s %s: probabilities differ by %g", tc.file, prog, d)
			}
			if prog != plan.Train {
				continue
			}
			if fusedRun.Loss != stepRun.Loss {
				t.Errorf("%s: loss %v fused, %v step by step", tc.file, fusedRun.Loss, stepRun.Loss)
			}
			for _, b := range fusedRun.Plan.Params() {
				if d := maxDiff(t, b.Name, fusedRun.F32(prog, b.Name+".grad"), stepRun.F32(prog, b.Name+".grad")); d != 0 {
					t.Errorf("%s: gradient of %s differs by %g", tc.file, b.Name, d)
				}
			}
		}
	}
}
