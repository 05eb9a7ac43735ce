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

// Forward writes the maxima into y and, for Backward, the position of each
// maximum within its input plane (h·W + w) into argmax. Ties go to the first
// maximum in row-major order. A window with no in-bounds element, which
// Validate rules out, would give 0 and argmax −1.
func (p MaxPool) Forward(x, y []float32, argmax []int32) {
	q := p
	checkLen("MaxPool.Forward", "x", q.InSize(), x)
	checkLen("MaxPool.Forward", "y", q.OutSize(), y)
	checkLen32("MaxPool.Forward", "argmax", q.OutSize(), argmax)
	hw, ohw := p.H*p.W, p.OH*p.OW
	for nc := 0; nc < p.N*p.C; nc++ {
		plane := x[nc*hw : (nc+1)*hw]
		out := y[nc*ohw : (nc+1)*ohw]
		arg := argmax[nc*ohw : (nc+1)*ohw]
		for oh := 0; oh < p.OH; oh++ {
			h0, h1 := span(oh, p.Stride, p.PadT, p.Size, p.H)
			for ow := 0; ow < p.OW; ow++ {
				w0, w1 := span(ow, p.Stride, p.PadL, p.Size, p.W)
				best, at := float32(0), int32(-1)
				for h := h0; h < h1; h++ {
					row := plane[h*p.W : (h+1)*p.W]
					for w := w0; w < w1; w++ {
						if v := row[w]; at < 0 || v > best {
							best, at = v, int32(h*p.W+w)
						}
					}
				}
				out[oh*p.OW+ow] = best
				arg[oh*p.OW+ow] = at
			}
		}
	}
}

// Backward overwrites dx with dy routed to the saved argmax positions; where
// overlapping windows share a maximum, their gradients add.
func (p MaxPool) Backward(argmax []int32, dy, dx []float32) {
	q := p
	checkLen32("MaxPool.Backward", "argmax", q.OutSize(), argmax)
	checkLen("MaxPool.Backward", "dy", q.OutSize(), dy)
	checkLen("MaxPool.Backward", "dx", q.InSize(), dx)
	hw, ohw := p.H*p.W, p.OH*p.OW
	clear(dx[:q.InSize()])
	for nc := 0; nc < p.N*p.C; nc++ {
		plane := dx[nc*hw : (nc+1)*hw]
		g := dy[nc*ohw : (nc+1)*ohw]
		arg := argmax[nc*ohw : (nc+1)*ohw]
		for i, a := range arg[:len(g)] {
			if a >= 0 {
				plane[a] += g[i]
			}
		}
	}
}

// Forward writes the window means into y.
func (p AvgPool) Forward(x, y []float32) {
	q := p
	checkLen("AvgPool.Forward", "x", q.InSize(), x)
	checkLen("AvgPool.Forward", "y", q.OutSize(), y)
	hw, ohw := p.H*p.W, p.OH*p.OW
	for nc := 0; nc < p.N*p.C; nc++ {
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
	hw, ohw := p.H*p.W, p.OH*p.OW
	clear(dx[:q.InSize()])
	for nc := 0; nc < p.N*p.C; nc++ {
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
