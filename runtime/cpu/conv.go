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
	p                       Conv
	x, w, y, dy, dx, dw, db []float32
	nb, chunks              int
	// dxConv, when dxByConv, computes a chunk's input gradient (see
	// Backward).
	dxByConv bool
	dxConv   convProduct
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
//
// For a chunk, the gradient before the activation, g, is worked out first;
// the weight gradient is the product of g with the transpose of the
// chunk's im2col matrix, whose panels are packed straight from the images
// (tapPanels).
// The input gradient of a stride-1 convolution is itself a convolution: of
// g, padded by KH−1−PadT above (and so on), with the filters turned around
// (rotated by 180° and with their input and output channels swapped), which
// computes dx by the panels of Forward, straight from g. Other strides
// compute the im2col matrix's gradient, Wᵀ·g, and scatter it with col2im.
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
	if dx != nil && p.Stride == 1 && p.PadT < p.KH && p.PadB < p.KH && p.PadL < p.KW && p.PadR < p.KW {
		convBwd.dxByConv = true
		convBwd.dxConv = p.inputGradProduct(w, nb)
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
	ld := j.nb * ohw // the row stride of a chunk's matrices
	mPad := roundUp(fg, g.mr)
	kc := ceilDiv(ld, ceilDiv(ld, g.kc)) // pixels per block of the weight gradient's product
	// Thread i's scratch: its own dw and db (thread 0 uses the caller's);
	// the pre-activation gradient of the chunk's images, all groups; one
	// group's share of it packed, and a panel of taps; the im2col matrix of
	// one group when dx goes through col2im; what dx's product needs.
	var dxf, dxi int
	if j.dxByConv {
		dxf, dxi = j.dxConv.scratchSize()
	}
	colLen := 0
	if j.dx != nil && !j.dxByConv {
		colLen = k * ld
	}
	s := partScratch(i, ws+p.F+p.F*ld+mPad*ld+kc*g.nr+colLen+dxf)
	dw, db := s[:ws], s[ws:ws+p.F]
	if i == 0 {
		dw = j.dw
		if j.db != nil {
			db = j.db
		}
	}
	clear(db)
	rest := s[ws+p.F:]
	gpre, rest := rest[:p.F*ld], rest[p.F*ld:]
	ap, rest := rest[:mPad*ld], rest[mPad*ld:]
	bp, rest := rest[:kc*g.nr], rest[kc*g.nr:]
	col, dxs := rest[:colLen], rest[colLen:]
	tp, dxInts := newTapPanels(p, partInts(i, tapPanelInts(p, g.nr, ld, kc)+dxi), g.nr, ld, kc)
	for c := c0; c < c1; c++ {
		n0, n1 := c*j.nb, min((c+1)*j.nb, p.N)
		cols := (n1 - n0) * ohw
		// The first chunk overwrites dw and later ones add to it.
		var beta float32
		if c > c0 {
			beta = 1
		}
		// The chunk's pre-activation gradient, images side by side.
		for im := n0; im < n1; im++ {
			for f := 0; f < p.F; f++ {
				o := (im*p.F + f) * ohw
				d := gpre[f*ld+(im-n0)*ohw:][:ohw]
				if p.Act == Identity {
					copy(d, j.dy[o:o+ohw]) // y may be nil
				} else {
					p.Act.backward(j.y[o:o+ohw], j.dy[o:o+ohw], d)
				}
			}
		}
		for f := 0; f < p.F; f++ {
			db[f] += sum(gpre[f*ld : f*ld+cols])
		}
		tp.pixels(n0, n1)
		for gr := 0; gr < p.Groups; gr++ {
			gg := gpre[gr*fg*ld:]
			xg := j.x[(n0*p.C+gr*cg)*hw:]
			// dw of the group += g·colᵀ, with the panels of colᵀ (kc
			// pixels by nr taps) gathered from the images.
			for pc := 0; pc < cols; pc += kc {
				kb := min(kc, cols-pc)
				g.packABlock(false, gg, ld, 0, pc, fg, kb, ap[mPad*pc:mPad*(pc+kb)])
			}
			for t0 := 0; t0 < k; t0 += g.nr {
				nt := min(g.nr, k-t0)
				nruns := tp.panel(t0, nt)
				for pc := 0; pc < cols; pc += kc {
					kb := min(kc, cols-pc)
					off, mask := tp.steps(pc, kb)
					if g.packRuns != nil && nruns <= maxPackRunsTaps {
						g.packRuns(kb, xg, off, mask, tp.runs[:2*nruns], bp[:kb*g.nr])
					} else {
						g.packGatherBlock(kb, xg, off, mask, tp.lanes, bp[:kb*g.nr])
					}
					b := beta
					if pc > 0 {
						b = 1
					}
					g.sweep(kb, ap[mPad*pc:mPad*(pc+kb)], bp[:kb*g.nr], fg, nt, dw[gr*fg*k+t0:], k, 1, b)
				}
			}
			if j.dx != nil && !j.dxByConv {
				for im := n0; im < n1; im++ {
					p.im2col(j.x[(im*p.C+gr*cg)*hw:], col[(im-n0)*ohw:], ld)
				}
				g.gemmSerial(true, false, k, cols, fg, 1, j.w[gr*fg*k:], k, gg, ld, 0, col, ld)
				for im := n0; im < n1; im++ {
					o := (im*p.C + gr*cg) * hw
					p.col2im(col[(im-n0)*ohw:], ld, j.dx[o:o+cg*hw])
				}
			}
		}
		if j.dxByConv {
			dc := j.dxConv
			dc.p.N = n1 - n0
			dc.panels = ceilDiv(dc.p.N*hw, g.nr)
			dc.runPanels(0, p.Groups*dc.panels, gpre, j.dx[n0*p.C*hw:], dxs, dxInts)
		}
	}
}

// maxPackRunsTaps is maxPackRuns for the panels of the weight gradient,
// whose runs are the rows of a filter (3 to 11 taps). On the paper's
// shapes (7 to 11 runs a panel) runs and gathers timed the same within
// the machine's noise; runs touch no more memory than they need.
const maxPackRunsTaps = 16

// tapPanels packs the panels of colᵀ for a convolution's weight gradient:
// step p of a panel is output pixel p of the chunk, lane l is tap t0 + l
// of the filter, and the value is the input pixel that tap multiplies there
// (0 in the padding). Tap (c, kh, kw) sits at c·H·W + kh·W + kw from the
// window's corner, so the taps of a row of the filter are contiguous, and a
// panel packs by runs of KW lanes.
type tapPanels struct {
	p Conv
	// Per pixel of the chunk: its window's corner, relative to the
	// chunk's first image, and the kernel rows and columns inside the
	// image, as lo | hi<<16.
	pixOff, pixRows, pixCols []int32
	// Per panel: the lanes' offsets, the runs of contiguous lanes, and the
	// lanes of kernel rows [0, j) and of kernel columns [0, j).
	lanes, runs, rowsBelow, colsBelow []int32
	mask                              []int32 // per step
}

// newTapPanels carves the tables for chunks of ld columns, panels of nr
// lanes and blocks of kc steps out of ints, and returns the rest.
func newTapPanels(p Conv, ints []int32, nr, ld, kc int) (tapPanels, []int32) {
	t := tapPanels{p: p}
	cut := func(n int) []int32 {
		s := ints[:n]
		ints = ints[n:]
		return s
	}
	t.pixOff, t.pixRows, t.pixCols = cut(ld), cut(ld), cut(ld)
	t.lanes, t.runs = cut(nr), cut(2*nr)
	t.rowsBelow, t.colsBelow = cut(p.KH+1), cut(p.KW+1)
	t.mask = cut(kc)
	return t, ints
}

// tapPanelInts is how many integers newTapPanels takes.
func tapPanelInts(p Conv, nr, ld, kc int) int { return 3*ld + 3*nr + p.KH + p.KW + 2 + kc }

// pixels fills the per-pixel tables for images [n0, n1).
func (t *tapPanels) pixels(n0, n1 int) {
	p := t.p
	ohw := p.OH * p.OW
	for j := range (n1 - n0) * ohw {
		im, pix := j/ohw, j%ohw
		iy, ix := pix/p.OW*p.Stride-p.PadT, pix%p.OW*p.Stride-p.PadL
		t.pixOff[j] = int32(im*p.C*p.H*p.W + iy*p.W + ix)
		lo, hi := max(0, -iy), max(min(p.KH, p.H-iy), max(0, -iy))
		t.pixRows[j] = int32(lo | hi<<16)
		lo, hi = max(0, -ix), max(min(p.KW, p.W-ix), max(0, -ix))
		t.pixCols[j] = int32(lo | hi<<16)
	}
}

// panel fills the per-panel tables for taps [t0, t0+nt) and returns the
// number of runs.
func (t *tapPanels) panel(t0, nt int) (nruns int) {
	p := t.p
	kk := p.KH * p.KW
	clear(t.rowsBelow)
	clear(t.colsBelow)
	for l := range t.lanes {
		t.lanes[l] = 0
		if l >= nt {
			continue
		}
		r := t0 + l
		c, kh, kw := r/kk, r%kk/p.KW, r%p.KW
		t.lanes[l] = int32(c*p.H*p.W + kh*p.W + kw)
		bit := int32(1) << l
		t.rowsBelow[kh+1] |= bit
		t.colsBelow[kw+1] |= bit
		if l == 0 || t.lanes[l] != t.lanes[l-1]+1 {
			t.runs[2*nruns], t.runs[2*nruns+1] = t.lanes[l]-int32(l), 0
			nruns++
		}
		t.runs[2*nruns-1] |= bit
	}
	for j := 1; j <= p.KH; j++ {
		t.rowsBelow[j] |= t.rowsBelow[j-1]
	}
	for j := 1; j <= p.KW; j++ {
		t.colsBelow[j] |= t.colsBelow[j-1]
	}
	return nruns
}

// steps returns the offsets and masks of the panel's steps [pc, pc+kb).
func (t *tapPanels) steps(pc, kb int) (off, mask []int32) {
	mask = t.mask[:kb]
	for q := range mask {
		r, c := t.pixRows[pc+q], t.pixCols[pc+q]
		rows := t.rowsBelow[r>>16] ^ t.rowsBelow[r&0xffff]
		cols := t.colsBelow[c>>16] ^ t.colsBelow[c&0xffff]
		mask[q] = rows & cols
	}
	return t.pixOff[pc : pc+kb], mask
}

// inputGradProduct sets up the convolution that computes the input
// gradient of a stride-1 convolution for a chunk of nb images: from the
// pre-activation gradient g (F channels of OH×OW, the chunk's images side
// by side, so that a channel is nb·OH·OW long), with the filters turned
// around, into dx (C channels of H×W per image). Its group gr maps g's
// channels of group gr to dx's of the same group. Its filters' rows are
// tap-major (see product), so that each element of dx adds, tap by tap in
// the order col2im does, the sum over g's channels that Wᵀ·g computes:
// the same floats in the same order as the im2col path.
func (p Conv) inputGradProduct(w []float32, nb int) convProduct {
	cg, fg, ohw := p.C/p.Groups, p.F/p.Groups, p.OH*p.OW
	t := Conv{N: nb, C: p.F, H: p.OH, W: p.OW, F: p.C, KH: p.KH, KW: p.KW, Stride: 1,
		PadT: p.KH - 1 - p.PadT, PadL: p.KW - 1 - p.PadL, PadB: p.KH - 1 - p.PadB, PadR: p.KW - 1 - p.PadR,
		Groups: p.Groups, OH: p.H, OW: p.W, Act: Identity}
	// Row ti·fg + f of filter gr·cg + c is w[gr·fg + f][c] at tap ti: the
	// tap of the turned-around filter at KH·KW−1−ti.
	kk := p.KH * p.KW
	wT := grow(&convShared.wT, p.C*fg*kk)
	for gr := 0; gr < p.Groups; gr++ {
		for f := 0; f < fg; f++ {
			for c := 0; c < cg; c++ {
				src := w[((gr*fg+f)*cg+c)*kk:][:kk]
				dst := wT[(gr*cg+c)*fg*kk:][:fg*kk]
				for ti, v := range src {
					dst[ti*fg+f] = v
				}
			}
		}
	}
	sh := &convShared
	return t.product(gemmActive.Load(), wT, nil, ohw, nb*ohw, p.C*p.H*p.W, p.H*p.W, true, &sh.apT, &sh.offT, &sh.tapsT)
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
