package cpu

import (
	"fmt"
	"testing"
)

func TestFCGradients(t *testing.T) {
	for i, p := range []FC{
		{N: 3, In: 7, Out: 5},
		{N: 4, In: 12, Out: 6, Act: ReLU},
		{N: 2, In: 9, Out: 3, Act: Tanh},
		{N: 5, In: 6, Out: 4, Act: Sigmoid},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d_%v", p.N, p.In, p.Out, p.Act), func(t *testing.T) {
			rng := NewRNG(uint64(i), 4)
			x := randn(rng, p.InSize(), 1)
			w := randn(rng, p.WeightSize(), 0.5)
			b := randn(rng, p.BiasSize(), 0.5)
			dy := randn(rng, p.OutSize(), 1)
			y := make([]float32, p.OutSize())
			p.Forward(x, w, b, y)
			x64, w64, b64, dy64 := to64(x), to64(w), to64(b), to64(dy)
			f := func() []float64 { return refFC(p, x64, w64, b64) }
			expectClose(t, "forward y", y, f(), fwdTol)

			dx := randn(rng, p.InSize(), 1)
			dw := randn(rng, p.WeightSize(), 1)
			db := randn(rng, p.BiasSize(), 1)
			p.Backward(x, w, y, dy, dx, dw, db, make([]float32, p.BackwardScratch()))
			expectClose(t, "dx", dx, numGrad(f, x64, dy64), bwdTol)
			expectClose(t, "dw", dw, numGrad(f, w64, dy64), bwdTol)
			expectClose(t, "db", db, numGrad(f, b64, dy64), bwdTol)
		})
	}
}
