package engine_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/runtime/safetensors"
)

// Tolerance of the comparison with PyTorch: the largest difference over a
// tensor, divided by the largest magnitude in the reference tensor. The
// reference is computed in float64 from the same float32 weights and images,
// so this measures alexnetc's float32 rounding alone.
const torchTolerance = 2e-5

// fullSizeTolerance is the same measure for the paper's full-size network.
const fullSizeTolerance = 1e-2

// TestMatchesPyTorch runs each network on the weights, images and labels of a
// reference file written by scripts/torch_reference.py (testdata/torch/
// generate.sh), and compares every layer's output, the loss and every
// parameter gradient. Networks with dropout are compared at inference, where
// dropout is deterministic (outputs × (1 − rate)).
func TestMatchesPyTorch(t *testing.T) {
	for _, tc := range []struct {
		ref, spec, variant string
		train              bool
	}{
		{"alexnet-small", "testdata/alexnet-small.toml", "", false},
		{"alexnet-small-nodrop", "testdata/alexnet-small.toml", "no-dropout", true},
		{"alexnet-small-meanlrn", "testdata/alexnet-small.toml", "mean-lrn", true},
		{"alexnet-small-stronglrn", "testdata/alexnet-small.toml", "strong-lrn", true},
		{"fashion-nodrop", "examples/fashion.toml", "no-dropout", true},
		{"cifar4", "examples/cifar-4layer.toml", "", true},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			path, n := "../../testdata/torch/"+tc.ref+".safetensors", network(t, "../../"+tc.spec, tc.variant)
			worst := compareWithTorch(t, path, n, tc.train, true, torchTolerance)
			t.Logf("largest relative difference: %.2e (%s)", worst.err, worst.what)
			// The same under the memory plan that reuses buffers: the
			// probabilities, loss and gradients must not change.
			compareWithTorch(t, path, n, tc.train, false, torchTolerance)
		})
	}
}

// TestMatchesPyTorchFullSize compares the paper's full-size network with a
// reference file made on demand (it is about 500 MB):
//
//	go run ./cmd/alexnetc check examples/alexnet.toml --json --variant no-dropout |
//	  python3 scripts/torch_reference.py - /tmp/alexnet.safetensors --batch 1 --std 0.01
//	ALEXNETC_TORCH_FULL=/tmp/alexnet.safetensors go test -run FullSize -v ./runtime/engine/
func TestMatchesPyTorchFullSize(t *testing.T) {
	path := os.Getenv("ALEXNETC_TORCH_FULL")
	if path == "" {
		t.Skip("set ALEXNETC_TORCH_FULL to a reference file of examples/alexnet.toml, variant no-dropout")
	}
	// At full size the first layers' gradients (of order 1e-4 at the
	// paper's initialisation) are sums over thousands of positions that
	// nearly cancel, and float32 keeps only part of the result; the
	// tolerance is looser there than for the small networks.
	worst := compareWithTorch(t, path, network(t, "../../examples/alexnet.toml", "no-dropout"), true, true, fullSizeTolerance)
	t.Logf("largest relative difference: %.2e (%s)", worst.err, worst.what)
}

type difference struct {
	err  float64
	what string
}

func compareWithTorch(t *testing.T, path string, n *check.Network, train, keepAll bool, tolerance float64) difference {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := safetensors.Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) []float32 {
		tensor, ok := ref.Get(name)
		if !ok {
			t.Fatalf("%s has no tensor %q", path, name)
		}
		v, err := tensor.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	x := get("x")
	xt, _ := ref.Get("x")
	p, err := compiler.Compile(n, compiler.Options{Batch: xt.Shape[0], KeepAll: keepAll})
	if err != nil {
		t.Fatal(err)
	}
	// Keep every layer's output for the comparison; the gradients are
	// checked under the real plan too, in TestMatchesPyTorchReusingMemory.
	e := engine.New(p, 1)
	prog := plan.Infer
	if train {
		prog = plan.Train
	}
	for _, b := range p.Params() {
		if err := ref.Float32Into(b.Name, b.Shape, e.F32(prog, b.Name)); err != nil {
			t.Fatal(err)
		}
	}
	copy(e.F32(prog, "data"), x)
	if train {
		lt, _ := ref.Get("labels")
		labels, err := lt.Int32s()
		if err != nil {
			t.Fatal(err)
		}
		copy(e.I32(prog, "labels"), labels)
		e.LR = 0 // the update then leaves the weights as they are
	}
	e.Run(prog)

	var worst difference
	compare := func(what string, got, want []float32) {
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, reference has %d", what, len(got), len(want))
		}
		scale, diff := 0.0, 0.0
		for i := range want {
			scale = max(scale, math.Abs(float64(want[i])))
			d := math.Abs(float64(got[i]) - float64(want[i]))
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			diff = max(diff, d)
		}
		rel := diff / max(scale, 1e-30)
		if rel > worst.err {
			worst = difference{rel, what}
		}
		if rel > tolerance {
			t.Errorf("%s: largest difference %.3g is %.2e of the reference's largest value %.3g (tolerance %.0e)", what, diff, rel, scale, tolerance)
		}
	}
	last := n.Layers[len(n.Layers)-1]
	compare("probabilities", e.F32(prog, last.Name+".out"), get("out."+last.Name))
	if !train {
		return worst
	}
	lossT, _ := ref.Get("loss")
	lossV, _ := lossT.Float32s()
	if d := math.Abs(e.Loss-float64(lossV[0])) / math.Abs(float64(lossV[0])); d > tolerance {
		t.Errorf("loss %v, reference %v", e.Loss, lossV[0])
	} else if d > worst.err {
		worst = difference{d, "loss"}
	}
	if keepAll {
		for _, l := range n.Layers[:len(n.Layers)-1] {
			compare("output of "+l.Name, gatherParts(e, p, l), get("out."+l.Name))
		}
	}
	for _, b := range p.Params() {
		compare("gradient of "+b.Name, e.F32(prog, b.Name+".grad"), get("grad."+b.Name))
	}
	return worst
}

// gatherParts puts a layer's parts side by side along the channels, as the
// reference stores the layer's whole output.
func gatherParts(e *engine.Engine, g *plan.Plan, l *check.Layer) []float32 {
	hw := l.Out.H * l.Out.W
	out := make([]float32, g.Batch*l.Out.C*hw)
	for _, p := range l.Parts {
		name := l.Name + ".out"
		if len(l.Parts) > 1 {
			name = fmt.Sprintf("%s.gpu%d.out", l.Name, p.GPU)
		}
		src := e.F32(plan.Train, name)
		c := p.Channels()
		for n := 0; n < g.Batch; n++ {
			copy(out[(n*l.Out.C+p.C0)*hw:(n*l.Out.C+p.C1)*hw], src[n*c*hw:(n+1)*c*hw])
		}
	}
	return out
}
