package plan

import "fmt"

// CUDAKernel describes a kernel the CUDA backend provides: how it is
// launched and what it takes. Elementwise kernels run one thread per
// element in blocks of 256; the others say how they split the work. Its
// body is compiler/cudagen's kernels.cuh.
type CUDAKernel struct {
	Name    string
	Block   [3]int
	Shared  int      // static shared memory in bytes
	Consts  []string // specialised constants, in order
	Args    []string // buffer parameters, in order
	Runtime []string // scalars passed at each launch
	// Types are the C types of the buffers and runtime scalars; a buffer
	// the kernel only reads is const.
	Types   map[string]string
	Barrier bool   // the kernel synchronises its block (__syncthreads)
	Doc     string // what one thread or block computes
	// Grid is the launch's grid for the given integer constants.
	Grid func(c map[string]int) [3]int
}

// perThread is the grid of a kernel with one thread per unit of work.
func perThread(work func(c map[string]int) int) func(map[string]int) [3]int {
	return func(c map[string]int) [3]int { return [3]int{ceilDiv(work(c), threads), 1, 1} }
}

// perBlock is the grid of a kernel with one block per unit of work.
func perBlock(name string) func(map[string]int) [3]int {
	return func(c map[string]int) [3]int { return [3]int{c[name], 1, 1} }
}

// Work counts for the grids.
var (
	colWork     = func(c map[string]int) int { return c["C"] * c["KH"] * c["KW"] * c["OH"] * c["OW"] }
	imageWork   = func(c map[string]int) int { return c["C"] * c["H"] * c["W"] }
	tensorWork  = func(c map[string]int) int { return c["N"] * c["C"] * c["HW"] }
	lenWork     = func(c map[string]int) int { return c["len"] }
	lrnWork     = func(c map[string]int) int { return c["N"] * (c["C1"] - c["C0"]) * c["H"] * c["W"] }
	poolOutWork = func(c map[string]int) int { return c["N"] * c["C"] * c["OH"] * c["OW"] }
	poolInWork  = func(c map[string]int) int { return c["N"] * imageWork(c) }
	rowWork     = func(c map[string]int) int { return c["N"] * c["classes"] }
	sliceWork   = func(c map[string]int) int { return c["N"] * c["c"] * c["HW"] }
	gemmGrid    = func(c map[string]int) [3]int { return [3]int{ceilDiv(c["N"], gemmTile), ceilDiv(c["M"], gemmTile), 1} }
	oneBlock    = func(map[string]int) [3]int { return [3]int{1, 1, 1} }
)

// Tile sizes of sgemm: a 64×64 tile of C per block of 16×16 threads, each
// computing 4×4 outputs, with 64×16 tiles of A and B staged in shared memory.
const (
	gemmTile  = 64
	gemmDepth = 16
	threads   = 256 // per block, for the elementwise kernels
)

var (
	poolConsts = []string{"N", "C", "H", "W", "size", "stride", "pad_t", "pad_l", "OH", "OW"}
	colConsts  = []string{"C", "H", "W", "KH", "KW", "stride", "pad_t", "pad_l", "OH", "OW"}
	lrnConsts  = []string{"N", "C", "H", "W", "C0", "C1", "size", "k", "alpha", "beta"}
	flat       = [3]int{threads, 1, 1}
)

const (
	cf = "const float*"
	fp = "float*"
)

// CUDAKernels lists every kernel a launch plan may name.
var CUDAKernels = []CUDAKernel{
	{Name: "im2col", Block: flat, Consts: colConsts, Args: []string{"x", "col"}, Types: map[string]string{"x": cf, "col": fp},
		Doc:  "one thread per element of the column matrix [C·KH·KW][OH·OW] of one image; padding reads as 0",
		Grid: perThread(colWork)},
	{Name: "col2im", Block: flat, Consts: colConsts, Args: []string{"col", "dx"}, Types: map[string]string{"col": cf, "dx": fp},
		Doc:  "one thread per input pixel of one image, summing the column entries that read it (no atomics); overwrites dx",
		Grid: perThread(imageWork)},
	{Name: "sgemm", Block: [3]int{16, 16, 1}, Shared: 2 * gemmTile * gemmDepth * 4,
		Consts: []string{"trans_a", "trans_b", "M", "N", "K", "lda", "ldb", "ldc", "alpha", "beta"}, Args: []string{"a", "b", "c"},
		Types: map[string]string{"a": cf, "b": cf, "c": fp}, Barrier: true,
		Doc:  "C ← alpha·op(A)·op(B) + beta·C, row-major, op(A) M×K, op(B) K×N; a block computes a 64×64 tile of C, grid (⌈N/64⌉, ⌈M/64⌉)",
		Grid: gemmGrid},
	{Name: "bias_act", Block: flat, Consts: []string{"N", "C", "HW", "act"}, Args: []string{"b", "y"}, Types: map[string]string{"b": cf, "y": fp},
		Doc:  "one thread per element of y [N][C][HW]: y ← act(y + b[c]); act 0 none, 1 relu, 2 tanh, 3 sigmoid, 4 leaky relu",
		Grid: perThread(tensorWork)},
	{Name: "act_backward", Block: flat, Consts: []string{"len", "act"}, Args: []string{"y", "dy", "dx"},
		Types: map[string]string{"y": cf, "dy": cf, "dx": fp},
		Doc:   "one thread per element: dx ← dy·act′ computed from the output y", Grid: perThread(lenWork)},
	{Name: "bias_grad", Block: flat, Shared: threads * 4, Consts: []string{"N", "C", "HW", "beta"}, Args: []string{"dy", "db"},
		Types: map[string]string{"dy": cf, "db": fp}, Barrier: true,
		Doc:  "one block per channel c, reducing dy[N][c][HW] in shared memory: db[c] ← Σ + beta·db[c]",
		Grid: perBlock("C")},
	{Name: "fill", Block: flat, Consts: []string{"len", "value"}, Args: []string{"x"}, Types: map[string]string{"x": fp},
		Doc: "one thread per element: x ← value", Grid: perThread(lenWork)},
	{Name: "lrn_forward", Block: flat, Consts: lrnConsts, Args: []string{"x", "y"}, Types: map[string]string{"x": cf, "y": fp},
		Doc:  "one thread per element of channels [C0, C1) of [N][C][H][W] (x and y point at channel C0): s ← k + alpha·Σ x² over the window clipped to the slice, y ← x·s^−beta (alpha already divided by size where the spec says so)",
		Grid: perThread(lrnWork)},
	{Name: "lrn_backward", Block: flat, Consts: lrnConsts, Args: []string{"x", "dy", "dx"}, Types: map[string]string{"x": cf, "dy": cf, "dx": fp},
		Doc:  "one thread per element of channels [C0, C1) (x, dy, dx point at channel C0): dx ← dy·s^−beta − 2·alpha·beta·x·Σ dy·x·s^(−beta−1) over the window, each s recomputed from x",
		Grid: perThread(lrnWork)},
	{Name: "maxpool_forward", Block: flat, Consts: poolConsts, Args: []string{"x", "y", "argmax"},
		Types: map[string]string{"x": cf, "y": fp, "argmax": "int*"},
		Doc:   "one thread per output: the largest in-bounds element of the window and its index in the plane", Grid: perThread(poolOutWork)},
	{Name: "maxpool_backward", Block: flat, Consts: poolConsts, Args: []string{"argmax", "dy", "dx"},
		Types: map[string]string{"argmax": "const int*", "dy": cf, "dx": fp},
		Doc:   "one thread per input element, summing dy of the windows whose argmax it is (no atomics); overwrites dx", Grid: perThread(poolInWork)},
	{Name: "avgpool_forward", Block: flat, Consts: poolConsts, Args: []string{"x", "y"}, Types: map[string]string{"x": cf, "y": fp},
		Doc: "one thread per output: the mean of the in-bounds elements of the window", Grid: perThread(poolOutWork)},
	{Name: "avgpool_backward", Block: flat, Consts: poolConsts, Args: []string{"dy", "dx"}, Types: map[string]string{"dy": cf, "dx": fp},
		Doc: "one thread per input element, summing dy/count of the windows that cover it; overwrites dx", Grid: perThread(poolInWork)},
	{Name: "dropout_train", Block: flat, Consts: []string{"len", "rate"}, Args: []string{"x", "y", "mask"}, Runtime: []string{"seed"},
		Types: map[string]string{"x": cf, "y": fp, "mask": "unsigned char*", "seed": "unsigned long long"},
		Doc:   "one thread per unit: a counter-based random draw from (seed, index) keeps the unit (mask 1, y ← x) or drops it (mask 0, y ← 0)",
		Grid:  perThread(lenWork)},
	{Name: "dropout_test", Block: flat, Consts: []string{"len", "scale"}, Args: []string{"x", "y"}, Types: map[string]string{"x": cf, "y": fp},
		Doc: "one thread per unit: y ← scale·x, scale = 1 − rate", Grid: perThread(lenWork)},
	{Name: "dropout_backward", Block: flat, Consts: []string{"len"}, Args: []string{"mask", "dy", "dx"},
		Types: map[string]string{"mask": "const unsigned char*", "dy": cf, "dx": fp},
		Doc:   "one thread per unit: dx ← dy·mask", Grid: perThread(lenWork)},
	{Name: "softmax", Block: flat, Shared: threads * 4, Consts: []string{"N", "classes"}, Args: []string{"logits", "prob"},
		Types: map[string]string{"logits": cf, "prob": fp}, Barrier: true,
		Doc: "one block per row: maximum, sum of exponentials and quotients, reduced in shared memory", Grid: perBlock("N")},
	{Name: "nll_loss", Block: flat, Shared: threads * 4, Consts: []string{"N", "classes"}, Args: []string{"logits", "labels", "loss"},
		Types: map[string]string{"logits": cf, "labels": "const int*", "loss": fp}, Barrier: true,
		Doc:  "one block of 256 threads, a thread per row (looping when N > 256): log-sum-exp − the label's logit, summed in shared memory; loss ← mean",
		Grid: oneBlock},
	{Name: "softmax_backward", Block: flat, Consts: []string{"N", "classes"}, Args: []string{"prob", "labels", "dlogits"},
		Types: map[string]string{"prob": cf, "labels": "const int*", "dlogits": fp},
		Doc:   "one thread per element: dlogits ← (prob − [class = label]) / N", Grid: perThread(rowWork)},
	{Name: "channel_add", Block: flat, Consts: []string{"N", "HW", "src_c", "dst_c", "c"}, Args: []string{"src", "dst"},
		Types: map[string]string{"src": cf, "dst": fp},
		Doc:   "one thread per element of c channels: dst[n][c′][hw] += src[n][c′][hw], src and dst pointing at their first channel, images src_c·HW and dst_c·HW floats apart",
		Grid:  perThread(sliceWork)},
	{Name: "sgd", Block: flat, Consts: []string{"len", "momentum", "weight_decay"}, Args: []string{"w", "g", "v"}, Runtime: []string{"lr"},
		Types: map[string]string{"w": fp, "g": cf, "v": fp, "lr": "float"},
		Doc:   "one thread per parameter: v ← momentum·v − weight_decay·lr·w − lr·g; w ← w + v", Grid: perThread(lenWork)},
}

// CUDAKernelNamed returns the spec of the named CUDA kernel, or nil.
func CUDAKernelNamed(name string) *CUDAKernel {
	for i := range CUDAKernels {
		if CUDAKernels[i].Name == name {
			return &CUDAKernels[i]
		}
	}
	return nil
}

// Unit is a launch, or the body of a loop (Count > 1): launches on one
// stream, ordered against other streams as one.
type Unit []Launch

// Expand returns the launches of a step, in units, as the op table's CUDA
// rule gives them, with the memory plan's offsets; the planner orders them
// with events.
func (p *Plan) Expand(prog Program, i int) ([]Unit, error) {
	s := p.Steps[prog][i]
	d := s.Kernel.Def()
	if d == nil || d.CUDA == nil {
		return nil, fmt.Errorf("plan: no CUDA launches for step %d (%s)", i, s.Kernel)
	}
	us := d.CUDA(&cudaStep{p: p, prog: prog, s: s})
	for _, u := range us {
		for j := range u {
			u[j].Step, u[j].Layer, u[j].Note = i, s.Layer, s.Note
			if u[j].Count == 0 {
				u[j].Count = 1
			}
		}
	}
	return us, nil
}

// cudaStep is what a kernel's CUDA rule works with: the step and where its
// buffers are.
type cudaStep struct {
	p    *Plan
	prog Program
	s    *Step
}

func (c *cudaStep) arg(name string) *Buffer { return c.s.Arg(name) }

// compute puts launches on the step's device's compute stream.
func (c *cudaStep) compute(ls ...Launch) Unit {
	for i := range ls {
		ls[i].Device, ls[i].Stream = c.s.Device, ComputeStream
	}
	return ls
}

// loop makes launches the body of a loop run n times.
func (c *cudaStep) loop(n int, ls ...Launch) Unit {
	for i := range ls {
		ls[i].Count = n
	}
	return c.compute(ls...)
}

// whole passes a whole buffer.
func (c *cudaStep) whole(name string, b *Buffer, acc Access) Arg {
	return c.chunk(name, b, acc, 0, b.Bytes(), 0)
}

// chunk passes n contiguous bytes of a buffer from start, moved by advance
// bytes in each iteration of a loop.
func (c *cudaStep) chunk(name string, b *Buffer, acc Access, start, n, advance int64) Arg {
	return c.rows(name, b, acc, start, 1, n, n, advance)
}

func (c *cudaStep) rows(name string, b *Buffer, acc Access, start, rows, rowBytes, pitch, advance int64) Arg {
	return Arg{Name: name, Buffer: b.Name, Device: b.Device, Offset: b.Offset[c.prog], Bytes: b.Bytes(),
		Access: acc, Start: start, Rows: rows, RowBytes: rowBytes, Pitch: pitch, Advance: advance}
}

// channels passes channels [c0, c1) of an [N][C][HW] buffer: one row per
// image, or one block when the channels are all of them.
func (c *cudaStep) channels(name string, b *Buffer, acc Access, n, ch, c0, c1, hw int) Arg {
	if c0 == 0 && c1 == ch {
		return c.whole(name, b, acc)
	}
	return c.rows(name, b, acc, f32(c0*hw), int64(n), f32((c1-c0)*hw), f32(ch*hw), 0)
}

func kernel(name string, consts Values, args ...Arg) Launch {
	k := CUDAKernelNamed(name)
	return Launch{Kind: KernelLaunch, Kernel: name, Grid: k.Grid(consts.ints()), Block: k.Block, SharedBytes: k.Shared,
		Constants: consts, Runtime: k.Runtime, Args: args}
}

// ints names integer constants in order.
func ints(names []string, v ...int) Values {
	c := make(Values, len(v))
	for i, x := range v {
		c[i] = Int(names[i], x)
	}
	return c
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func f32(n int) int64 { return 4 * int64(n) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sgemm(transA, transB bool, m, n, k, lda, ldb, ldc int, beta float32, a, b, c Arg) Launch {
	consts := append(ints([]string{"trans_a", "trans_b", "M", "N", "K", "lda", "ldb", "ldc"},
		boolInt(transA), boolInt(transB), m, n, k, lda, ldb, ldc), Float("alpha", 1), Float("beta", beta))
	return kernel("sgemm", consts, a, b, c)
}

func consts(kernel string, v ...int) Values { return ints(CUDAKernelNamed(kernel).Consts, v...) }

// convForwardLaunches: for each image, and each group, the column matrix of
// the image in scratch and one GEMM into the group's output channels; then
// the bias and activation over the whole batch. The scratch holds one
// image's column matrix, which is what the memory plan gives it.
func convForwardLaunches(c *cudaStep) []Unit {
	a := c.s.Attrs
	x, w, y, scr := c.arg("x"), c.arg("w"), c.arg("y"), c.arg("scratch")
	n, ch, groups, f := a.Int("N"), a.Int("C"), a.Int("Groups"), a.Int("F")
	cg, fg, hw, ohw := ch/groups, f/groups, a.Int("H")*a.Int("W"), a.Int("OH")*a.Int("OW")
	k := cg * a.Int("KH") * a.Int("KW")
	var body []Launch
	for g := 0; g < groups; g++ {
		col := c.chunk("col", scr, Write, 0, f32(k*ohw), 0)
		body = append(body,
			kernel("im2col", colConstants(a), c.chunk("x", x, Read, f32(g*cg*hw), f32(cg*hw), f32(ch*hw)), col),
			sgemm(false, false, fg, ohw, k, k, ohw, ohw, 0,
				c.chunk("a", w, Read, f32(g*fg*k), f32(fg*k), 0), c.chunk("b", scr, Read, 0, f32(k*ohw), 0),
				c.chunk("c", y, Write, f32(g*fg*ohw), f32(fg*ohw), f32(f*ohw))))
	}
	return []Unit{c.loop(n, body...), c.compute(kernel("bias_act", consts("bias_act", n, f, ohw, a.Int("Act")),
		c.whole("b", c.arg("b"), Read), c.whole("y", y, ReadWrite)))}
}

// convBackwardLaunches zeroes dw and db, then for each image: the gradient
// through the activation into scratch (behind the column matrix, as on the
// CPU), its sum into db, and per group the column matrix, dw += dy·colᵀ,
// and, unless this is the first layer, col = wᵀ·dy scattered back into dx.
func convBackwardLaunches(c *cudaStep) []Unit {
	a := c.s.Attrs
	x, w, y, dy, dx, dw, db, scr := c.arg("x"), c.arg("w"), c.arg("y"), c.arg("dy"), c.arg("dx"), c.arg("dw"), c.arg("db"), c.arg("scratch")
	n, ch, groups, f, act := a.Int("N"), a.Int("C"), a.Int("Groups"), a.Int("F"), a.Int("Act")
	cg, fg, hw, ohw := ch/groups, f/groups, a.Int("H")*a.Int("W"), a.Int("OH")*a.Int("OW")
	k := cg * a.Int("KH") * a.Int("KW")
	out := f32(f * ohw) // one image's output
	units := []Unit{c.compute(kernel("fill", Values{Int("len", int(dw.Elems())), Float("value", 0)}, c.whole("x", dw, Write)))}
	if db != nil {
		units = append(units, c.compute(kernel("fill", Values{Int("len", int(db.Elems())), Float("value", 0)}, c.whole("x", db, Write))))
	}
	var body []Launch
	// grad is the gradient of the pre-activation output of group g (all
	// groups for g < 0) of the current image.
	grad := func(g int) Arg {
		start, size := int64(0), out
		if g >= 0 {
			start, size = f32(g*fg*ohw), f32(fg*ohw)
		}
		if act == 0 {
			return c.chunk("dy", dy, Read, start, size, out)
		}
		return c.chunk("dy", scr, Read, f32(k*ohw)+start, size, 0)
	}
	if act != 0 {
		body = append(body, kernel("act_backward", consts("act_backward", f*ohw, act),
			c.chunk("y", y, Read, 0, out, out), c.chunk("dy", dy, Read, 0, out, out), c.chunk("dx", scr, Write, f32(k*ohw), out, 0)))
	}
	if db != nil {
		body = append(body, kernel("bias_grad", append(ints([]string{"N", "C", "HW"}, 1, f, ohw), Float("beta", 1)),
			grad(-1), c.whole("db", db, ReadWrite)))
	}
	for g := 0; g < groups; g++ {
		col := func(acc Access) Arg { return c.chunk("col", scr, acc, 0, f32(k*ohw), 0) }
		dyg := grad(g)
		dyg.Name = "a"
		colB := col(Read)
		colB.Name = "b"
		body = append(body,
			kernel("im2col", colConstants(a), c.chunk("x", x, Read, f32(g*cg*hw), f32(cg*hw), f32(ch*hw)), col(Write)),
			sgemm(false, true, fg, k, ohw, ohw, ohw, k, 1, dyg, colB, c.chunk("c", dw, ReadWrite, f32(g*fg*k), f32(fg*k), 0)))
		if dx != nil {
			dyg.Name = "b"
			colC := col(Write)
			colC.Name = "c"
			body = append(body,
				sgemm(true, false, k, ohw, fg, k, ohw, ohw, 0, c.chunk("a", w, Read, f32(g*fg*k), f32(fg*k), 0), dyg, colC),
				kernel("col2im", colConstants(a), col(Read), c.chunk("dx", dx, Write, f32(g*cg*hw), f32(cg*hw), f32(ch*hw))))
		}
	}
	return append(units, c.loop(n, body...))
}

func colConstants(a Values) Values {
	return ints(colConsts, a.Int("C")/a.Int("Groups"), a.Int("H"), a.Int("W"), a.Int("KH"), a.Int("KW"), a.Int("Stride"),
		a.Int("PadT"), a.Int("PadL"), a.Int("OH"), a.Int("OW"))
}

func fcForwardLaunches(c *cudaStep) []Unit {
	a := c.s.Attrs
	n, in, out := a.Int("N"), a.Int("In"), a.Int("Out")
	y := c.arg("y")
	return []Unit{c.compute(
		sgemm(false, true, n, out, in, in, in, out, 0, c.whole("a", c.arg("x"), Read), c.whole("b", c.arg("w"), Read), c.whole("c", y, Write)),
		kernel("bias_act", consts("bias_act", n, out, 1, a.Int("Act")), c.whole("b", c.arg("b"), Read), c.whole("y", y, ReadWrite)))}
}

// fcBackwardLaunches: the gradient through the activation into scratch, db
// as its column sums, dw = gᵀ·x and dx = g·w.
func fcBackwardLaunches(c *cudaStep) []Unit {
	a := c.s.Attrs
	n, in, out, act := a.Int("N"), a.Int("In"), a.Int("Out"), a.Int("Act")
	x, w, dy, dx, dw, db := c.arg("x"), c.arg("w"), c.arg("dy"), c.arg("dx"), c.arg("dw"), c.arg("db")
	var ls []Launch
	g := func(name string) Arg { return c.whole(name, dy, Read) }
	if act != 0 {
		size := f32(n * out)
		ls = append(ls, kernel("act_backward", consts("act_backward", n*out, act),
			c.whole("y", c.arg("y"), Read), c.whole("dy", dy, Read), c.chunk("dx", c.arg("scratch"), Write, 0, size, 0)))
		g = func(name string) Arg { return c.chunk(name, c.arg("scratch"), Read, 0, size, 0) }
	}
	if db != nil {
		ls = append(ls, kernel("bias_grad", append(ints([]string{"N", "C", "HW"}, n, out, 1), Float("beta", 0)),
			g("dy"), c.whole("db", db, Write)))
	}
	ls = append(ls, sgemm(true, false, out, in, n, out, in, in, 0, g("a"), c.whole("b", x, Read), c.whole("c", dw, Write)))
	if dx != nil {
		ls = append(ls, sgemm(false, false, n, in, out, out, in, in, 0, g("a"), c.whole("b", w, Read), c.whole("c", dx, Write)))
	}
	return []Unit{c.compute(ls...)}
}

// lrnLaunches passes the LRN's channel slice of each buffer. The alpha
// constant is the factor of the sum of squares with the spec's convention
// applied, so that the kernel knows only one formula.
func lrnLaunches(name string, bufs ...string) func(c *cudaStep) []Unit {
	return func(c *cudaStep) []Unit {
		a := c.s.Attrs
		n, ch, c0, c1, hw := a.Int("N"), a.Int("C"), a.Int("C0"), a.Int("C1"), a.Int("H")*a.Int("W")
		alpha := a.F32("Alpha")
		if a.Int("Convention") == 1 {
			alpha /= float32(a.Int("Size"))
		}
		k := append(ints(lrnConsts[:7], n, ch, a.Int("H"), a.Int("W"), c0, c1, a.Int("Size")),
			Float("k", a.F32("K")), Float("alpha", alpha), Float("beta", a.F32("Beta")))
		var args []Arg
		for _, b := range bufs {
			acc := Read
			if b == "y" || b == "dx" {
				acc = Write
			}
			args = append(args, c.channels(b, c.arg(b), acc, n, ch, c0, c1, hw))
		}
		return []Unit{c.compute(kernel(name, k, args...))}
	}
}

// poolLaunches passes whole buffers under the kernel's argument names.
func poolLaunches(name string) func(c *cudaStep) []Unit {
	return func(c *cudaStep) []Unit {
		a := c.s.Attrs
		k := ints(poolConsts, a.Int("N"), a.Int("C"), a.Int("H"), a.Int("W"), a.Int("Size"), a.Int("Stride"),
			a.Int("PadT"), a.Int("PadL"), a.Int("OH"), a.Int("OW"))
		return []Unit{c.compute(kernel(name, k, c.wholeArgs(CUDAKernelNamed(name).Args)...))}
	}
}

// wholeArgs passes whole buffers of the step under their names: written
// when the step writes them.
func (c *cudaStep) wholeArgs(names []string) []Arg {
	var args []Arg
	for _, name := range names {
		acc := Read
		for _, o := range c.s.Args {
			if o.Name == name && o.Write {
				acc = Write
			}
		}
		args = append(args, c.whole(name, c.arg(name), acc))
	}
	return args
}

func dropoutTrainLaunches(c *cudaStep) []Unit {
	a := c.s.Attrs
	return []Unit{c.compute(kernel("dropout_train", Values{Int("len", a.Int("Len")), Float("rate", a.F32("Rate"))},
		c.wholeArgs([]string{"x", "y", "mask"})...))}
}

func dropoutTestLaunches(c *cudaStep) []Unit {
	a := c.s.Attrs
	return []Unit{c.compute(kernel("dropout_test", Values{Int("len", a.Int("Len")), Float("scale", 1-a.F32("Rate"))},
		c.wholeArgs([]string{"x", "y"})...))}
}

func dropoutBackwardLaunches(c *cudaStep) []Unit {
	return []Unit{c.compute(kernel("dropout_backward", Values{Int("len", c.s.Attrs.Int("Len"))},
		c.wholeArgs([]string{"mask", "dy", "dx"})...))}
}

func softmaxConsts(c *cudaStep) Values {
	return ints([]string{"N", "classes"}, c.s.Attrs.Int("N"), c.s.Attrs.Int("Classes"))
}

func softmaxLaunches(c *cudaStep) []Unit {
	return []Unit{c.compute(kernel("softmax", softmaxConsts(c), c.wholeArgs([]string{"logits", "prob"})...))}
}

func softmaxLossLaunches(c *cudaStep) []Unit {
	k := softmaxConsts(c)
	return []Unit{c.compute(
		kernel("softmax", k, c.wholeArgs([]string{"logits", "prob"})...),
		kernel("nll_loss", k, c.wholeArgs([]string{"logits", "labels", "loss"})...))}
}

func softmaxBackwardLaunches(c *cudaStep) []Unit {
	return []Unit{c.compute(kernel("softmax_backward", softmaxConsts(c), c.wholeArgs([]string{"prob", "labels", "dlogits"})...))}
}

func channelArgs(c *cudaStep, dstAccess Access) (src, dst Arg) {
	a := c.s.Attrs
	n, hw, srcC, c0, c1, dstC, d := a.Int("N"), a.Int("HW"), a.Int("SrcC"), a.Int("C0"), a.Int("C1"), a.Int("DstC"), a.Int("D")
	src = c.channels("src", c.arg("src"), Read, n, srcC, c0, c1, hw)
	dst = c.channels("dst", c.arg("dst"), dstAccess, n, dstC, d, d+c1-c0, hw)
	return src, dst
}

func addLaunches(c *cudaStep) []Unit {
	a := c.s.Attrs
	src, dst := channelArgs(c, ReadWrite)
	return []Unit{c.compute(kernel("channel_add",
		consts("channel_add", a.Int("N"), a.Int("HW"), a.Int("SrcC"), a.Int("DstC"), a.Int("C1")-a.Int("C0")), src, dst))}
}

// copyLaunches: a copy within a device runs on its compute stream, one
// from another device on the receiving device's copy stream.
func copyLaunches(c *cudaStep) []Unit {
	a := c.s.Attrs
	n, hw, srcC, c0, c1, dstC, d := a.Int("N"), a.Int("HW"), a.Int("SrcC"), a.Int("C0"), a.Int("C1"), a.Int("DstC"), a.Int("D")
	src, dst := channelArgs(c, Write)
	// Both sides as rows of one image each, unless both are contiguous.
	if src.Rows != dst.Rows {
		src = c.rows("src", c.arg("src"), Read, f32(c0*hw), int64(n), f32((c1-c0)*hw), f32(srcC*hw), 0)
		dst = c.rows("dst", c.arg("dst"), Write, f32(d*hw), int64(n), f32((c1-c0)*hw), f32(dstC*hw), 0)
	}
	l := Launch{Kind: CopyLaunch, Device: c.s.Device, Stream: ComputeStream, Args: []Arg{src, dst}}
	if src.Device != dst.Device {
		l.Stream = CopyStream
	}
	return []Unit{{l}}
}

func sgdLaunches(c *cudaStep) []Unit {
	a, w := c.s.Attrs, c.arg("w")
	return []Unit{c.compute(kernel("sgd",
		Values{Int("len", int(w.Elems())), Float("momentum", a.F32("Momentum")), Float("weight_decay", a.F32("WeightDecay"))},
		c.whole("w", w, ReadWrite), c.whole("g", c.arg("g"), Read), c.whole("v", c.arg("v"), ReadWrite)))}
}
