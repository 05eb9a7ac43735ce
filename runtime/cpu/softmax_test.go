package cpu

import (
	"math"
	"testing"
)

func TestSoftmaxLossGradient(t *testing.T) {
	p := SoftmaxLoss{N: 4, Classes: 7}
	rng := NewRNG(7, 7)
	z := randn(rng, p.N*p.Classes, 3)
	labels := []int32{0, 6, 3, 3}
	prob := make([]float32, len(z))
	loss := p.Loss(z, labels, prob)
	z64 := to64(z)
	want := refSoftmaxLoss(p, z64, labels)
	if math.Abs(loss-want) > 1e-6*math.Abs(want) {
		t.Errorf("loss %g, want %g", loss, want)
	}
	t.Logf("loss relative error %.3g", math.Abs(loss-want)/want)
	for n := 0; n < p.N; n++ {
		var s float64
		for _, v := range prob[n*p.Classes : (n+1)*p.Classes] {
			s += float64(v)
		}
		if math.Abs(s-1) > 1e-6 {
			t.Errorf("row %d sums to %g", n, s)
		}
	}
	dz := make([]float32, len(z))
	p.Backward(prob, labels, dz)
	f := func() []float64 { return []float64{refSoftmaxLoss(p, z64, labels)} }
	expectClose(t, "dlogits", dz, numGrad(f, z64, []float64{1}), bwdTol)
}

// TestSoftmaxLossStable checks that huge logits neither overflow nor lose the
// loss: logits (1000, 0) with label 1 lose 1000 and (−1000, 1000) with
// label 0 lose 2000, so the mean is 1500.
func TestSoftmaxLossStable(t *testing.T) {
	p := SoftmaxLoss{N: 2, Classes: 2}
	z := []float32{1000, 0, -1000, 1000}
	prob := make([]float32, 4)
	loss := p.Loss(z, []int32{1, 0}, prob)
	if math.Abs(loss-1500) > 1e-9 {
		t.Errorf("loss %g, want 1500", loss)
	}
	for i, v := range prob {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("prob[%d] = %g", i, v)
		}
	}
	if prob[0] != 1 || prob[1] != 0 {
		t.Errorf("prob row 0 = %v", prob[:2])
	}
}

func TestSoftmaxErrors(t *testing.T) {
	p := SoftmaxLoss{N: 4, Classes: 6}
	scores := []float32{
		0.1, 0.5, 0.2, 0.0, 0.1, 0.1, // label 1 is top-1
		0.6, 0.1, 0.1, 0.1, 0.05, 0.05, // label 2 ties three others below 0.6
		0.3, 0.25, 0.2, 0.15, 0.1, 0.0, // label 5 is last
		0.2, 0.2, 0.2, 0.2, 0.2, 0.2, // all tied: label 4 is fifth by index
	}
	labels := []int32{1, 2, 5, 4}
	if got := p.Errors(scores, labels, 1); got != 3 {
		t.Errorf("top-1 errors %d, want 3", got)
	}
	// Row 1: classes 0 (higher) and 1 (tie, smaller index) outrank label 2,
	// so it is third; row 2's label is sixth; row 3's is fifth.
	if got := p.Errors(scores, labels, 5); got != 1 {
		t.Errorf("top-5 errors %d, want 1", got)
	}
	if got := p.Errors(scores, labels, 2); got != 3 {
		t.Errorf("top-2 errors %d, want 3", got)
	}
}

// TestSoftmaxBackwardPathsAgree checks the gradient on every GEMM path (the
// AVX-512 one scales rows with a vector loop) against each other, bit for
// bit, with rows that are and are not a multiple of 32 long.
func TestSoftmaxBackwardPathsAgree(t *testing.T) {
	for _, classes := range []int{10, 64, 1000} {
		p := SoftmaxLoss{N: 3, Classes: classes}
		rng := NewRNG(uint64(classes), 5)
		prob := randn(rng, p.N*classes, 1)
		labels := []int32{0, int32(classes - 1), int32(classes / 2)}
		var ref []float32
		for _, path := range gemmPaths() {
			d := make([]float32, len(prob))
			withGEMMPath(t, path, func() { p.Backward(prob, labels, d) })
			if ref == nil {
				ref = d
				continue
			}
			sameBits(t, path, d, ref)
		}
	}
}
