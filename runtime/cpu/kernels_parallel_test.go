package cpu

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// The tests in this file check what splitting the non-GEMM kernels across
// the worker pool must preserve: the same bits whatever the thread count,
// the first-maximum rule of max pooling, no allocation per call, and no
// deadlock when a light kernel is called from inside a parallel region.

// inThreads runs f with SetThreads(n) and restores the default afterwards.
func inThreads(n int, f func()) {
	SetThreads(n)
	defer SetThreads(0)
	f()
}

// splitInto runs f with SetThreads(n) and fails unless f ran a parallel
// region of n parts, so that a shape meant to exercise the parallel path
// does not silently fall below a kernel's threshold.
func splitInto(t *testing.T, n int, f func()) {
	t.Helper()
	par.parts = 0
	inThreads(n, f)
	if par.parts != n {
		t.Fatalf("ran in %d parts, want %d", par.parts, n)
	}
}

// sameBits fails unless got and want are equal bit for bit (NaNs included).
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %g, want %g bit for bit", what, i, got[i], want[i])
		}
	}
}

func sameInts(t *testing.T, what string, got, want []int32) {
	t.Helper()
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s[%d] = %d, want %d", what, i, got[i], want[i])
		}
	}
}

// threadInvariant runs a kernel once on one thread and once split in three,
// and checks that every output comes out the same. run gets fresh copies of
// the inputs each time and returns its outputs.
func threadInvariant(t *testing.T, run func() [][]float32) {
	t.Helper()
	var serial [][]float32
	inThreads(1, func() { serial = run() })
	var split [][]float32
	splitInto(t, 3, func() { split = run() })
	for i := range serial {
		sameBits(t, fmt.Sprintf("output %d", i), split[i], serial[i])
	}
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

func TestLRNThreadInvariant(t *testing.T) {
	cases := []LRN{
		{N: 5, C: 12, H: 19, W: 21, C0: 0, C1: 12, Size: 5, K: 2, Alpha: 1e-2, Beta: 0.75, Convention: AlphaSum},
		{N: 5, C: 12, H: 19, W: 21, C0: 6, C1: 12, Size: 5, K: 2, Alpha: 1e-2, Beta: 0.75, Convention: AlphaMean},
		{N: 5, C: 10, H: 18, W: 23, C0: 1, C1: 9, Size: 7, K: 1, Alpha: 0.5, Beta: 0.6, Convention: AlphaMean},
		{N: 5, C: 9, H: 20, W: 20, C0: 0, C1: 9, Size: 3, K: 1.5, Alpha: 0.3, Beta: 0.75, Convention: AlphaSum},
	}
	for i, p := range cases {
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			rng := NewRNG(uint64(i), 11)
			x, dy := randn(rng, p.TensorSize(), 2), randn(rng, p.TensorSize(), 1)
			threadInvariant(t, func() [][]float32 {
				y, dx := make([]float32, p.TensorSize()), make([]float32, p.TensorSize())
				p.Forward(x, y)
				p.Backward(x, dy, dx, make([]float32, p.BackwardScratch()))
				return [][]float32{y, dx}
			})
		})
	}
}

// TestLRNWindowShapes checks Forward and Backward against the float64
// reference and its numerical gradient for windows the paper does not use:
// wider than five, wider than the slice, and of one channel, which exercise
// the backward pass's ring of planes at its limits.
func TestLRNWindowShapes(t *testing.T) {
	cases := []LRN{
		{N: 2, C: 11, H: 2, W: 3, C0: 1, C1: 10, Size: 7, K: 1, Alpha: 0.4, Beta: 0.75, Convention: AlphaSum},
		{N: 2, C: 8, H: 3, W: 2, C0: 2, C1: 5, Size: 7, K: 1, Alpha: 0.4, Beta: 0.75, Convention: AlphaMean},
		{N: 2, C: 6, H: 2, W: 2, C0: 0, C1: 6, Size: 9, K: 2, Alpha: 1.5, Beta: 0.6, Convention: AlphaMean},
		{N: 2, C: 4, H: 3, W: 3, C0: 1, C1: 3, Size: 1, K: 1, Alpha: 0.5, Beta: 0.75, Convention: AlphaSum},
	}
	for i, p := range cases {
		t.Run(fmt.Sprintf("size%d_slice%d-%d", p.Size, p.C0, p.C1), func(t *testing.T) {
			rng := NewRNG(uint64(i), 24)
			x, dy := randn(rng, p.TensorSize(), 1), randn(rng, p.TensorSize(), 1)
			y, dx := make([]float32, p.TensorSize()), make([]float32, p.TensorSize())
			p.Forward(x, y)
			p.Backward(x, dy, dx, make([]float32, p.BackwardScratch()))
			x64 := to64(x)
			f := func() []float64 { return refLRN(p, x64) }
			expectClose(t, "forward y", y, f(), fwdTol)
			expectClose(t, "dx", dx, numGrad(f, x64, to64(dy)), bwdTol)
		})
	}
}

// refMaxPool is max pooling by its definition: a running maximum over each
// window in row-major order that a later element replaces only when
// strictly greater.
func refMaxPool(p MaxPool, x []float32) ([]float32, []int32) {
	y, arg := make([]float32, p.OutSize()), make([]int32, p.OutSize())
	hw, ohw := p.H*p.W, p.OH*p.OW
	for nc := 0; nc < p.N*p.C; nc++ {
		for oh := 0; oh < p.OH; oh++ {
			h0, h1 := span(oh, p.Stride, p.PadT, p.Size, p.H)
			for ow := 0; ow < p.OW; ow++ {
				w0, w1 := span(ow, p.Stride, p.PadL, p.Size, p.W)
				best, at := float32(0), int32(-1)
				for h := h0; h < h1; h++ {
					for w := w0; w < w1; w++ {
						if v := x[nc*hw+h*p.W+w]; at < 0 || v > best {
							best, at = v, int32(h*p.W+w)
						}
					}
				}
				y[nc*ohw+oh*p.OW+ow], arg[nc*ohw+oh*p.OW+ow] = best, at
			}
		}
	}
	return y, arg
}

// tieHeavy returns n values drawn from a handful, ±0 among them, so that
// most windows hold ties, with a sprinkling of NaNs and infinities.
func tieHeavy(rng *RNG, n int) []float32 {
	negZero := float32(math.Copysign(0, -1))
	vals := []float32{-2, -1, negZero, 0, 1, 2, float32(math.Inf(1)), float32(math.Inf(-1))}
	x := make([]float32, n)
	for i := range x {
		switch r := rng.Uint32(); {
		case r%97 == 0:
			x[i] = float32(math.NaN())
		case r%13 == 0:
			x[i] = vals[6+r/13%2]
		default:
			x[i] = vals[r/97%6]
		}
	}
	return x
}

func poolCases() []Pool {
	shapes := []Pool{
		{N: 5, C: 4, H: 27, W: 27, Size: 3, Stride: 2},
		// Rows of 35 windows: two full groups of the vector loop's 16 and
		// a part of one.
		{N: 5, C: 3, H: 9, W: 71, Size: 3, Stride: 2},
		{N: 5, C: 3, H: 28, W: 28, Size: 3, Stride: 2, PadB: ceilPad(28, 3, 2, 0), PadR: ceilPad(28, 3, 2, 0)},
		{N: 5, C: 3, H: 13, W: 11, Size: 3, Stride: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1},
		{N: 5, C: 3, H: 12, W: 12, Size: 2, Stride: 2},
		{N: 5, C: 3, H: 9, W: 10, Size: 3, Stride: 1},
		{N: 5, C: 2, H: 16, W: 16, Size: 4, Stride: 3, PadB: 2, PadR: 2},
		{N: 5, C: 3, H: 9, W: 10, Size: 3, Stride: 1, PadT: 1, PadL: 2, PadB: 1, PadR: 2},
		// Planes narrower than a window: no window is inside the columns,
		// though many are inside the rows.
		{N: 5, C: 3, H: 7, W: 2, Size: 3, Stride: 2, PadR: 1},
		{N: 5, C: 3, H: 7, W: 1, Size: 3, Stride: 1, PadL: 1, PadR: 1},
	}
	for i := range shapes {
		p := &shapes[i]
		p.OH = OutSize(p.H, p.Size, p.Stride, p.PadT, p.PadB)
		p.OW = OutSize(p.W, p.Size, p.Stride, p.PadL, p.PadR)
	}
	return shapes
}

// TestMaxPoolMatchesDefinition checks the branch-free argmax against the
// running maximum on inputs full of ties, signed zeros, NaNs and
// infinities: the same values bit for bit and the same positions.
func TestMaxPoolMatchesDefinition(t *testing.T) {
	for i, q := range poolCases() {
		p := MaxPool(q)
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		rng := NewRNG(uint64(i), 13)
		for _, x := range [][]float32{tieHeavy(rng, p.InSize()), randn(rng, p.InSize(), 1)} {
			y, arg := make([]float32, p.OutSize()), make([]int32, p.OutSize())
			p.Forward(x, y, arg)
			wantY, wantArg := refMaxPool(p, x)
			sameBits(t, fmt.Sprintf("case %d y", i), y, wantY)
			sameInts(t, fmt.Sprintf("case %d argmax", i), arg, wantArg)
		}
	}
}

// TestMaxPoolEdges sweeps small planes, strides and paddings, where the
// windows inside the plane, which take the unrolled path, and those cut by
// its edges meet.
func TestMaxPoolEdges(t *testing.T) {
	rng := NewRNG(23, 23)
	for size := 2; size <= 4; size++ {
		for stride := 1; stride <= 3; stride++ {
			for w := 1; w <= 9; w++ {
				for padL := 0; padL < size; padL++ {
					for padR := 0; padR < size; padR++ {
						p := MaxPool{N: 1, C: 2, H: 5, W: w, Size: size, Stride: stride, PadT: padL, PadL: padL, PadB: padR, PadR: padR}
						p.OH, p.OW = OutSize(p.H, size, stride, padL, padR), OutSize(w, size, stride, padL, padR)
						if p.Validate() != nil {
							continue
						}
						x := tieHeavy(rng, p.InSize())
						y, arg := make([]float32, p.OutSize()), make([]int32, p.OutSize())
						p.Forward(x, y, arg)
						wantY, wantArg := refMaxPool(p, x)
						what := fmt.Sprintf("size %d stride %d W %d pad %d,%d", size, stride, w, padL, padR)
						sameBits(t, what+" y", y, wantY)
						sameInts(t, what+" argmax", arg, wantArg)
					}
				}
			}
		}
	}
}

func TestPoolThreadInvariant(t *testing.T) {
	for i, q := range poolCases() {
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			q.C = 1 + parallelMin/(q.N*q.H*q.W) // enough elements to be split
			rng := NewRNG(uint64(i), 14)
			x, dy := tieHeavy(rng, q.InSize()), randn(rng, q.OutSize(), 1)
			threadInvariant(t, func() [][]float32 {
				y, arg, dx := make([]float32, q.OutSize()), make([]int32, q.OutSize()), randn(NewRNG(1, 1), q.InSize(), 1)
				MaxPool(q).Forward(x, y, arg)
				MaxPool(q).Backward(arg, dy, dx)
				argf := make([]float32, len(arg))
				for i, a := range arg {
					argf[i] = float32(a)
				}
				ay, adx := make([]float32, q.OutSize()), randn(NewRNG(2, 2), q.InSize(), 1)
				AvgPool(q).Forward(x, ay)
				AvgPool(q).Backward(dy, adx)
				return [][]float32{y, argf, dx, ay, adx}
			})
		})
	}
}

func TestActivationThreadInvariant(t *testing.T) {
	for a := Identity; a <= LeakyReLU; a++ {
		t.Run(a.String(), func(t *testing.T) {
			// An odd length, so that the parts' shares are uneven and the
			// last 16-float line is partial.
			const n = 5*16384 + 7
			rng := NewRNG(uint64(a), 15)
			x, dy := randn(rng, n, 2), randn(rng, n, 1)
			threadInvariant(t, func() [][]float32 {
				y := clone(x)
				a.Forward(y)
				dx := make([]float32, n)
				a.Backward(y, dy, dx)
				inPlace := clone(dy)
				a.Backward(y, inPlace, inPlace)
				return [][]float32{y, dx, inPlace}
			})
		})
	}
}

func TestBiasActThreadInvariant(t *testing.T) {
	cases := []BiasAct{
		{N: 5, C: 16, HW: 1024, Act: ReLU},
		{N: 5, C: 16, HW: 81, Act: Tanh},
		{N: 1, C: 96, HW: 729, Act: ReLU}, // one image, as a convolution passes it
		{N: 5, C: 4099, HW: 1, Act: Sigmoid},
		{N: 5, C: 20000, HW: 1, Act: ReLU},
	}
	for i, p := range cases {
		t.Run(fmt.Sprintf("case%d_%v", i, p.Act), func(t *testing.T) {
			size := p.N * p.C * p.HW
			rng := NewRNG(uint64(i), 16)
			x, b, dy := randn(rng, size, 1), randn(rng, p.C, 1), randn(rng, size, 1)
			threadInvariant(t, func() [][]float32 {
				y, y0 := clone(x), clone(x)
				p.Forward(b, y)
				p.Forward(nil, y0)
				dx, db := make([]float32, size), make([]float32, p.C)
				p.Backward(y, dy, dx, db)
				inPlace := clone(dy)
				p.Backward(y, inPlace, inPlace, nil)
				return [][]float32{y, y0, dx, db, inPlace}
			})
		})
	}
}

func TestSoftmaxThreadInvariant(t *testing.T) {
	p := SoftmaxLoss{N: 5, Classes: 1000}
	rng := NewRNG(17, 17)
	logits := randn(rng, p.N*p.Classes, 5)
	labels := []int32{3, 999, 0, 500, 3}
	var losses [2]float64
	k := 0
	threadInvariant(t, func() [][]float32 {
		prob, prob2 := make([]float32, p.N*p.Classes), make([]float32, p.N*p.Classes)
		p.Softmax(logits, prob)
		losses[k] = p.Loss(logits, labels, prob2)
		k++
		d := make([]float32, p.N*p.Classes)
		p.Backward(prob2, labels, d)
		inPlace := clone(logits)
		p.Loss(inPlace, labels, inPlace)
		return [][]float32{prob, prob2, d, inPlace}
	})
	if math.Float64bits(losses[0]) != math.Float64bits(losses[1]) {
		t.Errorf("loss %v on one thread, %v on three", losses[0], losses[1])
	}
}

func TestDropoutThreadInvariant(t *testing.T) {
	p := Dropout{Len: 5*16384 + 3, Rate: 0.5}
	rng := NewRNG(18, 18)
	x, dy := randn(rng, p.Len, 1), randn(rng, p.Len, 1)
	mask := make([]uint8, p.Len)
	p.Train(NewRNG(19, 19), x, make([]float32, p.Len), mask)
	threadInvariant(t, func() [][]float32 {
		y, dx := make([]float32, p.Len), make([]float32, p.Len)
		p.Test(x, y)
		p.Backward(mask, dy, dx)
		return [][]float32{y, dx}
	})
}

func TestChannelCopyThreadInvariant(t *testing.T) {
	p := ChannelCopy{N: 5, HW: 1024, SrcC: 24, C0: 4, C1: 20, DstC: 40, D: 10}
	rng := NewRNG(20, 20)
	src, dst := randn(rng, p.N*p.SrcC*p.HW, 1), randn(rng, p.N*p.DstC*p.HW, 1)
	threadInvariant(t, func() [][]float32 {
		c, a := clone(dst), clone(dst)
		p.Copy(src, c)
		p.Add(src, a)
		return [][]float32{c, a}
	})
}

// TestKernelsDoNotAllocate checks that the kernels allocate nothing per call
// once warmed up, in one part and split in several, since the training loop
// runs them every step.
func TestKernelsDoNotAllocate(t *testing.T) {
	lrn := LRN{N: 8, C: 96, H: 27, W: 27, C0: 48, C1: 96, Size: 5, K: 2, Alpha: 1e-4, Beta: 0.75}
	pool := MaxPool{N: 8, C: 96, H: 27, W: 27, Size: 3, Stride: 2, OH: 13, OW: 13}
	rng := NewRNG(21, 21)
	x, dy := randn(rng, lrn.TensorSize(), 1), randn(rng, lrn.TensorSize(), 1)
	y, dx := make([]float32, lrn.TensorSize()), make([]float32, lrn.TensorSize())
	scratch := make([]float32, lrn.BackwardScratch())
	py, pdy := make([]float32, pool.OutSize()), randn(rng, pool.OutSize(), 1)
	arg := make([]int32, pool.OutSize())
	ba := BiasAct{N: 8, C: 96, HW: 27 * 27, Act: ReLU}
	bias, db := randn(rng, ba.C, 1), make([]float32, ba.C)
	sm := SoftmaxLoss{N: 8, Classes: 1000}
	labels := []int32{1, 2, 3, 4, 5, 6, 7, 8}
	drop := Dropout{Len: lrn.TensorSize(), Rate: 0.5}
	mask := make([]uint8, drop.Len)
	cc := ChannelCopy{N: 8, HW: 27 * 27, SrcC: 96, C0: 0, C1: 48, DstC: 96, D: 48}
	kernels := []struct {
		name string
		f    func()
	}{
		{"LRN.Forward", func() { lrn.Forward(x, y) }},
		{"LRN.Backward", func() { lrn.Backward(x, dy, dx, scratch) }},
		{"MaxPool.Forward", func() { pool.Forward(x, py, arg) }},
		{"MaxPool.Backward", func() { pool.Backward(arg, pdy, dx) }},
		{"AvgPool", func() { AvgPool(pool).Forward(x, py); AvgPool(pool).Backward(pdy, dx) }},
		{"BiasAct", func() { ba.Forward(bias, y); ba.Backward(y, dy, dx, db) }},
		{"Softmax", func() {
			sm.Softmax(x, y)
			sm.Loss(x, labels, y)
			sm.Backward(y, labels, dx)
		}},
		{"Dropout", func() { drop.Test(x, y); drop.Backward(mask, dy, dx) }},
		{"ChannelCopy", func() { cc.Copy(x, y); cc.Add(x, y) }},
	}
	for _, threads := range []int{1, 2, 3} {
		for _, k := range kernels {
			inThreads(threads, func() {
				k.f() // warm up: workers, per-part scratch
				if n := testing.AllocsPerRun(5, k.f); n != 0 {
					t.Errorf("%s with %d threads: %g allocations per call", k.name, threads, n)
				}
			})
		}
	}
}

// nestedJob calls the light kernels from inside a parallel region, as a
// convolution that splits its images does when it applies BiasAct and
// Activation to each image's output.
type nestedJob struct {
	p      BiasAct
	y, dy  []float32
	dx, db [][]float32
}

var nested nestedJob

func (j *nestedJob) do(i, n int) {
	size := j.p.C * j.p.HW
	for img := i; img < 2; img += n {
		y := j.y[img*size : (img+1)*size]
		j.p.Forward(nil, y)
		j.p.Backward(y, j.dy[img*size:(img+1)*size], j.dx[img], j.db[img])
		j.p.Act.Forward(y)
	}
}

// TestLightKernelsInsideRegion checks that BiasAct and Activation, called
// while par.mu is held by the region they run in, go serially instead of
// deadlocking, and give what they give outside it.
func TestLightKernelsInsideRegion(t *testing.T) {
	p := BiasAct{N: 1, C: 96, HW: 1024, Act: ReLU}
	size := p.C * p.HW
	rng := NewRNG(22, 22)
	x, dy := randn(rng, 2*size, 1), randn(rng, 2*size, 1)

	want := clone(x)
	wantDx := [][]float32{make([]float32, size), make([]float32, size)}
	wantDb := [][]float32{make([]float32, p.C), make([]float32, p.C)}
	for img := range 2 {
		y := want[img*size : (img+1)*size]
		p.Forward(nil, y)
		p.Backward(y, dy[img*size:(img+1)*size], wantDx[img], wantDb[img])
		p.Act.Forward(y)
	}

	got := clone(x)
	dx := [][]float32{make([]float32, size), make([]float32, size)}
	db := [][]float32{make([]float32, p.C), make([]float32, p.C)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		inThreads(2, func() {
			par.mu.Lock()
			defer par.mu.Unlock()
			nested = nestedJob{p, got, dy, dx, db}
			runParts(&nested, 2)
			nested = nestedJob{}
		})
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("a kernel called inside a parallel region deadlocked")
	}
	sameBits(t, "y", got, want)
	for img := range 2 {
		sameBits(t, "dx", dx[img], wantDx[img])
		sameBits(t, "db", db[img], wantDb[img])
	}
}
