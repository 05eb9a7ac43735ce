package cpu

import (
	"fmt"
	"testing"
)

// TestLRNMaxPoolMatchesTwoSteps checks the fused pass against LRN.Forward
// and MaxPool.Forward run one after the other: the same pooled values and
// argmax, bit for bit, on every GEMM path (the vector loops and the Go
// ones), with 1 to 3 threads, for β = 0.75 and another β, overlapping
// pooling with ceil padding and a plain 2×2 pooling.
func TestLRNMaxPoolMatchesTwoSteps(t *testing.T) {
	defer SetThreads(0)
	pool := func(n, c, h, w, size, stride, padB int) MaxPool {
		q := MaxPool{N: n, C: c, H: h, W: w, Size: size, Stride: stride, PadB: padB, PadR: padB}
		q.OH, q.OW = OutSize(h, size, stride, 0, padB), OutSize(w, size, stride, 0, padB)
		return q
	}
	cases := []LRNMaxPool{
		{LRN{N: 5, C: 7, H: 55, W: 55, C1: 7, Size: 5, K: 2, Alpha: 1e-4, Beta: 0.75}, pool(5, 7, 55, 55, 3, 2, 0)},
		{LRN{N: 4, C: 6, H: 28, W: 28, C1: 6, Size: 5, K: 2, Alpha: 1e-2, Beta: 0.75, Convention: AlphaMean}, pool(4, 6, 28, 28, 3, 2, ceilPad(28, 3, 2, 0))},
		{LRN{N: 3, C: 4, H: 12, W: 12, C1: 4, Size: 3, K: 1, Alpha: 0.1, Beta: 0.6}, pool(3, 4, 12, 12, 2, 2, 0)},
	}
	for i, f := range cases {
		if err := f.Validate(); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		rng := NewRNG(uint64(i), 17)
		x := tieHeavy(rng, f.LRN.TensorSize())
		for _, path := range gemmPaths() {
			for _, threads := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("case%d/%s/t%d", i, path, threads), func(t *testing.T) {
					SetThreads(threads)
					mid := make([]float32, f.LRN.TensorSize())
					wantY, wantArg := make([]float32, f.Pool.OutSize()), make([]int32, f.Pool.OutSize())
					y, arg := randn(rng, f.Pool.OutSize(), 1), make([]int32, f.Pool.OutSize())
					withGEMMPath(t, path, func() {
						f.LRN.Forward(x, mid)
						f.Pool.Forward(mid, wantY, wantArg)
						f.Forward(x, y, arg)
					})
					sameBits(t, "y", y, wantY)
					sameInts(t, "argmax", arg, wantArg)
				})
			}
		}
	}
}

func TestLRNMaxPoolValidate(t *testing.T) {
	l := LRN{N: 2, C: 4, H: 9, W: 9, C1: 4, Size: 5, K: 2, Alpha: 1e-4, Beta: 0.75}
	q := MaxPool{N: 2, C: 4, H: 9, W: 9, Size: 3, Stride: 2, OH: 4, OW: 4}
	if err := (LRNMaxPool{l, q}).Validate(); err != nil {
		t.Fatalf("a good pair: %v", err)
	}
	half := l
	half.C1 = 2
	if (LRNMaxPool{half, q}).Validate() == nil {
		t.Error("an LRN over half the channels was accepted")
	}
	other := q
	other.C = 3
	if (LRNMaxPool{l, other}).Validate() == nil {
		t.Error("a pooling of another shape was accepted")
	}
}

// BenchmarkLRNMaxPool times norm1 and pool1 of the paper, one tower's 48
// channels at batch 128, as one pass and as two.
func BenchmarkLRNMaxPool(b *testing.B) {
	l := LRN{N: 128, C: 48, H: 55, W: 55, C1: 48, Size: 5, K: 2, Alpha: 1e-4, Beta: 0.75}
	q := MaxPool{N: 128, C: 48, H: 55, W: 55, Size: 3, Stride: 2, OH: 27, OW: 27}
	x := randn(NewRNG(1, 1), l.TensorSize(), 1)
	mid := make([]float32, l.TensorSize())
	y, arg := make([]float32, q.OutSize()), make([]int32, q.OutSize())
	b.Run("fused", func(b *testing.B) {
		for b.Loop() {
			LRNMaxPool{l, q}.Forward(x, y, arg)
		}
	})
	b.Run("apart", func(b *testing.B) {
		for b.Loop() {
			l.Forward(x, mid)
			q.Forward(mid, y, arg)
		}
	})
}
