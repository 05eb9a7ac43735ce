package cpu

import "math"

// The forward convolution is one product per group, W·col, whose B operand
// is the im2col matrix of the whole batch: column j is output pixel j mod
// OH·OW of image j / (OH·OW), and row (c, kh, kw) the input pixel that tap
// multiplies there. That matrix is never written out. Each panel of B
// (nr columns, kc rows at a time) is gathered straight from the images into
// the buffer the micro-kernel reads, so the only pass over the patches is
// the packing the product needs anyway, and it reads images that stay in
// the cache instead of a matrix of k·OH·OW floats per image that does not.
//
// The filters are packed once per call, for all groups and blocks of k, and
// shared by every thread. A panel's product goes to a small buffer of the
// thread's own; the epilogue adds the bias, applies the activation and puts
// each column in its image, while the buffer is still in L1. Panels run
// across image boundaries, so small outputs (a 7×7 map has 49 pixels) fill
// whole panels just as large ones do.
//
// Work is split into units of one panel of one group, numbered group by
// group, and each thread takes an equal run of them, which balances any
// batch size down to one image.

// convProduct is everything a thread needs to compute panels of a
// convolution's product: the shape, where the operands live, the packed
// filters and the tables shared by all panels. Conv.Forward makes one for
// the layer; Conv.Backward makes one for the input gradient of a stride-1
// layer, which is the convolution of the output gradient with the filters
// turned around (see inputGradProduct).
type convProduct struct {
	p       Conv
	g       *gemmImpl
	inImg   int       // x: floats from one image to the next
	inChan  int       // x: floats from one channel to the next
	outImg  int       // y: floats from one image to the next
	outChan int       // y: floats from one channel to the next
	b       []float32 // the bias, F long (zeros for none)
	ap      []float32 // packed filters: group gr, block pc at gr·mPad·k + mPad·pc
	off     []int32   // off[r]: where the tap of row r sits in a window
	tapKH   []int32   // the kernel row of row r's tap
	tapKW   []int32   // and its column
	kc      int       // steps of k per block
	mPad    int       // filters per group, rounded up to the tile
	panels  int       // panels of nr columns across the batch
	s2d     s2dLayout // for a strided convolution packed by runs
}

// maxPackRuns is the most runs for which packing by runs beats a gather: a
// run costs a masked load per vector per step, where a gather of 16 lanes
// costs as much as eight or so.
const maxPackRuns = 4

// convShared holds the packed filters and tap offsets between calls, so
// that they are allocated once and not per step. Only the holder of par.mu
// uses them.
var convShared struct {
	ap    []float32
	off   []int32
	taps  []int32   // tapKH and tapKW of Forward
	zeros []float32 // the bias of a convolution without one
	wT    []float32 // Backward: the filters turned around
	apT   []float32 // Backward: those packed
	offT  []int32
	tapsT []int32
}

// grow returns buf with at least n elements, reallocated only when short.
func grow[T any](buf *[]T, n int) []T {
	if len(*buf) < n {
		*buf = make([]T, n)
	}
	return (*buf)[:n]
}

// zeroBias returns b, or n zeros when b is nil.
func zeroBias(b []float32, n int) []float32 {
	if b != nil {
		return b
	}
	return grow(&convShared.zeros, n)
}

// product packs w (the F filters, each colRows long) into ap and sets up
// the tables (in off and taps) for a product whose input and output have
// the given strides.
//
// A filter's rows are in the usual order, (c, kh, kw), unless tapMajor:
// then row ti·(C/Groups) + c is channel c of tap KH·KW−1−ti (taps counted
// row by row), and each block of k is one tap. Backward's input gradient
// is computed that way so that it adds up the same terms in the same
// order as the im2col product and col2im it replaces.
func (p Conv) product(g *gemmImpl, w, b []float32, inImg, inChan, outImg, outChan int, tapMajor bool, ap *[]float32, off, taps *[]int32) convProduct {
	if p.C*p.H*p.W*p.N > math.MaxInt32 || inImg*p.N > math.MaxInt32 {
		panic("Conv: input too large for 32-bit offsets")
	}
	fg, k := p.F/p.Groups, p.colRows()
	c := convProduct{p: p, g: g, inImg: inImg, inChan: inChan, outImg: outImg, outChan: outChan, b: zeroBias(b, p.F),
		kc: ceilDiv(k, ceilDiv(k, g.kc)), mPad: roundUp(fg, g.mr), panels: ceilDiv(p.N*p.OH*p.OW, g.nr)}
	cg, kk := p.C/p.Groups, p.KH*p.KW
	if tapMajor {
		c.kc = cg
	}
	if inImg == p.C*p.H*p.W && inChan == p.H*p.W {
		c.s2d = p.layoutFor(g) // fill reads images of the usual layout
	}
	c.ap = grow(ap, p.Groups*c.mPad*k)
	for gr := 0; gr < p.Groups; gr++ {
		wg := w[gr*fg*k : (gr+1)*fg*k]
		base := gr * c.mPad * k
		for pc := 0; pc < k; pc += c.kc {
			kb := min(c.kc, k-pc)
			g.packABlock(false, wg, k, 0, pc, fg, kb, c.ap[base+c.mPad*pc:base+c.mPad*(pc+kb)])
		}
	}
	c.off = grow(off, k)
	t := grow(taps, 2*k)
	c.tapKH, c.tapKW = t[:k], t[k:]
	for r := range k {
		ch, tap := r/kk, r%kk
		if tapMajor {
			ch, tap = r%cg, kk-1-r/cg
		}
		kh, kw := tap/p.KW, tap%p.KW
		c.tapKH[r], c.tapKW[r] = int32(kh), int32(kw)
		if c.s2d.on {
			c.off[r] = int32(c.s2d.tapOffset(ch, kh, kw))
		} else {
			c.off[r] = int32(ch*inChan + kh*p.W + kw)
		}
	}
	return c
}

// scratchSize is what runPanels needs of a thread: floats and integers.
func (c *convProduct) scratchSize() (floats, ints int) {
	nr := c.g.nr
	return c.kc*nr + c.mPad*nr + 2*c.s2d.slot, 3*nr + c.kc + c.p.KH + c.p.KW
}

// convFwdJob is a forward convolution while the workers run it.
type convFwdJob struct {
	c    convProduct
	x, y []float32
}

var convFwd convFwdJob

// Forward computes y = act(conv(x, w) + b). A nil b means no bias.
func (p Conv) Forward(x, w, b, y, scratch []float32) {
	checkLen("Conv.Forward", "x", p.InSize(), x)
	checkLen("Conv.Forward", "w", p.WeightSize(), w)
	checkLen("Conv.Forward", "y", p.OutSize(), y)
	checkLen("Conv.Forward", "scratch", p.ForwardScratch(), scratch)
	if b != nil {
		checkLen("Conv.Forward", "b", p.F, b)
	}
	par.mu.Lock()
	defer par.mu.Unlock()
	sh := &convShared
	c := p.product(gemmActive.Load(), w, b, p.C*p.H*p.W, p.H*p.W, p.F*p.OH*p.OW, p.OH*p.OW, false, &sh.ap, &sh.off, &sh.taps)
	convFwd = convFwdJob{c: c, x: x, y: y}
	runParts(&convFwd, min(threads(), p.Groups*c.panels))
	convFwd = convFwdJob{}
}

// do computes part i of n of the units (group, panel).
func (j *convFwdJob) do(i, n int) {
	nf, ni := j.c.scratchSize()
	u0, u1 := share(i, n, j.c.p.Groups*j.c.panels)
	j.c.runPanels(u0, u1, j.x, j.y, partScratch(i, nf), partInts(i, ni))
}

// runPanels computes units [u0, u1) of the product, unit u being panel
// u mod panels of group u / panels, from x into y, in scratch of
// scratchSize.
func (c *convProduct) runPanels(u0, u1 int, x, y, s []float32, ints []int32) {
	p, g := c.p, c.g
	nr, kc := g.nr, c.kc
	cg, fg, k := p.C/p.Groups, p.F/p.Groups, p.colRows()
	ohw := p.OH * p.OW
	sd := c.s2d
	// Scratch: the panel of B, then the panel's outputs (mPad rows of nr),
	// then two rearranged images; and as integers the lanes' window
	// offsets, the runs, the steps' masks, and the lanes that each kernel
	// row and column keep inside the image.
	bp, cs, slots := s[:kc*nr], s[kc*nr:kc*nr+c.mPad*nr], s[kc*nr+c.mPad*nr:]
	have := [2]int{-1, -1} // the (image, group) each slot of slots holds
	idx, runs, mask := ints[:nr], ints[nr:3*nr], ints[3*nr:3*nr+kc]
	rowIn, colIn := ints[3*nr+kc:3*nr+kc+p.KH], ints[3*nr+kc+p.KH:3*nr+kc+p.KH+p.KW]

	for u := u0; u < u1; u++ {
		gr, pn := u/c.panels, u%c.panels
		col0 := pn * nr
		cols := min(nr, p.N*ohw-col0)
		im0 := col0 / ohw
		nruns := c.panelLanes(col0, cols, idx, runs, rowIn, colIn)
		byRuns := g.packRuns != nil && nruns <= maxPackRuns
		xs := x[im0*c.inImg+gr*cg*c.inChan:]
		if sd.on {
			// The panel's images (two at most, as OH·OW ≥ nr), rearranged.
			for im := im0; im <= (col0+cols-1)/ohw; im++ {
				if key := im*p.Groups + gr; have[im%2] != key {
					sd.fill(p, x[im*c.inImg+gr*cg*c.inChan:], slots[im%2*sd.slot:(im%2+1)*sd.slot])
					have[im%2] = key
				}
			}
			xs = slots[im0%2*sd.slot:]
		}
		ap := c.ap[gr*c.mPad*k:]
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			tkh, tkw := c.tapKH[pc:pc+kb], c.tapKW[pc:pc+kb]
			for r := range kb {
				mask[r] = rowIn[tkh[r]] & colIn[tkw[r]]
			}
			if byRuns {
				g.packRuns(kb, xs, c.off[pc:pc+kb], mask[:kb], runs[:2*nruns], bp[:kb*nr])
			} else {
				g.packGatherBlock(kb, xs, c.off[pc:pc+kb], mask[:kb], idx, bp[:kb*nr])
			}
			var beta float32
			if pc > 0 {
				beta = 1 // the earlier blocks of k are already in cs
			}
			g.sweep(kb, ap[c.mPad*pc:c.mPad*(pc+kb)], bp[:kb*nr], fg, cols, cs, nr, 1, beta)
		}
		// Epilogue: bias, activation, and each run of columns to its image.
		for l := 0; l < cols; {
			im, pix := (col0+l)/ohw, (col0+l)%ohw
			run := min(cols-l, ohw-pix)
			o := im*c.outImg + gr*fg*c.outChan + pix
			if g.biasAct != nil && (p.Act == ReLU || p.Act == Identity) {
				g.biasAct(fg, cs[l:], nr, y[o:], c.outChan, c.b[gr*fg:(gr+1)*fg], run, p.Act == ReLU)
			} else {
				for f := range fg {
					biasAct(p.Act, c.b[gr*fg+f], cs[f*nr+l:f*nr+l+run], y[o+f*c.outChan:o+f*c.outChan+run])
				}
			}
			l += run
		}
	}
}

// panelLanes describes the panel of nr lanes whose first cols lanes are the
// output columns col0, col0+1, … of the batch (the rest stay zero). For
// lane l it sets idx[l] to where the lane's window starts, relative to the
// panel's first image, bit l of rowIn[kh] when kernel row kh of the window
// lies inside the image, and bit l of colIn[kw] for kernel column kw. It
// writes the runs of lanes whose windows are contiguous as pairs (offset of
// the run's lane 0, its lanes) to runs, and returns how many there are.
//
// With c.s2d on, the windows are those of the images rearranged by
// s2dLayout.fill, image im in slot im mod 2.
func (c *convProduct) panelLanes(col0, cols int, idx, runs, rowIn, colIn []int32) (nruns int) {
	p, sd := c.p, c.s2d
	ohw := p.OH * p.OW
	im0 := col0 / ohw
	clear(rowIn)
	clear(colIn)
	for l := range idx {
		idx[l] = 0
		if l >= cols {
			continue
		}
		im, pix := (col0+l)/ohw, (col0+l)%ohw
		iy, ix := pix/p.OW*p.Stride-p.PadT, pix%p.OW*p.Stride-p.PadL
		if sd.on {
			idx[l] = int32((im%2-im0%2)*sd.slot + pix/p.OW*sd.w + pix%p.OW)
		} else {
			idx[l] = int32((im-im0)*c.inImg + iy*p.W + ix)
		}
		bit := int32(1) << l
		for kh := range p.KH {
			if uint(iy+kh) < uint(p.H) {
				rowIn[kh] |= bit
			}
		}
		for kw := range p.KW {
			if uint(ix+kw) < uint(p.W) {
				colIn[kw] |= bit
			}
		}
		if l == 0 || idx[l] != idx[l-1]+1 {
			runs[2*nruns], runs[2*nruns+1] = idx[l]-int32(l), 0
			nruns++
		}
		runs[2*nruns-1] |= bit
	}
	return nruns
}

// packGatherBlock fills kb steps of a panel of B by gathering: lane l of
// step r is x[off[r] + idx[l]] where bit l of mask[r] is set, else 0 (see
// package asmgen's packGather).
func (g *gemmImpl) packGatherBlock(kb int, x []float32, off, mask, idx []int32, dst []float32) {
	if g.packGather != nil {
		g.packGather(kb, x, off, mask, idx, dst)
		return
	}
	packGatherGo(g.nr, kb, x, off, mask, idx, dst)
}

func packGatherGo(nr, kb int, x []float32, off, mask, idx []int32, dst []float32) {
	idx = idx[:nr]
	for r := range kb {
		d := dst[r*nr : (r+1)*nr]
		o, m := int(off[r]), mask[r]
		for l, ix := range idx {
			d[l] = 0
			if m&(1<<l) != 0 {
				d[l] = x[o+int(ix)]
			}
		}
	}
}

// s2dLayout rearranges one group of one image for a convolution of stride
// s > 1 ("space to depth"): pixel (y, x) of channel c of the image padded
// by PadT and PadL goes to plane (c, y mod s, x mod s) at (y / s, x / s).
// Tap (kh, kw) of the window of output (oh, ow) then sits at (oh + kh / s,
// ow + kw / s) of plane (c, kh mod s, kw mod s): the taps of neighbouring
// outputs are neighbours, and a panel packs by runs (one per row of
// outputs) instead of by gathers, which cost several times as much. The
// padding at the bottom and right is not stored: the masks leave it out.
type s2dLayout struct {
	on      bool
	s, h, w int // stride, and the rearranged planes' height and width
	plane   int // h·w
	slot    int // one group of one image: C/Groups·s·s planes
}

// layoutFor returns the rearrangement Forward uses on path g: none (sd.on
// false) unless the path packs by runs and the stride is over one, and not
// for outputs so small that a panel spans more than two images.
func (p Conv) layoutFor(g *gemmImpl) s2dLayout {
	if g.packRuns == nil || p.Stride == 1 || p.OH*p.OW < g.nr {
		return s2dLayout{}
	}
	return p.s2d()
}

func (p Conv) s2d() s2dLayout {
	s := p.Stride
	h, w := ceilDiv(p.H+p.PadT, s), ceilDiv(p.W+p.PadL, s)
	return s2dLayout{on: true, s: s, h: h, w: w, plane: h * w, slot: p.C / p.Groups * s * s * h * w}
}

// tapOffset is where tap (c, kh, kw) of output (0, 0)'s window sits.
func (sd s2dLayout) tapOffset(c, kh, kw int) int {
	return (c*sd.s*sd.s+kh%sd.s*sd.s+kw%sd.s)*sd.plane + kh/sd.s*sd.w + kw/sd.s
}

// fill rearranges the group's channels of one image, x, into dst. Each
// input row is read s times in a row, once per plane it feeds, while it is
// in the L1 cache.
func (sd s2dLayout) fill(p Conv, x, dst []float32) {
	s := sd.s
	for c := range p.C / p.Groups {
		src := x[c*p.H*p.W : (c+1)*p.H*p.W]
		for r := range s {
			for oy := range sd.h {
				y := oy*s + r - p.PadT
				for q := range s {
					d := dst[(c*s*s+r*s+q)*sd.plane+oy*sd.w:][:sd.w]
					if y < 0 || y >= p.H {
						clear(d)
						continue
					}
					// The columns that come from inside the image.
					lo, hi := colSpan(q, p.PadL, s, p.W, sd.w)
					clear(d[:lo])
					clear(d[hi:])
					row := src[y*p.W+lo*s+q-p.PadL : y*p.W+(hi-1)*s+q-p.PadL+1]
					d = d[lo:hi]
					for i := range d {
						d[i] = row[i*s]
					}
				}
			}
		}
	}
}
