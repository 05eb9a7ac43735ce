package cpu

import (
	"fmt"
	"testing"
)

func TestPoolGradients(t *testing.T) {
	cases := []struct {
		name string
		p    Pool
	}{
		{"overlap3s2", Pool{N: 2, C: 3, H: 9, W: 9, Size: 3, Stride: 2}},
		{"overlap3s2_ceil", Pool{N: 2, C: 2, H: 10, W: 8, Size: 3, Stride: 2,
			PadB: ceilPad(10, 3, 2, 0), PadR: ceilPad(8, 3, 2, 0)}},
		{"nonoverlap2s2", Pool{N: 2, C: 3, H: 8, W: 6, Size: 2, Stride: 2}},
		{"nonoverlap2s2_ceil", Pool{N: 2, C: 2, H: 7, W: 7, Size: 2, Stride: 2,
			PadB: ceilPad(7, 2, 2, 0), PadR: ceilPad(7, 2, 2, 0)}},
		{"overlap3s2_pad1", Pool{N: 1, C: 3, H: 6, W: 7, Size: 3, Stride: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}},
		{"overlap3s1", Pool{N: 1, C: 2, H: 5, W: 5, Size: 3, Stride: 1}},
	}
	for _, tc := range cases {
		p := tc.p
		p.OH = OutSize(p.H, p.Size, p.Stride, p.PadT, p.PadB)
		p.OW = OutSize(p.W, p.Size, p.Stride, p.PadL, p.PadR)
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, isMax := range []bool{true, false} {
			kind := "avg"
			if isMax {
				kind = "max"
			}
			t.Run(fmt.Sprintf("%s_%s", kind, tc.name), func(t *testing.T) {
				rng := NewRNG(uint64(len(tc.name)), 3)
				x := randn(rng, p.InSize(), 1)
				dy := randn(rng, p.OutSize(), 1)
				y := make([]float32, p.OutSize())
				dx := randn(rng, p.InSize(), 1) // garbage: Backward must overwrite
				if isMax {
					arg := make([]int32, p.OutSize())
					MaxPool(p).Forward(x, y, arg)
					MaxPool(p).Backward(arg, dy, dx)
				} else {
					AvgPool(p).Forward(x, y)
					AvgPool(p).Backward(dy, dx)
				}
				x64 := to64(x)
				f := func() []float64 { return refPool(p, isMax, x64) }
				expectClose(t, "forward y", y, f(), fwdTol)
				expectClose(t, "dx", dx, numGrad(f, x64, to64(dy)), bwdTol)
			})
		}
	}
}

// TestMaxPoolTies checks that ties go to the first maximum in row-major order
// and that padded positions never win, even over negative inputs.
func TestMaxPoolTies(t *testing.T) {
	p := MaxPool{N: 1, C: 1, H: 3, W: 3, Size: 2, Stride: 2, PadB: 1, PadR: 1, OH: 2, OW: 2}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	x := []float32{
		5, 5, -1,
		5, 4, -2,
		-3, -3, -9,
	}
	y, arg := make([]float32, 4), make([]int32, 4)
	p.Forward(x, y, arg)
	wantY := []float32{5, -1, -3, -9}
	wantArg := []int32{0, 2, 6, 8}
	for i := range y {
		if y[i] != wantY[i] || arg[i] != wantArg[i] {
			t.Errorf("window %d: got %g at %d, want %g at %d", i, y[i], arg[i], wantY[i], wantArg[i])
		}
	}
}

// TestAvgPoolDivisor checks the documented divisor: the number of in-bounds
// elements, not Size².
func TestAvgPoolDivisor(t *testing.T) {
	p := AvgPool{N: 1, C: 1, H: 3, W: 3, Size: 2, Stride: 2, PadB: 1, PadR: 1, OH: 2, OW: 2}
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	y := make([]float32, 4)
	p.Forward(x, y)
	want := []float32{(1 + 2 + 4 + 5) / 4.0, (3 + 6) / 2.0, (7 + 8) / 2.0, 9}
	for i := range y {
		if y[i] != want[i] {
			t.Errorf("window %d: %g, want %g", i, y[i], want[i])
		}
	}
}

func TestPoolValidate(t *testing.T) {
	// AlexNet's pool1 on the 55×55 conv1 output: 3/2 gives 27.
	p := Pool{N: 1, C: 96, H: 55, W: 55, Size: 3, Stride: 2, OH: 27, OW: 27}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
	// Padding so large that the last window lies wholly in it.
	p = Pool{N: 1, C: 1, H: 4, W: 4, Size: 2, Stride: 2, PadB: 2, PadR: 2, OH: 3, OW: 3}
	if p.Validate() == nil {
		t.Error("a window wholly inside the padding was accepted")
	}
}
