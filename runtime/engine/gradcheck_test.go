package engine_test

import (
	"math"
	"testing"

	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// TestFiniteDifferencesAcrossGPUs checks the whole two-device training
// program, transfers and gradient sums included, against central finite
// differences of its own loss, for weights and biases of layers on each side
// of the split and of the layers that read both GPUs. The kernels' own float64 checks are in
// runtime/cpu; this one checks how the plan wires them together.
func TestFiniteDifferencesAcrossGPUs(t *testing.T) {
	for _, v := range []string{"strong-lrn", "leaky"} {
		t.Run(v, func(t *testing.T) { finiteDifferences(t, v) })
	}
}

func finiteDifferences(t *testing.T, variant string) {
	clear(saved)
	n := network(t, "../../testdata/alexnet-small.toml", variant)
	e := build(t, n, 2, false)
	fill(e, 3)
	e.LR = 0
	loss := func() float64 {
		fill(e, 3) // the images and labels share memory with the program
		restoreWeights(e)
		e.Run(plan.Train)
		return e.Loss
	}
	saveWeights(e)
	loss()
	for _, name := range []string{"conv1.gpu1.weight", "conv2.gpu0.bias", "conv3.gpu0.weight", "conv3.gpu1.weight",
		"conv5.gpu1.weight", "fc6.gpu0.weight", "fc7.gpu1.bias", "fc8.weight"} {
		loss() // the gradient at the unperturbed weights
		grad := append([]float32(nil), e.F32(plan.Train, name+".grad")...)
		// The derivative along the gradient itself sums over every entry of
		// the tensor, which lifts it far above float32 rounding: it must
		// equal the gradient's norm.
		w := saved[name]
		norm := 0.0
		for _, g := range grad {
			norm += float64(g) * float64(g)
		}
		norm = math.Sqrt(norm)
		orig := append([]float32(nil), w...)
		step := func(h float64) float64 {
			for i := range w {
				w[i] = orig[i] + float32(h*float64(grad[i])/norm)
			}
			return loss()
		}
		const h = 1e-3
		up, down := step(h), step(-h)
		copy(w, orig)
		fd := (up - down) / (2 * h)
		if math.Abs(fd-norm) > 0.01*norm {
			t.Errorf("%s: gradient norm %.6g, finite difference along it %.6g", name, norm, fd)
		}
	}
}

var saved = map[string][]float32{}

func saveWeights(e *engine.Engine) {
	for _, b := range e.Plan.Params() {
		saved[b.Name] = append([]float32(nil), e.F32(plan.Train, b.Name)...)
	}
}

func restoreWeights(e *engine.Engine) {
	for name, w := range saved {
		copy(e.F32(plan.Train, name), w)
	}
}
