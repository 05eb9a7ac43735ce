package cpu

import (
	"fmt"
	"math"
	"testing"
)

func TestLRNGradients(t *testing.T) {
	cases := []LRN{
		// Large α so that the cross-channel terms of the gradient are of the
		// same order as the diagonal one; with the paper's α = 1e-4 they
		// would be too small for the check to see a mistake in them.
		{N: 2, C: 7, H: 3, W: 4, C0: 0, C1: 7, Size: 5, K: 1, Alpha: 0.3, Beta: 0.75, Convention: AlphaSum},
		// Mean convention, general β (the math.Pow path), and a channel slice
		// strictly inside the tensor, so both edges clip the neighbourhood.
		{N: 2, C: 9, H: 3, W: 3, C0: 2, C1: 7, Size: 3, K: 1.5, Alpha: 1.5, Beta: 0.6, Convention: AlphaMean},
		// Mean convention with β = 0.75 on the upper half of the channels, as
		// the second tower sees it.
		{N: 1, C: 8, H: 4, W: 3, C0: 4, C1: 8, Size: 5, K: 2, Alpha: 2.5, Beta: 0.75, Convention: AlphaMean},
		// The paper's values, on the lower half.
		{N: 2, C: 8, H: 3, W: 3, C0: 0, C1: 4, Size: 5, K: 2, Alpha: 1e-4, Beta: 0.75, Convention: AlphaSum},
	}
	for i, p := range cases {
		t.Run(fmt.Sprintf("case%d_n%d_slice%d-%d", i, p.Size, p.C0, p.C1), func(t *testing.T) {
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			rng := NewRNG(uint64(i), 2)
			x := randn(rng, p.TensorSize(), 1)
			dy := randn(rng, p.TensorSize(), 1)
			// Channels outside the slice must come out as they went in.
			y := make([]float32, p.TensorSize())
			dx := make([]float32, p.TensorSize())
			p.Forward(x, y)
			x64, dy64 := to64(x), to64(dy)
			f := func() []float64 { return refLRN(p, x64) }
			expectClose(t, "forward y", y, f(), fwdTol)

			// dy outside the slice must not leak into dx.
			p.Backward(x, dy, dx, make([]float32, p.BackwardScratch()))
			expectClose(t, "dx", dx, numGrad(f, x64, dy64), bwdTol)
		})
	}
}

// TestLRNSliceIsSeparateTensor checks the property the two-tower plan relies
// on: normalising channels [C0, C1) in place gives exactly what normalising
// a tensor holding only those channels gives, and leaves the other channels
// of y and dx alone.
func TestLRNSliceIsSeparateTensor(t *testing.T) {
	full := LRN{N: 2, C: 10, H: 3, W: 2, C0: 3, C1: 8, Size: 5, K: 1, Alpha: 0.5, Beta: 0.75}
	part := full
	part.C, part.C0, part.C1 = 5, 0, 5
	rng := NewRNG(5, 5)
	x := randn(rng, full.TensorSize(), 1)
	dy := randn(rng, full.TensorSize(), 1)
	cut := ChannelCopy{N: 2, HW: 6, SrcC: 10, C0: 3, C1: 8, DstC: 5, D: 0}
	xs, dys := make([]float32, part.TensorSize()), make([]float32, part.TensorSize())
	cut.Copy(x, xs)
	cut.Copy(dy, dys)

	const sentinel = 42
	y, dx := make([]float32, full.TensorSize()), make([]float32, full.TensorSize())
	for i := range y {
		y[i], dx[i] = sentinel, sentinel
	}
	full.Forward(x, y)
	full.Backward(x, dy, dx, make([]float32, full.BackwardScratch()))

	ys, dxs := make([]float32, part.TensorSize()), make([]float32, part.TensorSize())
	part.Forward(xs, ys)
	part.Backward(xs, dys, dxs, make([]float32, part.BackwardScratch()))

	hw := 6
	for n := 0; n < 2; n++ {
		for c := 0; c < 10; c++ {
			for i := 0; i < hw; i++ {
				k := (n*10+c)*hw + i
				if c < 3 || c >= 8 {
					if y[k] != sentinel || dx[k] != sentinel {
						t.Fatalf("channel %d outside the slice was written", c)
					}
					continue
				}
				ks := (n*5+c-3)*hw + i
				if y[k] != ys[ks] || dx[k] != dxs[ks] {
					t.Fatalf("channel %d: slice gives y=%g dx=%g, separate tensor y=%g dx=%g", c, y[k], dx[k], ys[ks], dxs[ks])
				}
			}
		}
	}
}

// TestLRNConventions checks that the mean convention with α = n·a is the sum
// convention with α = a, and that the paper's k, α, β give the expected
// value on a hand-worked case.
func TestLRNConventions(t *testing.T) {
	sum := LRN{N: 1, C: 5, H: 1, W: 1, C0: 0, C1: 5, Size: 5, K: 2, Alpha: 1e-4, Beta: 0.75, Convention: AlphaSum}
	mean := sum
	mean.Alpha, mean.Convention = 5e-4, AlphaMean
	x := []float32{10, 20, 30, 40, 50}
	y1, y2 := make([]float32, 5), make([]float32, 5)
	sum.Forward(x, y1)
	mean.Forward(x, y2)
	for c := range x {
		if math.Abs(float64(y1[c]-y2[c])) > 1e-6*math.Abs(float64(y1[c])) {
			t.Errorf("channel %d: sum convention %g, mean convention with 5α %g", c, y1[c], y2[c])
		}
	}
	// Channel 0 sees channels 0..2: s = 2 + 1e-4·(100+400+900) = 2.14.
	want := 10 / math.Pow(2.14, 0.75)
	if math.Abs(float64(y1[0])-want) > 1e-6*want {
		t.Errorf("b_0 = %g, want %g", y1[0], want)
	}
}

// TestLRNVectorLoopsMatchGo checks that the vector loops for β = 0.75 give
// the same bits as the Go loops, forward and backward, on planes that are
// and are not a multiple of the vectors' 32 floats, windows clipped at the
// slice's edges, and windows of 3, 5 and 7 channels.
func TestLRNVectorLoopsMatchGo(t *testing.T) {
	shapes := []LRN{
		{N: 2, C: 9, H: 5, W: 7, C0: 0, C1: 9, Size: 5, K: 2, Alpha: 1e-2, Beta: 0.75},
		{N: 1, C: 8, H: 13, W: 13, C0: 4, C1: 8, Size: 5, K: 2, Alpha: 1e-2, Beta: 0.75, Convention: AlphaMean},
		{N: 2, C: 6, H: 8, W: 8, C0: 0, C1: 6, Size: 3, K: 1, Alpha: 0.1, Beta: 0.75},
		{N: 1, C: 10, H: 3, W: 3, C0: 1, C1: 10, Size: 7, K: 2, Alpha: 1e-2, Beta: 0.75},
	}
	for i, p := range shapes {
		rng := NewRNG(uint64(i), 7)
		x, dy := randn(rng, p.TensorSize(), 3), randn(rng, p.TensorSize(), 1)
		var refY, refDX []float32
		for _, path := range gemmPaths() {
			y, dx := make([]float32, p.TensorSize()), make([]float32, p.TensorSize())
			withGEMMPath(t, path, func() {
				if path == "avx512" && p.kernels() == nil {
					t.Fatal("the AVX-512 path has no vector LRN loops")
				}
				p.Forward(x, y)
				p.Backward(x, dy, dx, make([]float32, p.BackwardScratch()))
			})
			if refY == nil {
				refY, refDX = y, dx
				continue
			}
			for j := range y {
				if math.Float32bits(y[j]) != math.Float32bits(refY[j]) || math.Float32bits(dx[j]) != math.Float32bits(refDX[j]) {
					t.Fatalf("shape %d, %s: element %d: y %g dx %g, on %s %g %g", i, path, j, y[j], dx[j], gemmPaths()[0], refY[j], refDX[j])
				}
			}
		}
	}
}
