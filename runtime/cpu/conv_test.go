package cpu

import (
	"fmt"
	"math"
	"testing"
)

// ceilPad returns the extra after-padding that turns the floor output size
// into cuda-convnet's ceil size 1+⌈(in+pad−k)/s⌉, the way the compiler does.
func ceilPad(in, k, s, pad int) int {
	out := 1 + (in+pad-k+s-1)/s
	return (out-1)*s + k - in - pad
}

func TestConvGradients(t *testing.T) {
	cases := []Conv{
		// Groups 1, stride 1, padding 1 on every side, 3×3 kernel.
		{N: 2, C: 3, H: 7, W: 6, F: 4, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		// conv2-like: two groups (towers), 5×5, padding 2, ReLU.
		{N: 2, C: 4, H: 6, W: 6, F: 4, KH: 5, KW: 5, Stride: 1, PadT: 2, PadL: 2, PadB: 2, PadR: 2, Groups: 2, Act: ReLU},
		// conv1-like: stride 4 with ceil rounding (20 → 5 rather than 4), tanh.
		{N: 2, C: 3, H: 20, W: 20, F: 3, KH: 7, KW: 7, Stride: 4, PadB: ceilPad(20, 7, 4, 0), PadR: ceilPad(20, 7, 4, 0), Groups: 1, Act: Tanh},
		// Stride 4 without padding, two groups, sigmoid.
		{N: 1, C: 4, H: 13, W: 13, F: 6, KH: 5, KW: 5, Stride: 4, Groups: 2, Act: Sigmoid},
		// Asymmetric padding on all sides, rectangular kernel, stride 2.
		{N: 2, C: 4, H: 7, W: 8, F: 4, KH: 3, KW: 2, Stride: 2, PadT: 1, PadL: 0, PadB: 2, PadR: 1, Groups: 2, Act: ReLU},
	}
	for i, p := range cases {
		p.OH = OutSize(p.H, p.KH, p.Stride, p.PadT, p.PadB)
		p.OW = OutSize(p.W, p.KW, p.Stride, p.PadL, p.PadR)
		t.Run(fmt.Sprintf("case%d_g%d_s%d_%v", i, p.Groups, p.Stride, p.Act), func(t *testing.T) {
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			checkConv(t, p, uint64(i))
		})
	}
}

func checkConv(t *testing.T, p Conv, seed uint64) {
	rng := NewRNG(seed, 1)
	x := randn(rng, p.InSize(), 1)
	w := randn(rng, p.WeightSize(), 0.3)
	b := randn(rng, p.BiasSize(), 0.3)
	dy := randn(rng, p.OutSize(), 1)
	y := make([]float32, p.OutSize())
	scratch := make([]float32, max(p.ForwardScratch(), p.BackwardScratch()))
	p.Forward(x, w, b, y, scratch)

	x64, w64, b64, dy64 := to64(x), to64(w), to64(b), to64(dy)
	f := func() []float64 { return refConv(p, x64, w64, b64) }
	expectClose(t, "forward y", y, f(), fwdTol)

	// Fill the gradients with garbage first: Backward must overwrite them.
	dx := randn(rng, p.InSize(), 1)
	dw := randn(rng, p.WeightSize(), 1)
	db := randn(rng, p.BiasSize(), 1)
	p.Backward(x, w, y, dy, dx, dw, db, scratch)
	expectClose(t, "dx", dx, numGrad(f, x64, dy64), bwdTol)
	expectClose(t, "dw", dw, numGrad(f, w64, dy64), bwdTol)
	expectClose(t, "db", db, numGrad(f, b64, dy64), bwdTol)

	// A nil dx (first layer) and nil db must still give the same dw.
	dw2 := make([]float32, p.WeightSize())
	p.Backward(x, w, y, dy, nil, dw2, nil, scratch)
	for i := range dw {
		if dw[i] != dw2[i] {
			t.Fatalf("dw with nil dx differs at %d: %g vs %g", i, dw2[i], dw[i])
		}
	}
}

// TestConvNoBias checks that a nil bias means a zero bias.
func TestConvNoBias(t *testing.T) {
	p := Conv{N: 1, C: 2, H: 5, W: 5, F: 3, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1, OH: 5, OW: 5}
	rng := NewRNG(9, 9)
	x, w := randn(rng, p.InSize(), 1), randn(rng, p.WeightSize(), 1)
	y := make([]float32, p.OutSize())
	p.Forward(x, w, nil, y, make([]float32, p.ForwardScratch()))
	expectClose(t, "y", y, refConv(p, to64(x), to64(w), nil), fwdTol)
}

func TestConvValidate(t *testing.T) {
	good := Conv{N: 1, C: 4, H: 224, W: 224, F: 96, KH: 11, KW: 11, Stride: 4, PadB: 3, PadR: 3, Groups: 1, OH: 55, OW: 55}
	if err := good.Validate(); err != nil {
		t.Errorf("conv1 with ceil padding: %v", err)
	}
	bad := good
	bad.OH = 54
	if bad.Validate() == nil {
		t.Error("wrong OH accepted")
	}
	bad = good
	bad.Groups = 3
	if bad.Validate() == nil {
		t.Error("groups that do not divide C accepted")
	}
}

// TestConvChunks runs a batch that Forward and Backward cut into chunks of
// several images, with 1, 2 and 3 threads (one chunk of 7; 4 + 3; 3 + 3 +
// 1), so that the side-by-side layout, the last short chunk and the sums of
// the threads' gradients are all exercised, and checks the results against
// the float64 reference. Forward does the same arithmetic whatever the
// chunks, so its outputs must also agree bit for bit.
func TestConvChunks(t *testing.T) {
	defer SetThreads(0)
	p := Conv{N: 7, C: 4, H: 5, W: 5, F: 6, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 2, OH: 5, OW: 5, Act: ReLU}
	var first []float32
	for _, threads := range []int{1, 2, 3} {
		SetThreads(threads)
		if got, want := ceilDiv(p.N, p.chunk(threads)), min(threads, 3); got != want {
			t.Fatalf("%d threads: %d chunks, want %d", threads, got, want)
		}
		t.Run(fmt.Sprintf("threads%d", threads), func(t *testing.T) { checkConv(t, p, 11) })
		rng := NewRNG(3, 3)
		x, w, b := randn(rng, p.InSize(), 1), randn(rng, p.WeightSize(), 1), randn(rng, p.F, 1)
		y := make([]float32, p.OutSize())
		p.Forward(x, w, b, y, make([]float32, p.ForwardScratch()))
		if first == nil {
			first = y
			continue
		}
		for i := range y {
			if y[i] != first[i] {
				t.Fatalf("%d threads: y[%d] = %g, with 1 thread %g", threads, i, y[i], first[i])
			}
		}
	}
}

// TestConvForwardPanels checks Forward against the float64 reference on
// every GEMM path, with 1 and 2 threads, on shapes chosen to reach every
// way a panel of the product is packed: by runs of lanes contiguous in the
// image (a stride-1 convolution as wide as its input, where only image
// boundaries break a run), by gathers (a valid convolution, whose every
// row of outputs is a run, a tiny output whose panels span several images,
// a strided one too small to rearrange), and by runs from the
// space-to-depth rearrangement (strides 2 and 4, on the path that has
// runs); filters longer than one block of k, filter
// counts that are not a multiple of the tile, no bias, and a batch of one.
func TestConvForwardPanels(t *testing.T) {
	defer SetThreads(0)
	same := func(n, c, hw, f, k, groups int) Conv {
		pad := k / 2
		return Conv{N: n, C: c, H: hw, W: hw, F: f, KH: k, KW: k, Stride: 1, PadT: pad, PadL: pad, PadB: pad, PadR: pad, Groups: groups, OH: hw, OW: hw, Act: ReLU}
	}
	type packing struct{ runs, gathers, s2d bool }
	cases := []struct {
		name string
		p    Conv
		want packing // on a path with runs (the AVX-512 one)
		bias bool
	}{
		{"same3x3_k576", same(3, 64, 13, 20, 3, 1), packing{runs: true}, true},
		{"same5x5_groups", same(2, 8, 27, 26, 5, 2), packing{runs: true}, false},
		{"valid_tiny", Conv{N: 5, C: 3, H: 6, W: 6, F: 13, KH: 3, KW: 3, Stride: 1, Groups: 1, OH: 4, OW: 4}, packing{runs: true, gathers: true}, true},
		{"stride2_asym", Conv{N: 2, C: 4, H: 15, W: 16, F: 12, KH: 3, KW: 2, Stride: 2, PadT: 1, PadB: 2, PadR: 1, Groups: 2,
			OH: OutSize(15, 3, 2, 1, 2), OW: OutSize(16, 2, 2, 0, 1), Act: Tanh}, packing{runs: true, s2d: true}, true},
		{"stride2_small", Conv{N: 3, C: 4, H: 7, W: 8, F: 4, KH: 3, KW: 2, Stride: 2, PadT: 1, PadB: 2, PadR: 1, Groups: 2,
			OH: OutSize(7, 3, 2, 1, 2), OW: OutSize(8, 2, 2, 0, 1), Act: ReLU}, packing{gathers: true}, true},
		{"stride4_ceil", Conv{N: 3, C: 3, H: 59, W: 59, F: 24, KH: 11, KW: 11, Stride: 4, PadL: 2, PadT: 1, PadB: ceilPad(59, 11, 4, 1), PadR: ceilPad(59, 11, 4, 2),
			Groups: 1, OH: 1 + (59+1-11+3)/4, OW: 1 + (59+2-11+3)/4, Act: ReLU}, packing{runs: true, s2d: true}, true},
	}
	for _, c := range cases {
		p := c.p
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		rng := NewRNG(5, 5)
		x, w, b := randn(rng, p.InSize(), 1), randn(rng, p.WeightSize(), 0.3), randn(rng, p.F, 0.3)
		if !c.bias {
			b = nil
		}
		var b64 []float64
		if b != nil {
			b64 = to64(b)
		}
		want := refConv(p, to64(x), to64(w), b64)
		for _, path := range gemmPaths() {
			// How this path packs the shape's panels.
			g := chooseGemm(path)
			var apBuf []float32
			var offBuf, tapBuf []int32
			cp := p.product(g, w, b, p.C*p.H*p.W, p.H*p.W, p.F*p.OH*p.OW, p.OH*p.OW, false, &apBuf, &offBuf, &tapBuf)
			got := packing{s2d: cp.s2d.on}
			nr := g.nr
			idx, runs, rowIn, colIn := make([]int32, nr), make([]int32, 2*nr), make([]int32, p.KH), make([]int32, p.KW)
			for col0 := 0; col0 < p.N*p.OH*p.OW; col0 += nr {
				nruns := cp.panelLanes(col0, min(nr, p.N*p.OH*p.OW-col0), idx, runs, rowIn, colIn)
				byRuns := g.packRuns != nil && nruns <= maxPackRuns
				got.runs = got.runs || byRuns
				got.gathers = got.gathers || !byRuns
			}
			if g.packRuns != nil && got != c.want {
				t.Fatalf("%s on %s: packing %+v, want %+v", c.name, path, got, c.want)
			}
			for _, threads := range []int{1, 2} {
				t.Run(fmt.Sprintf("%s/%s/t%d", c.name, path, threads), func(t *testing.T) {
					SetThreads(threads)
					y := randn(rng, p.OutSize(), 1) // Forward must overwrite it
					withGEMMPath(t, path, func() { p.Forward(x, w, b, y, make([]float32, p.ForwardScratch())) })
					expectClose(t, "y", y, want, fwdTol)
				})
			}
		}
	}
}

// TestConvReLUSpecialValues checks that the forward epilogue's ReLU is Go's
// max(v, 0) on every path: a NaN input gives NaN outputs where it is read
// (so that a diverging net shows it), and −0 comes out as +0.
func TestConvReLUSpecialValues(t *testing.T) {
	// A 1×1 convolution with one filter of weight 1 and bias 0: y = relu(x).
	p := Conv{N: 1, C: 1, H: 6, W: 7, F: 1, KH: 1, KW: 1, Stride: 1, Groups: 1, OH: 6, OW: 7, Act: ReLU}
	x := make([]float32, p.InSize())
	for i := range x {
		x[i] = float32(i%5) - 2
	}
	nan := float32(math.NaN())
	x[3], x[4], x[40] = nan, float32(math.Copysign(0, -1)), nan
	for _, path := range gemmPaths() {
		y := make([]float32, p.OutSize())
		withGEMMPath(t, path, func() { p.Forward(x, []float32{1}, []float32{0}, y, make([]float32, p.ForwardScratch())) })
		for i, v := range y {
			want := max(x[i], 0)
			if math.IsNaN(float64(want)) != math.IsNaN(float64(v)) || !math.IsNaN(float64(want)) && (v != want || math.Signbit(float64(v))) {
				t.Errorf("%s: relu(%g) = %g, want %g", path, x[i], v, want)
			}
		}
	}
}
