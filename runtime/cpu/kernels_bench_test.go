package cpu

import "testing"

// The benchmarks below time the non-GEMM kernels on the shapes of the
// paper's AlexNet at its batch size of 128, where LRN and max pooling take a
// sizeable share of a training step.

// benchBatch is the paper's batch size.
const benchBatch = 128

// norm1 is the first response normalisation over both towers: 96 channels
// of 55×55, normalised as two 48-channel slices, one per GPU.
var norm1 = LRN{N: benchBatch, C: 96, H: 55, W: 55, Size: 5, K: 2, Alpha: 1e-4, Beta: 0.75}

// norm2 is the second response normalisation: 256 channels of 27×27.
var norm2 = LRN{N: benchBatch, C: 256, H: 27, W: 27, C0: 0, C1: 256, Size: 5, K: 2, Alpha: 1e-4, Beta: 0.75}

// pool1 is the first overlapping max pooling: 3/2 over 96 channels of 55×55,
// giving 27×27.
var pool1 = MaxPool{N: benchBatch, C: 96, H: 55, W: 55, Size: 3, Stride: 2, OH: 27, OW: 27}

// pool5 is the last max pooling: 3/2 over 256 channels of 13×13, giving 6×6.
var pool5 = MaxPool{N: benchBatch, C: 256, H: 13, W: 13, Size: 3, Stride: 2, OH: 6, OW: 6}

// reportCPU reports the CPU time the process spent per iteration since c0
// (a processCPUTime reading), summed over threads. Next to the wall time it
// shows how well a kernel uses the threads it splits into, and it is less
// disturbed than the wall time by other programs that load the machine.
func reportCPU(b *testing.B, c0 float64) {
	if c := processCPUTime(); c > 0 {
		b.ReportMetric((c-c0)*1e3/float64(b.N), "cpu-ms/op")
	}
}

// lrnSlices returns the slices a layer is normalised as: two halves for a
// layer split over two towers (C1 == 0 in the template), or the template.
func lrnSlices(p LRN) []LRN {
	if p.C1 != 0 {
		return []LRN{p}
	}
	lo, hi := p, p
	lo.C0, lo.C1 = 0, p.C/2
	hi.C0, hi.C1 = p.C/2, p.C
	return []LRN{lo, hi}
}

func benchmarkLRNForward(b *testing.B, p LRN) {
	slices := lrnSlices(p)
	x := randn(NewRNG(3, 3), p.TensorSize(), 1)
	y := make([]float32, p.TensorSize())
	forward := func() {
		for _, s := range slices {
			s.Forward(x, y)
		}
	}
	forward() // fault the output pages in before timing
	b.SetBytes(int64(8 * p.TensorSize()))
	c0 := processCPUTime()
	for b.Loop() {
		forward()
	}
	reportCPU(b, c0)
}

func benchmarkLRNBackward(b *testing.B, p LRN) {
	slices := lrnSlices(p)
	rng := NewRNG(3, 3)
	x, dy := randn(rng, p.TensorSize(), 1), randn(rng, p.TensorSize(), 1)
	y, dx := make([]float32, p.TensorSize()), make([]float32, p.TensorSize())
	var scratch []float32
	for _, s := range slices {
		s.Forward(x, y)
		if len(scratch) < s.BackwardScratch() {
			scratch = make([]float32, s.BackwardScratch())
		}
	}
	backward := func() {
		for _, s := range slices {
			s.Backward(x, dy, dx, scratch[:s.BackwardScratch()])
		}
	}
	backward()
	b.SetBytes(int64(20 * p.TensorSize()))
	c0 := processCPUTime()
	for b.Loop() {
		backward()
	}
	reportCPU(b, c0)
}

func BenchmarkLRNForwardNorm1(b *testing.B)  { benchmarkLRNForward(b, norm1) }
func BenchmarkLRNBackwardNorm1(b *testing.B) { benchmarkLRNBackward(b, norm1) }
func BenchmarkLRNForwardNorm2(b *testing.B)  { benchmarkLRNForward(b, norm2) }
func BenchmarkLRNBackwardNorm2(b *testing.B) { benchmarkLRNBackward(b, norm2) }

func benchmarkMaxPoolForward(b *testing.B, p MaxPool) {
	x := randn(NewRNG(4, 4), p.InSize(), 1)
	y, arg := make([]float32, p.OutSize()), make([]int32, p.OutSize())
	p.Forward(x, y, arg)
	b.SetBytes(int64(4*p.InSize() + 8*p.OutSize()))
	c0 := processCPUTime()
	for b.Loop() {
		p.Forward(x, y, arg)
	}
	reportCPU(b, c0)
}

func benchmarkMaxPoolBackward(b *testing.B, p MaxPool) {
	rng := NewRNG(4, 4)
	x, dy := randn(rng, p.InSize(), 1), randn(rng, p.OutSize(), 1)
	y, arg, dx := make([]float32, p.OutSize()), make([]int32, p.OutSize()), make([]float32, p.InSize())
	p.Forward(x, y, arg)
	p.Backward(arg, dy, dx)
	b.SetBytes(int64(4*p.InSize() + 8*p.OutSize()))
	c0 := processCPUTime()
	for b.Loop() {
		p.Backward(arg, dy, dx)
	}
	reportCPU(b, c0)
}

func BenchmarkMaxPoolForwardPool1(b *testing.B)  { benchmarkMaxPoolForward(b, pool1) }
func BenchmarkMaxPoolBackwardPool1(b *testing.B) { benchmarkMaxPoolBackward(b, pool1) }
func BenchmarkMaxPoolForwardPool5(b *testing.B)  { benchmarkMaxPoolForward(b, pool5) }
func BenchmarkMaxPoolBackwardPool5(b *testing.B) { benchmarkMaxPoolBackward(b, pool5) }
