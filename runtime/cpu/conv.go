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
// length of one filter), and colSize the matrix's element count for one
// image.
func (p Conv) colRows() int { return (p.C / p.Groups) * p.KH * p.KW }
func (p Conv) colSize() int { return p.colRows() * p.OH * p.OW }

// ForwardScratch is the scratch length the plan gives Forward: one group's
// im2col matrix for one image. Forward now gathers its patches straight
// into the product's panels (convfwd.go) and keeps per-thread scratch of its
// own, so it only checks the length; the size stays what the compiled
// plans were laid out with.
func (p Conv) ForwardScratch() int { return p.colSize() }

// BackwardScratch is the scratch length the plan gives Backward: the im2col
// matrix, plus one image's pre-activation gradient when there is an
// activation. Like ForwardScratch, it is checked, not used.
func (p Conv) BackwardScratch() int {
	if p.Act == Identity {
		return p.colSize()
	}
	return p.colSize() + p.F*p.OH*p.OW
}

// minProductCols is the fewest columns a convolution's product should have:
// below that, packing the filters and the micro-kernel's start-up for each
// tile weigh on the multiply-adds, so several images go into one product.
const minProductCols = 512

// chunk is the number of images that go into one product: enough for
// minProductCols columns, but no more than leaves every thread a share.
func (p Conv) chunk(threads int) int {
	nb := ceilDiv(minProductCols, p.OH*p.OW)
	return max(1, min(nb, ceilDiv(p.N, threads)))
}

// convJob is a backward convolution's arguments while the workers run it.
type convJob struct {
	p                          Conv
	x, w, b, y, dy, dx, dw, db []float32
	nb, chunks                 int
}

var convBwd convJob

func (j *convJob) do(i, n int) { j.backward(i, n) }

// biasAct writes act(src + b) to dst (which may be src), serially: it runs
// inside a worker.
func biasAct(a Activation, b float32, src, dst []float32) {
	dst = dst[:len(src)]
	switch a {
	case ReLU:
		for i, v := range src {
			// The builtin max has no branch to mispredict, and returns a
			// NaN when v + b is one, so that divergence stays visible.
			dst[i] = max(v+b, 0)
		}
	case Identity:
		for i, v := range src {
			dst[i] = v + b
		}
	default:
		for i, v := range src {
			dst[i] = v + b
		}
		a.forward(dst)
	}
}

// Backward computes, from the input x, the weights w, the saved output y and
// the output gradient dy, the input gradient dx and the weight and bias
// gradients dw and db summed over the batch. All three are overwritten. A
// nil dx skips the input gradient (the first layer needs none); a nil db
// skips the bias gradient. y is read only when Act is not Identity.
//
// The batch is cut into chunks of a few images (chunk), and the threads
// take equal runs of chunks. Thread 0 sums its weight
// and bias gradients straight into dw and db, the others into scratch of
// their own, which is added to dw and db in thread order at the end: the
// sums do not depend on which thread finished first.
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
	}
	par.mu.Lock()
	defer par.mu.Unlock()
	t := threads()
	nb := p.chunk(t)
	chunks := ceilDiv(p.N, nb)
	parts := min(t, chunks)
	convBwd = convJob{p: p, x: x, w: w, y: y, dy: dy, dx: dx, dw: dw[:p.WeightSize()], nb: nb, chunks: chunks}
	if db != nil {
		convBwd.db = db[:p.F]
	}
	runParts(&convBwd, parts)
	convBwd = convJob{}
	// Add the other threads' sums, in order.
	for i := 1; i < parts; i++ {
		s := par.scratch[i]
		axpyRow(1, s[:p.WeightSize()], dw[:p.WeightSize()])
		if db != nil {
			axpyRow(1, s[p.WeightSize():p.WeightSize()+p.F], db[:p.F])
		}
	}
}

func (j *convJob) backward(i, n int) {
	p := j.p
	cg, fg, k, ohw, hw := p.C/p.Groups, p.F/p.Groups, p.colRows(), p.OH*p.OW, p.H*p.W
	g := gemmActive.Load()
	c0, c1 := share(i, n, j.chunks)
	ws := p.WeightSize()
	cols := j.nb * ohw
	// Thread i's scratch: its own dw and db (thread 0 uses the caller's),
	// then the chunk's im2col matrix and pre-activation gradient.
	s := partScratch(i, ws+p.F+(k+fg)*cols)
	dw, db := s[:ws], s[ws:ws+p.F]
	if i == 0 {
		dw = j.dw
		if j.db != nil {
			db = j.db
		}
	}
	clear(db)
	col := s[ws+p.F : ws+p.F+k*cols]
	dpre := s[ws+p.F+k*cols : ws+p.F+(k+fg)*cols]
	for c := c0; c < c1; c++ {
		n0, n1 := c*j.nb, min((c+1)*j.nb, p.N)
		cols := (n1 - n0) * ohw
		// The first chunk overwrites dw and later ones add to it.
		var beta float32
		if c > c0 {
			beta = 1
		}
		for gr := 0; gr < p.Groups; gr++ {
			// The chunk's pre-activation gradient, images side by side.
			for im := n0; im < n1; im++ {
				for f := 0; f < fg; f++ {
					o := (im*p.F + gr*fg + f) * ohw
					d := dpre[f*cols+(im-n0)*ohw:][:ohw]
					if p.Act == Identity {
						copy(d, j.dy[o:o+ohw]) // y may be nil
					} else {
						p.Act.backward(j.y[o:o+ohw], j.dy[o:o+ohw], d)
					}
				}
			}
			for f := 0; f < fg; f++ {
				db[gr*fg+f] += sum(dpre[f*cols : f*cols+cols])
			}
			for im := n0; im < n1; im++ {
				p.im2col(j.x[(im*p.C+gr*cg)*hw:], col[(im-n0)*ohw:], cols)
			}
			g.gemmSerial(false, true, fg, k, cols, 1, dpre, cols, col, cols, beta, dw[gr*fg*k:], k)
			if j.dx != nil {
				g.gemmSerial(true, false, k, cols, fg, 1, j.w[gr*fg*k:], k, dpre, cols, 0, col, cols)
				for im := n0; im < n1; im++ {
					o := (im*p.C + gr*cg) * hw
					p.col2im(col[(im-n0)*ohw:], cols, j.dx[o:o+cg*hw])
				}
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
// whose rows are ld apart, where x starts at the group's first input
// channel. Row (c, kh, kw) holds,
// for every output position, the input pixel that kernel tap multiplies,
// or zero where the tap falls on padding.
func (p Conv) im2col(x, col []float32, ld int) {
	cg, ohw, hw := p.C/p.Groups, p.OH*p.OW, p.H*p.W
	s := p.Stride
	row := 0
	for c := 0; c < cg; c++ {
		plane := x[c*hw : (c+1)*hw]
		for kh := 0; kh < p.KH; kh++ {
			ohLo, ohHi := colSpan(kh, p.PadT, s, p.H, p.OH)
			for kw := 0; kw < p.KW; kw++ {
				owLo, owHi := colSpan(kw, p.PadL, s, p.W, p.OW)
				dst := col[row*ld : row*ld+ohw]
				clear(dst[:ohLo*p.OW])
				for oh := ohLo; oh < ohHi; oh++ {
					d := dst[oh*p.OW : (oh+1)*p.OW]
					clear(d[:owLo])
					ih := oh*s - p.PadT + kh
					src := plane[ih*p.W : (ih+1)*p.W]
					off := kw - p.PadL // input column of output column 0
					switch {
					case s == 1:
						copy(d[owLo:owHi], src[owLo+off:owHi+off])
					case kw >= s:
						// Tap kw reads, at output column ow, what tap kw−s
						// read at ow+1 (padding included): a copy of that
						// row shifted by one, and one new element.
						prev := col[(row-s)*ld+oh*p.OW:][:p.OW]
						copy(d[:p.OW-1], prev[1:])
						d[p.OW-1] = 0
						if iw := (p.OW-1)*s + off; iw >= 0 && iw < p.W {
							d[p.OW-1] = src[iw]
						}
						continue
					default:
						g := src[owLo*s+off:]
						for i := range owHi - owLo {
							d[owLo+i] = g[i*s]
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
// one image, from a matrix whose rows are ld apart) with the sum, over every kernel tap, of the column gradients
// that tap read from each pixel. Taps that read padding contribute nothing.
func (p Conv) col2im(col []float32, ld int, dx []float32) {
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
				src := col[row*ld : row*ld+ohw]
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
