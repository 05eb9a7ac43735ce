package cpu

import (
	"math"
	"testing"
)

// This file holds the test suite's float64 reference: direct-loop versions
// of every layer, written independently of the float32 code path (direct
// convolution rather than im2col, per-element window sums in LRN), and the
// finite-difference machinery that checks the float32 gradients against it.
//
// Tolerances, used by every layer test:
//
//   - forward: the float32 kernel against the float64 reference on the same
//     inputs, relative error at most fwdTol = 1e-5;
//   - backward: the float32 dX, dW, dB against central differences of the
//     float64 reference with step fdStep = 1e-6, relative error at most
//     bwdTol = 1e-4.
//
// "Relative error" of an element is |got − want| / max(|want|, rms(want)),
// where rms is over the whole tensor being compared: near-zero entries (for
// example a gradient that nearly cancels) are judged against the tensor's
// scale rather than against themselves, since float32 rounding of the terms
// that cancelled is proportional to the terms, not to their sum. Central
// differences in float64 at h = 1e-6 are accurate to about 1e-9 relative
// here, far below bwdTol, so the tolerance measures the float32 kernels.
const (
	fwdTol = 1e-5
	bwdTol = 1e-4
	fdStep = 1e-6
)

// randn returns n float32 normal numbers of standard deviation scale, drawn
// from rng so that every test is reproducible.
func randn(rng *RNG, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(scale * rng.NormFloat64())
	}
	return x
}

// to64 widens a float32 tensor so that the reference sees exactly the values
// the kernel saw.
func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// relErr returns the largest relative error of got against want, in the
// sense described at the top of this file, and the index where it occurs.
func relErr(got []float32, want []float64) (float64, int) {
	if len(got) != len(want) {
		panic("relErr: lengths differ")
	}
	var ss float64
	for _, v := range want {
		ss += v * v
	}
	rms := math.Sqrt(ss / float64(max(len(want), 1)))
	worst, at := 0.0, -1
	for i, w := range want {
		d := math.Abs(float64(got[i]) - w)
		den := max(math.Abs(w), rms)
		e := 0.0
		if d != 0 {
			e = d / den
		}
		if math.IsNaN(float64(got[i])) {
			e = math.Inf(1)
		}
		if e > worst || at < 0 {
			worst, at = e, i
		}
	}
	return worst, at
}

// expectClose fails the test when got is further than tol from want, and
// logs the largest error so that `go test -v` shows the margins.
func expectClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	e, at := relErr(got, want)
	if e > tol || math.IsNaN(e) {
		t.Errorf("%s: relative error %.3g at %d (got %g, want %g), tolerance %g", what, e, at, got[at], want[at], tol)
		return
	}
	t.Logf("%s: max relative error %.3g", what, e)
}

// numGrad returns the central-difference gradient of L = Σ dy·f() with
// respect to every element of x, where f reads x (which numGrad perturbs in
// place and restores).
func numGrad(f func() []float64, x, dy []float64) []float64 {
	g := make([]float64, len(x))
	for i := range x {
		orig := x[i]
		x[i] = orig + fdStep
		lp := dot64(f(), dy)
		x[i] = orig - fdStep
		lm := dot64(f(), dy)
		x[i] = orig
		g[i] = (lp - lm) / (2 * fdStep)
	}
	return g
}

func dot64(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// refAct is the float64 reference of an activation.
func refAct(a Activation, v float64) float64 {
	switch a {
	case ReLU:
		return max(v, 0)
	case Tanh:
		return math.Tanh(v)
	case Sigmoid:
		return 1 / (1 + math.Exp(-v))
	case LeakyReLU:
		return max(v, LeakySlope*v)
	}
	return v
}

// refConv is direct convolution: every output element is the sum over its
// group's channels and the kernel taps that fall inside the input.
func refConv(p Conv, x, w, b []float64) []float64 {
	y := make([]float64, p.OutSize())
	cg, fg := p.C/p.Groups, p.F/p.Groups
	for n := 0; n < p.N; n++ {
		for f := 0; f < p.F; f++ {
			g := f / fg
			for oh := 0; oh < p.OH; oh++ {
				for ow := 0; ow < p.OW; ow++ {
					s := 0.0
					if b != nil {
						s = b[f]
					}
					for c := 0; c < cg; c++ {
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								ih := oh*p.Stride - p.PadT + kh
								iw := ow*p.Stride - p.PadL + kw
								if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
									continue
								}
								xv := x[((n*p.C+g*cg+c)*p.H+ih)*p.W+iw]
								wv := w[((f*cg+c)*p.KH+kh)*p.KW+kw]
								s += xv * wv
							}
						}
					}
					y[((n*p.F+f)*p.OH+oh)*p.OW+ow] = refAct(p.Act, s)
				}
			}
		}
	}
	return y
}

// refLRN normalises channels [C0, C1) as the paper's formula reads, element
// by element; channels outside the slice are zero in the result.
func refLRN(p LRN, x []float64) []float64 {
	y := make([]float64, len(x))
	alpha := float64(p.Alpha)
	if p.Convention == AlphaMean {
		alpha /= float64(p.Size)
	}
	hw := p.H * p.W
	for n := 0; n < p.N; n++ {
		for c := p.C0; c < p.C1; c++ {
			for i := 0; i < hw; i++ {
				s := 0.0
				for j := max(p.C0, c-p.Size/2); j <= min(p.C1-1, c+p.Size/2); j++ {
					a := x[(n*p.C+j)*hw+i]
					s += a * a
				}
				y[(n*p.C+c)*hw+i] = x[(n*p.C+c)*hw+i] / math.Pow(float64(p.K)+alpha*s, float64(p.Beta))
			}
		}
	}
	return y
}

// refPool pools each window over its in-bounds elements, taking the maximum
// or the mean over their count.
func refPool(p Pool, isMax bool, x []float64) []float64 {
	y := make([]float64, p.OutSize())
	for nc := 0; nc < p.N*p.C; nc++ {
		for oh := 0; oh < p.OH; oh++ {
			for ow := 0; ow < p.OW; ow++ {
				best, s, count := math.Inf(-1), 0.0, 0
				for kh := 0; kh < p.Size; kh++ {
					for kw := 0; kw < p.Size; kw++ {
						ih, iw := oh*p.Stride-p.PadT+kh, ow*p.Stride-p.PadL+kw
						if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
							continue
						}
						v := x[(nc*p.H+ih)*p.W+iw]
						best = max(best, v)
						s += v
						count++
					}
				}
				if isMax {
					y[(nc*p.OH+oh)*p.OW+ow] = best
				} else {
					y[(nc*p.OH+oh)*p.OW+ow] = s / float64(count)
				}
			}
		}
	}
	return y
}

// refFC is y = act(x·Wᵀ + b) by explicit sums.
func refFC(p FC, x, w, b []float64) []float64 {
	y := make([]float64, p.OutSize())
	for n := 0; n < p.N; n++ {
		for o := 0; o < p.Out; o++ {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for i := 0; i < p.In; i++ {
				s += x[n*p.In+i] * w[o*p.In+i]
			}
			y[n*p.Out+o] = refAct(p.Act, s)
		}
	}
	return y
}

// refSoftmaxLoss is the mean of −log(exp(z_label)/Σ exp z), computed directly
// (the test logits are small enough not to overflow float64).
func refSoftmaxLoss(p SoftmaxLoss, z []float64, labels []int32) float64 {
	total := 0.0
	for n := 0; n < p.N; n++ {
		s := 0.0
		for c := 0; c < p.Classes; c++ {
			s += math.Exp(z[n*p.Classes+c])
		}
		total -= math.Log(math.Exp(z[n*p.Classes+int(labels[n])]) / s)
	}
	return total / float64(p.N)
}
