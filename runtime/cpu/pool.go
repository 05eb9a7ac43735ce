package cpu

import "fmt"

// Pool is the shape of a pooling layer: square windows of Size z moved by
// Stride s over each channel of an [N][C][H][W] tensor, giving [N][C][OH][OW].
// z > s is the paper's overlapping pooling (z=3, s=2); z = s is the
// traditional non-overlapping kind.
//
// Padding may differ per side; as for Conv, extra bottom and right padding
// implements cuda-convnet's "ceil" rounding. Padded positions are not
// values: a window takes only its in-bounds elements into account (see
// MaxPool and AvgPool). Validate rejects shapes where a window would lie
// wholly outside the input.
type Pool struct {
	N, C, H, W             int
	Size, Stride           int
	PadT, PadL, PadB, PadR int
	OH, OW                 int
}

// MaxPool takes the largest in-bounds element of each window, which is what
// both cuda-convnet and PyTorch (whose padding is −∞) compute.
type MaxPool Pool

// AvgPool takes the mean of the in-bounds elements of each window: the
// divisor is the number of window elements inside the input, not Size², as
// in PyTorch's avg_pool2d with count_include_pad=False and in cuda-convnet's
// average pooling. Windows cut by the edge or by "ceil" padding are thus
// means of fewer elements rather than being diluted by zeros.
type AvgPool Pool

// Validate reports whether the shape is consistent.
func (p Pool) Validate() error {
	if p.N <= 0 || p.C <= 0 {
		return fmt.Errorf("pool: sizes must be positive (N=%d C=%d)", p.N, p.C)
	}
	if err := checkWindow("pool rows", p.H, p.Size, p.Stride, p.PadT, p.PadB, p.OH); err != nil {
		return err
	}
	return checkWindow("pool columns", p.W, p.Size, p.Stride, p.PadL, p.PadR, p.OW)
}

// InSize is the element count of x and dx.
func (p Pool) InSize() int { return p.N * p.C * p.H * p.W }

// OutSize is the element count of y and dy, and the length of MaxPool's
// argmax buffer.
func (p Pool) OutSize() int { return p.N * p.C * p.OH * p.OW }

// Validate reports whether the shape is consistent (see Pool.Validate).
func (p MaxPool) Validate() error { return Pool(p).Validate() }

// InSize is the element count of x and dx.
func (p MaxPool) InSize() int { return Pool(p).InSize() }

// OutSize is the element count of y, dy and argmax.
func (p MaxPool) OutSize() int { return Pool(p).OutSize() }

// Validate reports whether the shape is consistent (see Pool.Validate).
func (p AvgPool) Validate() error { return Pool(p).Validate() }

// InSize is the element count of x and dx.
func (p AvgPool) InSize() int { return Pool(p).InSize() }

// OutSize is the element count of y and dy.
func (p AvgPool) OutSize() int { return Pool(p).OutSize() }

// span returns the in-bounds input range [lo, hi) of window o along an axis.
func span(o, stride, pad, size, in int) (lo, hi int) {
	start := o*stride - pad
	return max(start, 0), min(start+size, in)
}

// The pooling kernels split the batch's images among the worker pool's parts
// (see parallel.go); every plane is pooled exactly as the serial loop would,
// so results do not depend on the thread count.

// parts is the number of parts to split the batch into: one for a tensor
// too small to repay waking the workers.
func (p Pool) parts() int {
	if p.InSize() < parallelMin {
		return 1
	}
	return min(threads(), p.N)
}

// maxPoolFwdJob is MaxPool.Forward's parallel region.
type maxPoolFwdJob struct {
	p      MaxPool
	x, y   []float32
	argmax []int32
}

var maxPoolFwd maxPoolFwdJob

func (j *maxPoolFwdJob) do(i, n int) {
	lo, hi := share(i, n, j.p.N)
	j.p.forwardPlanes(lo*j.p.C, hi*j.p.C, j.x, j.y, j.argmax)
}

// Forward writes the maxima into y and, for Backward, the position of each
// maximum within its input plane (h·W + w) into argmax. Ties go to the first
// maximum in row-major order. A window with no in-bounds element, which
// Validate rules out, would give 0 and argmax −1.
func (p MaxPool) Forward(x, y []float32, argmax []int32) {
	q := p
	checkLen("MaxPool.Forward", "x", q.InSize(), x)
	checkLen("MaxPool.Forward", "y", q.OutSize(), y)
	checkLen32("MaxPool.Forward", "argmax", q.OutSize(), argmax)
	par.mu.Lock()
	defer par.mu.Unlock()
	maxPoolFwd = maxPoolFwdJob{p, x, y, argmax}
	runParts(&maxPoolFwd, Pool(p).parts())
	maxPoolFwd = maxPoolFwdJob{}
}

// forwardPlanes is Forward on planes [p0, p1) of the N·C. Rows of windows
// of the paper's size 3 that lie wholly inside the input, nearly all of them,
// go to maxRow3x3; the windows at the edges, and those of other sizes, are
// done one at a time.
func (p MaxPool) forwardPlanes(p0, p1 int, x, y []float32, argmax []int32) {
	hw, ohw, W := p.H*p.W, p.OH*p.OW, p.W
	// Windows [in0, in1) of each row of windows are inside the columns.
	in0, in1 := 0, 0
	if p.Size == 3 && W+p.PadL >= 3 {
		in0 = min((p.PadL+p.Stride-1)/p.Stride, p.OW)
		in1 = max(min((W+p.PadL-3)/p.Stride+1, p.OW), in0)
	}
	for nc := p0; nc < p1; nc++ {
		plane := x[nc*hw : (nc+1)*hw]
		out := y[nc*ohw : (nc+1)*ohw]
		arg := argmax[nc*ohw : (nc+1)*ohw]
		for oh := 0; oh < p.OH; oh++ {
			h0, h1 := span(oh, p.Stride, p.PadT, p.Size, p.H)
			out, arg := out[oh*p.OW:(oh+1)*p.OW], arg[oh*p.OW:(oh+1)*p.OW]
			lo, hi := 0, 0 // the windows maxRow3x3 does
			if h1-h0 == 3 {
				lo, hi = in0, in1
				maxRow3x3(plane, W, p.Stride, h0*W+lo*p.Stride-p.PadL, out[lo:hi], arg[lo:hi])
			}
			p.windows(plane, h0, h1, 0, lo, out, arg)
			p.windows(plane, h0, h1, hi, p.OW, out, arg)
		}
	}
}

// windows pools windows [ow0, ow1) of the row of windows over input rows
// [h0, h1) one at a time, into out and arg, which hold the whole row.
func (p MaxPool) windows(plane []float32, h0, h1, ow0, ow1 int, out []float32, arg []int32) {
	for ow := ow0; ow < ow1; ow++ {
		w0, w1 := span(ow, p.Stride, p.PadL, p.Size, p.W)
		if h0 >= h1 || w0 >= w1 {
			out[ow], arg[ow] = 0, -1
			continue
		}
		at := windowArgmax(plane, p.W, h0, h1, w0, w1)
		out[ow], arg[ow] = plane[at], int32(at)
	}
}

// The argmax of a window is the first maximum in row-major order, which is
// what a running maximum that lets a later element win only when strictly
// greater finds (and it keeps a NaN only where the NaN comes first, since
// comparisons with NaN are false). Done that way, the branches on the
// comparisons are taken at random and mispredicted on most windows, so the
// functions below find the maximum m with the branch-free builtin max, and
// then the first element equal to m, scanning backwards with conditional
// moves. The two agree: the running maximum settles on the first element
// equal to m, where equal is ==, for which −0 and +0 tie just as they do for
// the running maximum's >. The value stored is that element, not m, so its
// sign of zero is kept. A NaN anywhere in the window makes m NaN, and such
// windows take the running maximum itself.

// maxRow3x3 pools a row of 3×3 windows that lie inside the plane, the
// window of out[k] having its top left corner at plane[at + k·stride].
func maxRow3x3(plane []float32, W, stride, at int, out []float32, arg []int32) {
	vec := gemmActive.Load().maxPool3s2
	if stride != 2 || vec == nil {
		maxRow3x3Go(plane, W, stride, at, out, arg)
		return
	}
	for len(out) > 0 {
		done := vec(plane, W, at, out, arg)
		out, arg, at = out[done:], arg[done:], at+2*done
		// The vector loop stopped before a group of windows with a NaN:
		// pool that group here.
		m := min(16, len(out))
		maxRow3x3Go(plane, W, stride, at, out[:m], arg[:m])
		out, arg, at = out[m:], arg[m:], at+2*m
	}
}

// maxRow3x3Go is maxRow3x3 in Go, for any stride.
func maxRow3x3Go(plane []float32, W, stride, at int, out []float32, arg []int32) {
	arg = arg[:len(out)]
	for k := range out {
		r := plane[at : at+2*W+3]
		i := argmax3x3(r, W)
		out[k], arg[k] = r[i], int32(at+i)
		at += stride
	}
}

// argmax3x3 returns the position, relative to r[0], of the maximum of the
// 3×3 window whose rows start at r[0], r[W] and r[2W]. (Kept out of
// maxRow3x3's loop, where the compiler would turn its conditional moves back
// into branches.)
func argmax3x3(r []float32, W int) int {
	r0, r1, r2 := r[:3], r[W:W+3], r[2*W:2*W+3]
	v0, v1, v2 := r0[0], r0[1], r0[2]
	v3, v4, v5 := r1[0], r1[1], r1[2]
	v6, v7, v8 := r2[0], r2[1], r2[2]
	m := max(max(v0, v1, v2), max(v3, v4, v5), max(v6, v7, v8))
	if m != m {
		return runningArgmax(r, W, 0, 3, 0, 3)
	}
	k := 2*W + 2
	if v7 == m {
		k = 2*W + 1
	}
	if v6 == m {
		k = 2 * W
	}
	if v5 == m {
		k = W + 2
	}
	if v4 == m {
		k = W + 1
	}
	if v3 == m {
		k = W
	}
	if v2 == m {
		k = 2
	}
	if v1 == m {
		k = 1
	}
	if v0 == m {
		k = 0
	}
	return k
}

// windowArgmax returns the position in plane of the maximum of rows
// [h0, h1) and columns [w0, w1), a non-empty window.
func windowArgmax(plane []float32, W, h0, h1, w0, w1 int) int {
	m := plane[h0*W+w0]
	for h := h0; h < h1; h++ {
		for _, v := range plane[h*W+w0 : h*W+w1] {
			m = max(m, v)
		}
	}
	if m != m {
		return runningArgmax(plane, W, h0, h1, w0, w1)
	}
	k := 0
	for h := h1 - 1; h >= h0; h-- {
		row := plane[h*W+w0 : h*W+w1]
		for w := len(row) - 1; w >= 0; w-- {
			if row[w] == m {
				k = h*W + w0 + w
			}
		}
	}
	return k
}

// runningArgmax is windowArgmax done with a running maximum, the
// definition, for windows holding a NaN.
func runningArgmax(plane []float32, W, h0, h1, w0, w1 int) int {
	k := h0*W + w0
	best := plane[k]
	for h := h0; h < h1; h++ {
		for w, v := range plane[h*W+w0 : h*W+w1] {
			if v > best {
				best, k = v, h*W+w0+w
			}
		}
	}
	return k
}

// maxPoolBwdJob is MaxPool.Backward's parallel region.
type maxPoolBwdJob struct {
	p      MaxPool
	argmax []int32
	dy, dx []float32
}

var maxPoolBwd maxPoolBwdJob

func (j *maxPoolBwdJob) do(i, n int) {
	lo, hi := share(i, n, j.p.N)
	j.p.backwardPlanes(lo*j.p.C, hi*j.p.C, j.argmax, j.dy, j.dx)
}

// Backward overwrites dx with dy routed to the saved argmax positions; where
// overlapping windows share a maximum, their gradients add.
func (p MaxPool) Backward(argmax []int32, dy, dx []float32) {
	q := p
	checkLen32("MaxPool.Backward", "argmax", q.OutSize(), argmax)
	checkLen("MaxPool.Backward", "dy", q.OutSize(), dy)
	checkLen("MaxPool.Backward", "dx", q.InSize(), dx)
	par.mu.Lock()
	defer par.mu.Unlock()
	maxPoolBwd = maxPoolBwdJob{p, argmax, dy, dx}
	runParts(&maxPoolBwd, Pool(p).parts())
	maxPoolBwd = maxPoolBwdJob{}
}

// backwardPlanes is Backward on planes [p0, p1) of the N·C. A plane's
// gradients are added in output order, as the serial loop adds them. Each
// plane is cleared just before its gradients go in, while it is in cache.
func (p MaxPool) backwardPlanes(p0, p1 int, argmax []int32, dy, dx []float32) {
	hw, ohw := p.H*p.W, p.OH*p.OW
	for nc := p0; nc < p1; nc++ {
		plane := dx[nc*hw : (nc+1)*hw]
		clear(plane)
		g := dy[nc*ohw : (nc+1)*ohw]
		arg := argmax[nc*ohw : (nc+1)*ohw]
		for i, a := range arg[:len(g)] {
			if a >= 0 {
				plane[a] += g[i]
			}
		}
	}
}

// avgPoolJob is AvgPool's parallel region, forward or backward: x and y are
// the forward pass's, dy and dx the backward pass's.
type avgPoolJob struct {
	p            AvgPool
	backward     bool
	x, y, dy, dx []float32
}

var avgPoolRun avgPoolJob

func (j *avgPoolJob) do(i, n int) {
	lo, hi := share(i, n, j.p.N)
	if j.backward {
		j.p.backwardPlanes(lo*j.p.C, hi*j.p.C, j.dy, j.dx)
	} else {
		j.p.forwardPlanes(lo*j.p.C, hi*j.p.C, j.x, j.y)
	}
}

// Forward writes the window means into y.
func (p AvgPool) Forward(x, y []float32) {
	q := p
	checkLen("AvgPool.Forward", "x", q.InSize(), x)
	checkLen("AvgPool.Forward", "y", q.OutSize(), y)
	par.mu.Lock()
	defer par.mu.Unlock()
	avgPoolRun = avgPoolJob{p: p, x: x, y: y}
	runParts(&avgPoolRun, Pool(p).parts())
	avgPoolRun = avgPoolJob{}
}

// forwardPlanes is Forward on planes [p0, p1) of the N·C.
func (p AvgPool) forwardPlanes(p0, p1 int, x, y []float32) {
	hw, ohw := p.H*p.W, p.OH*p.OW
	for nc := p0; nc < p1; nc++ {
		plane := x[nc*hw : (nc+1)*hw]
		out := y[nc*ohw : (nc+1)*ohw]
		for oh := 0; oh < p.OH; oh++ {
			h0, h1 := span(oh, p.Stride, p.PadT, p.Size, p.H)
			for ow := 0; ow < p.OW; ow++ {
				w0, w1 := span(ow, p.Stride, p.PadL, p.Size, p.W)
				var s float32
				for h := h0; h < h1; h++ {
					s += sum(plane[h*p.W+w0 : h*p.W+w1])
				}
				if count := (h1 - h0) * (w1 - w0); count > 0 {
					s /= float32(count)
				}
				out[oh*p.OW+ow] = s
			}
		}
	}
}

// Backward overwrites dx: each window spreads its gradient evenly over its
// in-bounds elements, and overlapping windows add.
func (p AvgPool) Backward(dy, dx []float32) {
	q := p
	checkLen("AvgPool.Backward", "dy", q.OutSize(), dy)
	checkLen("AvgPool.Backward", "dx", q.InSize(), dx)
	par.mu.Lock()
	defer par.mu.Unlock()
	avgPoolRun = avgPoolJob{p: p, backward: true, dy: dy, dx: dx}
	runParts(&avgPoolRun, Pool(p).parts())
	avgPoolRun = avgPoolJob{}
}

// backwardPlanes is Backward on planes [p0, p1) of the N·C.
func (p AvgPool) backwardPlanes(p0, p1 int, dy, dx []float32) {
	hw, ohw := p.H*p.W, p.OH*p.OW
	clear(dx[p0*hw : p1*hw])
	for nc := p0; nc < p1; nc++ {
		plane := dx[nc*hw : (nc+1)*hw]
		g := dy[nc*ohw : (nc+1)*ohw]
		for oh := 0; oh < p.OH; oh++ {
			h0, h1 := span(oh, p.Stride, p.PadT, p.Size, p.H)
			for ow := 0; ow < p.OW; ow++ {
				w0, w1 := span(ow, p.Stride, p.PadL, p.Size, p.W)
				count := (h1 - h0) * (w1 - w0)
				if count == 0 {
					continue
				}
				v := g[oh*p.OW+ow] / float32(count)
				for h := h0; h < h1; h++ {
					row := plane[h*p.W+w0 : h*p.W+w1]
					for i := range row {
						row[i] += v
					}
				}
			}
		}
	}
}
