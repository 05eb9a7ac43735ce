package cpu

import "fmt"

// Conv is a 2-D convolution over an [N][C][H][W] input with F filters of
// size KH×KW, producing [N][F][OH][OW], followed by a bias per filter and an
// activation. Weights are [F][C/Groups][KH][KW]: with Groups = G, filter f
// sees only input channels of group f/(F/G), which is how one tower of the
// paper's network sees only its own GPU's half of the previous layer.
//
// Padding may differ per side. PadB and PadR may exceed PadT and PadL: that is
// how the compiler implements cuda-convnet's "ceil" output rounding, in which
// the last window runs past the input's bottom or right edge and the missing
// pixels count as zeros. OH and OW must equal
// OutSize(H, KH, Stride, PadT, PadB) and OutSize(W, KW, Stride, PadL, PadR).
type Conv struct {
	N, C, H, W             int
	F, KH, KW              int
	Stride                 int
	PadT, PadL, PadB, PadR int
	Groups                 int
	OH, OW                 int
	Act                    Activation
}

// Validate reports whether the shape is consistent.
func (p Conv) Validate() error {
	switch {
	case p.N <= 0 || p.C <= 0 || p.F <= 0 || p.Groups <= 0:
		return fmt.Errorf("conv: sizes must be positive (N=%d C=%d F=%d Groups=%d)", p.N, p.C, p.F, p.Groups)
	case p.C%p.Groups != 0 || p.F%p.Groups != 0:
		return fmt.Errorf("conv: %d groups do not divide C=%d and F=%d", p.Groups, p.C, p.F)
	case p.H <= 0 || p.W <= 0 || p.KH <= 0 || p.KW <= 0 || p.Stride <= 0:
		return fmt.Errorf("conv: spatial sizes must be positive (H=%d W=%d KH=%d KW=%d Stride=%d)", p.H, p.W, p.KH, p.KW, p.Stride)
	case p.PadT < 0 || p.PadL < 0 || p.PadB < 0 || p.PadR < 0:
		return fmt.Errorf("conv: negative padding")
	case OutSize(p.H, p.KH, p.Stride, p.PadT, p.PadB) != p.OH || OutSize(p.W, p.KW, p.Stride, p.PadL, p.PadR) != p.OW:
		return fmt.Errorf("conv: output %dx%d, but the shape gives %dx%d", p.OH, p.OW,
			OutSize(p.H, p.KH, p.Stride, p.PadT, p.PadB), OutSize(p.W, p.KW, p.Stride, p.PadL, p.PadR))
	}
	return nil
}

// InSize is the element count of x and dx.
func (p Conv) InSize() int { return p.N * p.C * p.H * p.W }

// OutSize is the element count of y and dy.
func (p Conv) OutSize() int { return p.N * p.F * p.OH * p.OW }

// WeightSize is the element count of w and dw.
func (p Conv) WeightSize() int { return p.F * (p.C / p.Groups) * p.KH * p.KW }

// BiasSize is the element count of b and db.
func (p Conv) BiasSize() int { return p.F }

// colRows is the number of rows of the im2col matrix of one group (the
// length of one filter), and colSize the matrix's element count.
func (p Conv) colRows() int { return (p.C / p.Groups) * p.KH * p.KW }
func (p Conv) colSize() int { return p.colRows() * p.OH * p.OW }

// ForwardScratch is the scratch length Forward needs: one group's im2col
// matrix for one image.
func (p Conv) ForwardScratch() int { return p.colSize() }

// BackwardScratch is the scratch length Backward needs: the im2col matrix,
// plus one image's pre-activation gradient when there is an activation.
func (p Conv) BackwardScratch() int {
	if p.Act == Identity {
		return p.colSize()
	}
	return p.colSize() + p.F*p.OH*p.OW
}

// Forward computes y = act(conv(x, w) + b). A nil b means no bias.
func (p Conv) Forward(x, w, b, y, scratch []float32) {
	checkLen("Conv.Forward", "x", p.InSize(), x)
	checkLen("Conv.Forward", "w", p.WeightSize(), w)
	checkLen("Conv.Forward", "y", p.OutSize(), y)
	checkLen("Conv.Forward", "scratch", p.ForwardScratch(), scratch)
	cg, fg, k, ohw := p.C/p.Groups, p.F/p.Groups, p.colRows(), p.OH*p.OW
	col := scratch[:p.colSize()]
	for n := 0; n < p.N; n++ {
		for g := 0; g < p.Groups; g++ {
			p.im2col(x[(n*p.C+g*cg)*p.H*p.W:], col)
			yg := y[(n*p.F+g*fg)*ohw : (n*p.F+(g+1)*fg)*ohw]
			Sgemm(false, false, fg, ohw, k, 1, w[g*fg*k:], k, col, ohw, 0, yg, ohw)
		}
		BiasAct{N: 1, C: p.F, HW: ohw, Act: p.Act}.Forward(b, y[n*p.F*ohw:(n+1)*p.F*ohw])
	}
}

// Backward computes, from the input x, the weights w, the saved output y and
// the output gradient dy, the input gradient dx and the weight and bias
// gradients dw and db summed over the batch. All three are overwritten. A
// nil dx skips the input gradient (the first layer needs none); a nil db
// skips the bias gradient. y is read only when Act is not Identity.
func (p Conv) Backward(x, w, y, dy, dx, dw, db, scratch []float32) {
	checkLen("Conv.Backward", "x", p.InSize(), x)
	checkLen("Conv.Backward", "w", p.WeightSize(), w)
	checkLen("Conv.Backward", "dy", p.OutSize(), dy)
	checkLen("Conv.Backward", "dw", p.WeightSize(), dw)
	checkLen("Conv.Backward", "scratch", p.BackwardScratch(), scratch)
	if p.Act != Identity {
		checkLen("Conv.Backward", "y", p.OutSize(), y)
	}
	if dx != nil {
		checkLen("Conv.Backward", "dx", p.InSize(), dx)
	}
	if db != nil {
		checkLen("Conv.Backward", "db", p.F, db)
		clear(db[:p.F])
	}
	cg, fg, k, ohw, hw := p.C/p.Groups, p.F/p.Groups, p.colRows(), p.OH*p.OW, p.H*p.W
	col := scratch[:p.colSize()]
	dpre := scratch[p.colSize():]
	for n := 0; n < p.N; n++ {
		out := n * p.F * ohw
		dyn := dy[out : out+p.F*ohw]
		if p.Act != Identity {
			p.Act.Backward(y[out:out+p.F*ohw], dyn, dpre[:p.F*ohw])
			dyn = dpre[:p.F*ohw]
		}
		if db != nil {
			for f := 0; f < p.F; f++ {
				db[f] += sum(dyn[f*ohw : (f+1)*ohw])
			}
		}
		// The first image overwrites dw and later ones add to it, so dw ends
		// up summed over the batch without a separate clearing pass.
		var beta float32
		if n > 0 {
			beta = 1
		}
		for g := 0; g < p.Groups; g++ {
			xg := x[(n*p.C+g*cg)*hw:]
			dyg := dyn[g*fg*ohw : (g+1)*fg*ohw]
			p.im2col(xg, col)
			Sgemm(false, true, fg, k, ohw, 1, dyg, ohw, col, ohw, beta, dw[g*fg*k:], k)
			if dx != nil {
				Sgemm(true, false, k, ohw, fg, 1, w[g*fg*k:], k, dyg, ohw, 0, col, ohw)
				p.col2im(col, dx[(n*p.C+g*cg)*hw:(n*p.C+(g+1)*cg)*hw])
			}
		}
	}
}

// colSpan returns, for kernel offset kk along an axis, the range [lo, hi) of
// output positions whose input coordinate o·stride − pad + kk lies inside
// [0, in). Positions outside that range read padding.
func colSpan(kk, pad, stride, in, out int) (lo, hi int) {
	// First o with o·stride ≥ pad − kk, last o with o·stride ≤ in − 1 + pad − kk.
	if d := pad - kk; d > 0 {
		lo = (d + stride - 1) / stride
	}
	if d := in - 1 + pad - kk; d >= 0 {
		hi = d/stride + 1
	}
	hi = min(hi, out)
	lo = min(lo, hi)
	return lo, hi
}

// im2col writes the K×(OH·OW) matrix of one group of one image into col,
// where x starts at the group's first input channel. Row (c, kh, kw) holds,
// for every output position, the input pixel that kernel tap multiplies,
// or zero where the tap falls on padding.
func (p Conv) im2col(x, col []float32) {
	cg, ohw, hw := p.C/p.Groups, p.OH*p.OW, p.H*p.W
	s := p.Stride
	row := 0
	for c := 0; c < cg; c++ {
		plane := x[c*hw : (c+1)*hw]
		for kh := 0; kh < p.KH; kh++ {
			ohLo, ohHi := colSpan(kh, p.PadT, s, p.H, p.OH)
			for kw := 0; kw < p.KW; kw++ {
				owLo, owHi := colSpan(kw, p.PadL, s, p.W, p.OW)
				dst := col[row*ohw : (row+1)*ohw]
				clear(dst[:ohLo*p.OW])
				for oh := ohLo; oh < ohHi; oh++ {
					d := dst[oh*p.OW : (oh+1)*p.OW]
					clear(d[:owLo])
					ih := oh*s - p.PadT + kh
					src := plane[ih*p.W : (ih+1)*p.W]
					off := kw - p.PadL // input column of output column 0
					if s == 1 {
						copy(d[owLo:owHi], src[owLo+off:owHi+off])
					} else {
						for ow := owLo; ow < owHi; ow++ {
							d[ow] = src[ow*s+off]
						}
					}
					clear(d[owHi:])
				}
				clear(dst[ohHi*p.OW:])
				row++
			}
		}
	}
}

// col2im is the adjoint of im2col: it overwrites dx (one group's channels of
// one image) with the sum, over every kernel tap, of the column gradients
// that tap read from each pixel. Taps that read padding contribute nothing.
func (p Conv) col2im(col, dx []float32) {
	cg, ohw, hw := p.C/p.Groups, p.OH*p.OW, p.H*p.W
	s := p.Stride
	clear(dx[:cg*hw])
	row := 0
	for c := 0; c < cg; c++ {
		plane := dx[c*hw : (c+1)*hw]
		for kh := 0; kh < p.KH; kh++ {
			ohLo, ohHi := colSpan(kh, p.PadT, s, p.H, p.OH)
			for kw := 0; kw < p.KW; kw++ {
				owLo, owHi := colSpan(kw, p.PadL, s, p.W, p.OW)
				src := col[row*ohw : (row+1)*ohw]
				for oh := ohLo; oh < ohHi; oh++ {
					d := src[oh*p.OW : (oh+1)*p.OW]
					ih := oh*s - p.PadT + kh
					dst := plane[ih*p.W : (ih+1)*p.W]
					off := kw - p.PadL
					for ow := owLo; ow < owHi; ow++ {
						dst[ow*s+off] += d[ow]
					}
				}
				row++
			}
		}
	}
}
