package cpu

import (
	"math"
	"testing"
)

// TestSGDTwoSteps checks the update against values worked by hand:
// LR 0.1, momentum 0.9, weight decay 0.01 (so the decay term is 0.001·w).
//
//	step 1: v = −0.001·1 − 0.1·0.5 = −0.051;            w = 0.949
//	        v = −0.001·(−2) − 0.1·0.25 = −0.023;         w = −2.023
//	step 2: v = 0.9·(−0.051) − 0.001·0.949 + 0.1 = 0.053151;  w = 1.002151
//	        v = 0.9·(−0.023) + 0.001·2.023 − 0.05 = −0.068677; w = −2.091677
func TestSGDTwoSteps(t *testing.T) {
	o := SGD{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01}
	w := []float32{1, -2}
	v := []float32{0, 0}
	o.Step(w, []float32{0.5, 0.25}, v)
	check := func(step int, got, want []float32) {
		t.Helper()
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Errorf("step %d: %v, want %v", step, got, want)
				return
			}
		}
	}
	check(1, v, []float32{-0.051, -0.023})
	check(1, w, []float32{0.949, -2.023})
	o.Step(w, []float32{-1, 0.5}, v)
	check(2, v, []float32{0.053151, -0.068677})
	check(2, w, []float32{1.002151, -2.091677})
}
