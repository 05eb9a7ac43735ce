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

// The kernels below run over images in parallel, each part normalising its
// share of the batch exactly as the serial loop would, so that results do not
// depend on the thread count. Within an image they go channel by channel,
// with unit-stride loops over the H·W pixels of whole channel planes.
//
// The neighbourhood sums are recomputed for every channel, adding the Size
// planes in channel order, rather than kept as a running sum that adds the
// channel entering the window and subtracts the one leaving it. A running sum
// would save a few additions per pixel, but subtracting a large square from
// a float32 sum loses the small ones beside it; and the additions cost little
// next to the square roots and the division of the power, which bound the
// loops' speed.

// lrnKernels are a GEMM path's vector loops for β = 0.75 (see gemmImpl),
// each the same arithmetic as the Go loop it replaces:
//
//   - forward(n, x, hw, win, own, y, k, α): y[i] = x_own[i]/(r·√r) with
//     r = √(k + α·Σ_j x_j[i]²), for i < n, over planes x_j = x[j·hw:] of
//     the window, j < win;
//   - backT(s, g, a, t, k, α): s[i] = v = k + α·s[i], t[i] = g[i]·a[i]/(v·r·√r);
//   - backDX(sum, s, a, g, dx, coef): dx[i] = g[i]/(r·√r) − coef·a[i]·sum[i],
//     r = √s[i].
//   - sumSquares(s, x, hw, win): s[i] = Σ_j x_j[i]² over planes x_j =
//     x[j·hw:], j < win, added in plane order as the Go sumSquares does;
//   - add(x, y): y[i] += x[i].
type lrnKernels struct {
	forward    func(n int, x []float32, hw, win, own int, y []float32, k, alpha float32)
	backT      func(s, g, a, t []float32, k, alpha float32)
	backDX     func(sum, s, a, g, dx []float32, coef float32)
	sumSquares func(s, x []float32, hw, win int)
	add        func(x, y []float32)
}

// kernels returns the vector loops that fit this LRN, or nil.
func (p LRN) kernels() *lrnKernels {
	if p.Beta != 0.75 {
		return nil
	}
	return gemmActive.Load().lrn075
}

// sqrt32 is a float32 square root; the compiler turns the conversions around
// math.Sqrt into one single-precision instruction.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// lrnFwdJob is LRN.Forward's parallel region.
type lrnFwdJob struct {
	p    LRN
	x, y []float32
}

var lrnFwd lrnFwdJob

func (j *lrnFwdJob) do(i, n int) {
	lo, hi := share(i, n, j.p.N)
	j.p.forwardImages(lo, hi, j.x, j.y, partScratch(i, j.p.H*j.p.W))
}

// Forward computes y from x on the slice. It saves nothing for Backward,
// which recomputes the normaliser s = K + α'·Σa² from x: x is the output of
// the layer before, kept for that layer's own backward pass anyway, so
// neither y nor s has to outlive the layer after this one. x and y must be
// distinct buffers.
func (p LRN) Forward(x, y []float32) {
	checkLen("LRN.Forward", "x", p.TensorSize(), x)
	checkLen("LRN.Forward", "y", p.TensorSize(), y)
	par.mu.Lock()
	defer par.mu.Unlock()
	lrnFwd = lrnFwdJob{p, x, y}
	runParts(&lrnFwd, p.parts())
	lrnFwd = lrnFwdJob{} // let the buffers go
}

// parts is the number of parts to split the batch into: one for a tensor
// too small to repay waking the workers. With two square roots and a
// division per element, LRN pays at an eighth of the light kernels' size.
func (p LRN) parts() int {
	if p.N*(p.C1-p.C0)*p.H*p.W < parallelMin/8 {
		return 1
	}
	return min(threads(), p.N)
}

// forwardImages is Forward on images [n0, n1), with one plane of scratch
// for the normaliser.
func (p LRN) forwardImages(n0, n1 int, x, y, plane []float32) {
	hw := p.H * p.W
	for n := n0; n < n1; n++ {
		xn := x[n*p.C*hw : (n+1)*p.C*hw]
		for c := p.C0; c < p.C1; c++ {
			p.forwardChannel(xn, c, y[(n*p.C+c)*hw:(n*p.C+c+1)*hw], plane)
		}
	}
}

// forwardChannel normalises channel c of one image, xn, into yc (one
// plane), with one plane of scratch for the normaliser.
func (p LRN) forwardChannel(xn []float32, c int, yc, plane []float32) {
	hw := p.H * p.W
	alpha := p.alpha()
	lo, hi := p.window(c)
	if vec := p.kernels(); vec != nil {
		vec.forward(hw, xn[lo*hw:hi*hw], hw, hi-lo, c-lo, yc[:hw], p.K, alpha)
		return
	}
	s := plane[:hw]
	sumSquares(s, xn, hw, lo, hi)
	a, b := xn[c*hw:(c+1)*hw], yc[:hw]
	a, b = a[:len(s)], b[:len(s)]
	if p.Beta == 0.75 {
		// s^−0.75 = 1/(√s·√√s): two float32 square roots and a
		// division, accurate to a few float32 roundings and much
		// cheaper than a general power in float64.
		for i, v := range s {
			v = p.K + alpha*v
			s[i] = v
			r := sqrt32(v)
			b[i] = a[i] / (r * sqrt32(r))
		}
		return
	}
	for i, v := range s {
		v = p.K + alpha*v
		s[i] = v
		b[i] = a[i] * float32(math.Pow(float64(v), -float64(p.Beta)))
	}
}

// sumSquares sets s to Σ_{j=lo}^{hi−1} x_j², where x_j is plane j of x (each
// hw long), adding in channel order. Windows of up to five planes, the
// paper's size, take one pass over s.
func sumSquares(s, x []float32, hw, lo, hi int) {
	p := func(j int) []float32 { return x[j*hw : j*hw+len(s)] }
	switch k := hi - lo; {
	case k == 1:
		a := p(lo)
		for i := range s {
			s[i] = a[i] * a[i]
		}
	case k == 2:
		a, b := p(lo), p(lo+1)
		for i := range s {
			s[i] = a[i]*a[i] + b[i]*b[i]
		}
	case k == 3:
		a, b, c := p(lo), p(lo+1), p(lo+2)
		for i := range s {
			s[i] = a[i]*a[i] + b[i]*b[i] + c[i]*c[i]
		}
	case k == 4:
		a, b, c, d := p(lo), p(lo+1), p(lo+2), p(lo+3)
		for i := range s {
			s[i] = a[i]*a[i] + b[i]*b[i] + c[i]*c[i] + d[i]*d[i]
		}
	default:
		a, b, c, d, e := p(lo), p(lo+1), p(lo+2), p(lo+3), p(lo+4)
		for i := range s {
			s[i] = a[i]*a[i] + b[i]*b[i] + c[i]*c[i] + d[i]*d[i] + e[i]*e[i]
		}
		for j := lo + 5; j < hi; j++ {
			a := p(j)
			for i := range s {
				s[i] += a[i] * a[i]
			}
		}
	}
}

// lrnBwdJob is LRN.Backward's parallel region.
type lrnBwdJob struct {
	p         LRN
	x, dy, dx []float32
}

var lrnBwd lrnBwdJob

func (j *lrnBwdJob) do(i, n int) {
	lo, hi := share(i, n, j.p.N)
	j.p.backwardImages(lo, hi, j.x, j.dy, j.dx, partScratch(i, j.p.backwardPartScratch()))
}

// backwardPartScratch is the scratch one part of Backward works in: two
// rings of Size planes, of s_c and of t_c, and one plane for a window's sum.
func (p LRN) backwardPartScratch() int { return (2*p.Size + 1) * p.H * p.W }

// Backward computes dx on the slice from x and dy, recomputing the
// normaliser s_c = K + α'·Σ a² of every channel from x (Forward saves
// nothing). With b_c = a_c·s_c^−β the output, the exact gradient is
//
//	∂L/∂a_i = dy_i·s_i^−β − 2α'β·a_i·Σ_{c: i in window(c)} dy_c·b_c/s_c,
//
// where b_c/s_c = a_c·s_c^(−β−1); because clipped windows are symmetric (i
// is in c's window exactly when c is in i's), the sum runs over window(i).
// Channels outside the slice of dx are left untouched.
//
// scratch must be BackwardScratch long, as plans lay it out, but is not
// used: the images are shared among parts that each need their own scratch,
// which they take from the worker pool's.
func (p LRN) Backward(x, dy, dx, scratch []float32) {
	checkLen("LRN.Backward", "x", p.TensorSize(), x)
	checkLen("LRN.Backward", "dy", p.TensorSize(), dy)
	checkLen("LRN.Backward", "dx", p.TensorSize(), dx)
	checkLen("LRN.Backward", "scratch", p.BackwardScratch(), scratch)
	par.mu.Lock()
	defer par.mu.Unlock()
	lrnBwd = lrnBwdJob{p, x, dy, dx}
	runParts(&lrnBwd, p.parts())
	lrnBwd = lrnBwdJob{}
}

// backwardImages is Backward on images [n0, n1), working in scratch, which
// is backwardPartScratch long.
//
// It goes through the slice's channels twice, the second pass trailing the
// first by half a window so that the planes it needs are still in cache. The
// first computes s_c and t_c = dy_c·a_c·s_c^(−β−1) into rings of Size
// planes; the second sums t over each channel's window, in channel order,
// and writes dx_c.
//
// The second pass computes s^−β afresh, although the first could get it, and
// 1/s too, from the same two square roots and one division. Measured on the
// paper's shapes, that one long chain of dependent square roots and
// divisions per element ran at half the speed of the two shorter ones.
func (p LRN) backwardImages(n0, n1 int, x, dy, dx, scratch []float32) {
	hw := p.H * p.W
	alpha := p.alpha()
	coef := 2 * alpha * p.Beta
	vec := p.kernels()
	ring := scratch[:p.Size*hw]
	sring := scratch[p.Size*hw : 2*p.Size*hw]
	sum := scratch[2*p.Size*hw : (2*p.Size+1)*hw] // Σ t over one window
	// t and sp return the ring planes of channel c (of the slice, counting
	// from 0). Channel c − Size, which they reuse, is outside the window of
	// every channel still to be finished.
	t := func(c int) []float32 { c %= p.Size; return ring[c*hw : (c+1)*hw] }
	sp := func(c int) []float32 { c %= p.Size; return sring[c*hw : (c+1)*hw] }
	for n := n0; n < n1; n++ {
		off := n * p.C * hw
		xn := x[off : off+p.C*hw]
		next := p.C0 // the next channel for the first pass
		for c := p.C0; c < p.C1; c++ {
			lo, hi := p.window(c)
			for ; next < hi; next++ {
				s := sp(next - p.C0)
				wlo, whi := p.window(next)
				if vec != nil {
					vec.sumSquares(s, xn[wlo*hw:], hw, whi-wlo)
				} else {
					sumSquares(s, xn, hw, wlo, whi)
				}
				tc := t(next - p.C0)
				g := dy[off+next*hw : off+(next+1)*hw]
				a := xn[next*hw : (next+1)*hw]
				g, a, tc = g[:len(s)], a[:len(s)], tc[:len(s)]
				if vec != nil {
					vec.backT(s, g, a, tc, p.K, alpha)
					continue
				}
				if p.Beta == 0.75 {
					for i, v := range s {
						v = p.K + alpha*v
						s[i] = v
						r := sqrt32(v)
						tc[i] = g[i] * a[i] / (v * r * sqrt32(r))
					}
					continue
				}
				for i, v := range s {
					v = p.K + alpha*v
					s[i] = v
					tc[i] = g[i] * a[i] * float32(math.Pow(float64(v), -float64(p.Beta))) / v
				}
			}
			if vec != nil {
				// The same additions as sumRing, plane by plane.
				copy(sum, t(lo-p.C0))
				for j := lo - p.C0 + 1; j < hi-p.C0; j++ {
					vec.add(t(j), sum)
				}
			} else {
				sumRing(sum, t, lo-p.C0, hi-p.C0)
			}
			s := sp(c - p.C0)
			a := x[off+c*hw : off+(c+1)*hw]
			g := dy[off+c*hw : off+(c+1)*hw]
			d := dx[off+c*hw : off+(c+1)*hw]
			s, a, g, d = s[:len(sum)], a[:len(sum)], g[:len(sum)], d[:len(sum)]
			if vec != nil {
				vec.backDX(sum, s, a, g, d, coef)
				continue
			}
			if p.Beta == 0.75 {
				for i, v := range sum {
					r := sqrt32(s[i])
					d[i] = g[i]/(r*sqrt32(r)) - coef*a[i]*v
				}
				continue
			}
			for i, v := range sum {
				d[i] = g[i]*float32(math.Pow(float64(s[i]), -float64(p.Beta))) - coef*a[i]*v
			}
		}
	}
}

// sumRing sets s to Σ_{j=lo}^{hi−1} plane(j), adding in channel order. Windows
// of up to five planes, the paper's size, take one pass over s.
func sumRing(s []float32, plane func(int) []float32, lo, hi int) {
	p := func(j int) []float32 { return plane(j)[:len(s)] }
	switch k := hi - lo; {
	case k == 1:
		copy(s, p(lo))
	case k == 2:
		a, b := p(lo), p(lo+1)
		for i := range s {
			s[i] = a[i] + b[i]
		}
	case k == 3:
		a, b, c := p(lo), p(lo+1), p(lo+2)
		for i := range s {
			s[i] = a[i] + b[i] + c[i]
		}
	case k == 4:
		a, b, c, d := p(lo), p(lo+1), p(lo+2), p(lo+3)
		for i := range s {
			s[i] = a[i] + b[i] + c[i] + d[i]
		}
	default:
		a, b, c, d, e := p(lo), p(lo+1), p(lo+2), p(lo+3), p(lo+4)
		for i := range s {
			s[i] = a[i] + b[i] + c[i] + d[i] + e[i]
		}
		for j := lo + 5; j < hi; j++ {
			a := p(j)
			for i := range s {
				s[i] += a[i]
			}
		}
	}
}
