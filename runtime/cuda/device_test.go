//go:build cuda

package cuda_test

import (
	"testing"

	"github.com/alexnetc/alexnetc/experiments/cudacheck"
	"github.com/alexnetc/alexnetc/runtime/cuda"
)

// TestDevice runs each of cuda.CheckCases on the GPU and on the CPU engine
// from the same weights (the spec's initialisation), images and labels,
// with the same dropout masks: an inference pass (the forward pass), a
// training step (loss and gradients: the backward pass; momenta and
// parameters: the update), more steps, and inference again.
func TestDevice(t *testing.T) {
	for _, c := range cudacheck.CheckCases {
		t.Run(c.String(), func(t *testing.T) { checkDevice(t, c) })
	}
}

func checkDevice(t *testing.T, c cudacheck.Case) {
	p, m, err := cudacheck.LoadPlan(*root, c)
	if err != nil {
		t.Fatal(err)
	}
	ptx, compiled, err := cudacheck.FindPTX(*ptxDir, m)
	if err != nil {
		t.Fatal(err)
	}
	if compiled {
		t.Logf("%s was not in %s: compiled it with the toolkit on PATH", cuda.PTXName(m.Hash), *ptxDir)
	}
	drv, err := cuda.NewCU()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d functions", c, len(m.Funcs))
	d := checkCase(t, p, drv, ptx, *steps)
	t.Logf("largest element difference from the CPU engine: %.3g of the tensor's largest value", d)
}
