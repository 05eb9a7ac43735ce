package cpu

import (
	"fmt"
	"math"
)

// LRNAlpha says how the α of a local response normalisation is applied to
// the sum of squares.
type LRNAlpha int

const (
	// AlphaSum multiplies the sum of squares by α itself, as the paper's
	// formula in §3.3 is written.
	AlphaSum LRNAlpha = iota
	// AlphaMean multiplies it by α/n, which is what Caffe, PyTorch, ONNX and
	// the authors' own cuda-convnet do; with it the paper's α = 1e-4 is in
	// effect 5 times smaller.
	AlphaMean
)

// LRN is local response normalisation across channels (paper §3.3):
//
//	b_c = a_c / (K + α'·Σ_{j=max(C0,c−n/2)}^{min(C1−1,c+n/2)} a_j²)^Beta
//
// with n = Size (odd) and α' = Alpha or Alpha/Size as Convention says.
//
// It acts on the channel slice [C0, C1) of a [N][C][H][W] tensor: only those
// channels are read and written, and the neighbourhood is clipped at the
// slice's edges exactly as if the slice were a tensor of its own. That lets
// each tower normalise its own GPU's half of a layer whose two halves share
// one buffer. Use C0 = 0, C1 = C for a whole tensor.
type LRN struct {
	N, C, H, W int
	C0, C1     int
	Size       int
	K          float32
	Alpha      float32
	Beta       float32
	Convention LRNAlpha
}

// Validate reports whether the parameters are consistent.
func (p LRN) Validate() error {
	switch {
	case p.N <= 0 || p.C <= 0 || p.H <= 0 || p.W <= 0:
		return fmt.Errorf("lrn: sizes must be positive (N=%d C=%d H=%d W=%d)", p.N, p.C, p.H, p.W)
	case p.C0 < 0 || p.C1 > p.C || p.C0 >= p.C1:
		return fmt.Errorf("lrn: channel slice [%d, %d) is not inside [0, %d)", p.C0, p.C1, p.C)
	case p.Size <= 0 || p.Size%2 == 0:
		return fmt.Errorf("lrn: size %d must be positive and odd", p.Size)
	case p.Convention != AlphaSum && p.Convention != AlphaMean:
		return fmt.Errorf("lrn: unknown alpha convention %d", p.Convention)
	}
	return nil
}

// TensorSize is the element count of the whole tensor that x, y, dy and dx
// each hold.
func (p LRN) TensorSize() int { return p.N * p.C * p.H * p.W }

// ScaleSize is the element count of the saved scale, which covers only the
// slice: [N][C1−C0][H][W].
func (p LRN) ScaleSize() int { return p.N * (p.C1 - p.C0) * p.H * p.W }

// BackwardScratch is the scratch length Backward needs: one image's slice.
func (p LRN) BackwardScratch() int { return (p.C1 - p.C0) * p.H * p.W }

// alpha returns α', the factor applied to the sum of squares.
func (p LRN) alpha() float32 {
	if p.Convention == AlphaMean {
		return p.Alpha / float32(p.Size)
	}
	return p.Alpha
}

// window returns the neighbourhood [lo, hi) of channel c, clipped to the slice.
func (p LRN) window(c int) (lo, hi int) {
	h := p.Size / 2
	return max(p.C0, c-h), min(p.C1, c+h+1)
}

// powNegBeta returns s^−β. β = 0.75, the paper's value, takes a path with
// square roots only, which is exact to float32 rounding and much cheaper than
// a general power.
func powNegBeta(s, beta float32) float32 {
	if beta == 0.75 {
		r := math.Sqrt(float64(s))
		return float32(1 / math.Sqrt(r*float64(s)))
	}
	return float32(math.Pow(float64(s), -float64(beta)))
}

// Forward computes y from x on the slice and saves scale = K + α'·Σa² for
// Backward. x and y must be distinct buffers, because Backward needs both.
func (p LRN) Forward(x, y, scale []float32) {
	checkLen("LRN.Forward", "x", p.TensorSize(), x)
	checkLen("LRN.Forward", "y", p.TensorSize(), y)
	checkLen("LRN.Forward", "scale", p.ScaleSize(), scale)
	hw, cs := p.H*p.W, p.C1-p.C0
	alpha := p.alpha()
	for n := 0; n < p.N; n++ {
		for c := p.C0; c < p.C1; c++ {
			s := scale[(n*cs+c-p.C0)*hw : (n*cs+c-p.C0+1)*hw]
			clear(s)
			lo, hi := p.window(c)
			for j := lo; j < hi; j++ {
				a := x[(n*p.C+j)*hw : (n*p.C+j+1)*hw]
				a = a[:len(s)]
				for i, v := range a {
					s[i] += v * v
				}
			}
			a := x[(n*p.C+c)*hw : (n*p.C+c+1)*hw]
			b := y[(n*p.C+c)*hw : (n*p.C+c+1)*hw]
			a, b = a[:len(s)], b[:len(s)]
			for i := range s {
				s[i] = p.K + alpha*s[i]
				b[i] = a[i] * powNegBeta(s[i], p.Beta)
			}
		}
	}
}

// Backward computes dx on the slice from x, the saved y and scale, and dy.
// With s_c the saved scale, the exact gradient is
//
//	∂L/∂a_i = dy_i·s_i^−β − 2α'β·a_i·Σ_{c: i in window(c)} dy_c·b_c/s_c,
//
// and because clipped windows are symmetric (i is in c's window exactly when
// c is in i's), the sum runs over window(i). Channels outside the slice of dx
// are left untouched.
func (p LRN) Backward(x, y, scale, dy, dx, scratch []float32) {
	checkLen("LRN.Backward", "x", p.TensorSize(), x)
	checkLen("LRN.Backward", "y", p.TensorSize(), y)
	checkLen("LRN.Backward", "scale", p.ScaleSize(), scale)
	checkLen("LRN.Backward", "dy", p.TensorSize(), dy)
	checkLen("LRN.Backward", "dx", p.TensorSize(), dx)
	checkLen("LRN.Backward", "scratch", p.BackwardScratch(), scratch)
	hw, cs := p.H*p.W, p.C1-p.C0
	coef := 2 * p.alpha() * p.Beta
	t := scratch[:cs*hw] // t_c = dy_c·b_c/s_c for the slice of one image
	for n := 0; n < p.N; n++ {
		for c := p.C0; c < p.C1; c++ {
			s := scale[(n*cs+c-p.C0)*hw : (n*cs+c-p.C0+1)*hw]
			tc := t[(c-p.C0)*hw : (c-p.C0+1)*hw]
			g := dy[(n*p.C+c)*hw : (n*p.C+c+1)*hw]
			b := y[(n*p.C+c)*hw : (n*p.C+c+1)*hw]
			g, b, tc = g[:len(s)], b[:len(s)], tc[:len(s)]
			for i := range s {
				tc[i] = g[i] * b[i] / s[i]
			}
		}
		for c := p.C0; c < p.C1; c++ {
			d := dx[(n*p.C+c)*hw : (n*p.C+c+1)*hw]
			lo, hi := p.window(c)
			clear(d)
			for j := lo; j < hi; j++ {
				tj := t[(j-p.C0)*hw : (j-p.C0+1)*hw]
				tj = tj[:len(d)]
				for i, v := range tj {
					d[i] += v
				}
			}
			s := scale[(n*cs+c-p.C0)*hw : (n*cs+c-p.C0+1)*hw]
			a := x[(n*p.C+c)*hw : (n*p.C+c+1)*hw]
			g := dy[(n*p.C+c)*hw : (n*p.C+c+1)*hw]
			s, a, g = s[:len(d)], a[:len(d)], g[:len(d)]
			for i := range d {
				d[i] = g[i]*powNegBeta(s[i], p.Beta) - coef*a[i]*d[i]
			}
		}
	}
}
