package plan

import (
	"fmt"
	"slices"

	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/runtime/cpu"
)

// The launch plan is what the CUDA backend does to run a program: an ordered
// list of launches, in the order the host issues them. Every lowered step
// becomes one or more kernel launches or copies on one of its device's two
// streams; events order the streams where one reads or overwrites what
// another touched. Programs run one at a time: the runtime writes the images
// and labels, issues a program's launches, and waits for every stream of
// every device before it reads the outputs.

// Kind says what a launch does.
type Kind string

// The kinds of launch.
const (
	KernelLaunch Kind = "kernel" // a kernel of the CUDA module
	CopyLaunch   Kind = "copy"   // cuMemcpy2DAsync, between devices or within one
	RecordEvent  Kind = "record" // cuEventRecord on the launch's stream
	WaitEvent    Kind = "wait"   // cuStreamWaitEvent on the launch's stream
)

// Stream names one of a device's two streams.
type Stream string

// Every device has a compute stream, which runs its kernels and its copies
// within the device, and a copy stream, which runs the copies from other
// devices into it, so that a transfer overlaps the computation of both.
const (
	ComputeStream Stream = "compute"
	CopyStream    Stream = "copy"
)

// Streams lists a device's streams in the order of their numbers.
var Streams = []Stream{ComputeStream, CopyStream}

// Access says whether a launch reads a buffer, writes it, or both.
type Access string

// The accesses.
const (
	Read      Access = "r"
	Write     Access = "w"
	ReadWrite Access = "rw"
)

func (a Access) reads() bool  { return a == Read || a == ReadWrite }
func (a Access) writes() bool { return a == Write || a == ReadWrite }

// Const is one specialised constant of a kernel. Integers and float32
// values are both held exactly in Value.
type Const struct {
	Name  string
	Value float64
	Float bool // a float32 constant; otherwise an integer
}

// Arg is one buffer passed to a launch. A kernel receives the address
// arena + Offset + Start (+ i·Advance in iteration i of a loop); a copy
// copies Rows rows of RowBytes bytes, Pitch apart, from the source's address
// to the destination's (cuMemcpy2DAsync with the two pitches).
type Arg struct {
	Name   string // the kernel's parameter name (x, w, y, col, ...), or src / dst
	Buffer string // the buffer's name in the graph
	Device int    // the device whose arena holds it
	Offset int64  // the buffer's offset in that arena: the memory plan's
	Bytes  int64  // the buffer's size
	Access Access
	// The bytes of the buffer the launch touches: Rows rows of RowBytes,
	// Pitch apart, from Start. The whole buffer is Start 0, Rows 1,
	// RowBytes = Pitch = Bytes.
	Start, Rows, RowBytes, Pitch int64
	// Advance moves the region and the address this many bytes in each
	// iteration of the launch's loop (one image after another); 0 when the
	// launch touches the same bytes every time.
	Advance int64
}

// Launch is one entry of a program's launch plan.
type Launch struct {
	Index  int // position in the program
	Kind   Kind
	Kernel string // for kernels: the name in the CUDA module
	Device int
	Stream Stream
	// Grid, block and static shared memory of a kernel launch.
	Grid, Block [3]int
	SharedBytes int
	Constants   []Const  // specialised into the kernel, in the kernel's order
	Runtime     []string // scalars the runtime passes at launch: "lr", "seed"
	Args        []Arg
	Event       int // for record and wait: the event, numbered per program
	// Loop numbers a run of consecutive launches on one stream that the
	// runtime issues Count times in turn (launch a, launch b, a, b, ...),
	// once per image; 0 outside loops, where Count is 1.
	Loop, Count int
	Step        int    // the lowered step it comes from; -1 for events
	Layer       string // the spec layer, "" for events and the image copy
	Note        string // the step's note: spec layer and shapes
}

// Peer reports whether the launch is a copy between devices.
func (l *Launch) Peer() bool {
	return l.Kind == CopyLaunch && len(l.Args) == 2 && l.Args[0].Device != l.Args[1].Device
}

// KernelSpec describes a kernel the CUDA backend provides: how it is
// launched and what it takes. Elementwise kernels run one thread per
// element in blocks of 256; the others say how they split the work.
type KernelSpec struct {
	Name    string
	Block   [3]int
	Shared  int      // static shared memory in bytes
	Consts  []string // specialised constants, in order
	Args    []string // buffer parameters, in order
	Runtime []string // scalars passed at each launch
	Doc     string   // what one thread or block computes
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

// Kernels lists every kernel a launch plan may name.
var Kernels = []KernelSpec{
	{"im2col", flat, 0, colConsts, []string{"x", "col"}, nil,
		"one thread per element of the column matrix [C·KH·KW][OH·OW] of one image; padding reads as 0", perThread(colWork)},
	{"col2im", flat, 0, colConsts, []string{"col", "dx"}, nil,
		"one thread per input pixel of one image, summing the column entries that read it (no atomics); overwrites dx", perThread(imageWork)},
	{"sgemm", [3]int{16, 16, 1}, 2 * gemmTile * gemmDepth * 4,
		[]string{"trans_a", "trans_b", "M", "N", "K", "lda", "ldb", "ldc", "alpha", "beta"}, []string{"a", "b", "c"}, nil,
		"C ← alpha·op(A)·op(B) + beta·C, row-major, op(A) M×K, op(B) K×N; a block computes a 64×64 tile of C, grid (⌈N/64⌉, ⌈M/64⌉)", gemmGrid},
	{"bias_act", flat, 0, []string{"N", "C", "HW", "act"}, []string{"b", "y"}, nil,
		"one thread per element of y [N][C][HW]: y ← act(y + b[c]); act 0 none, 1 relu, 2 tanh, 3 sigmoid", perThread(tensorWork)},
	{"act_backward", flat, 0, []string{"len", "act"}, []string{"y", "dy", "dx"}, nil,
		"one thread per element: dx ← dy·act′ computed from the output y", perThread(lenWork)},
	{"bias_grad", flat, threads * 4, []string{"N", "C", "HW", "beta"}, []string{"dy", "db"}, nil,
		"one block per channel c, reducing dy[N][c][HW] in shared memory: db[c] ← Σ + beta·db[c]", perBlock("C")},
	{"fill", flat, 0, []string{"len", "value"}, []string{"x"}, nil,
		"one thread per element: x ← value", perThread(lenWork)},
	{"lrn_forward", flat, 0, lrnConsts, []string{"x", "y"}, nil,
		"one thread per element of channels [C0, C1) of [N][C][H][W] (x and y point at channel C0): s ← k + alpha·Σ x² over the window clipped to the slice, y ← x·s^−beta (alpha already divided by size where the spec says so)", perThread(lrnWork)},
	{"lrn_backward", flat, 0, lrnConsts, []string{"x", "dy", "dx"}, nil,
		"one thread per element of channels [C0, C1) (x, dy, dx point at channel C0): dx ← dy·s^−beta − 2·alpha·beta·x·Σ dy·x·s^(−beta−1) over the window, each s recomputed from x", perThread(lrnWork)},
	{"maxpool_forward", flat, 0, poolConsts, []string{"x", "y", "argmax"}, nil,
		"one thread per output: the largest in-bounds element of the window and its index in the plane", perThread(poolOutWork)},
	{"maxpool_backward", flat, 0, poolConsts, []string{"argmax", "dy", "dx"}, nil,
		"one thread per input element, summing dy of the windows whose argmax it is (no atomics); overwrites dx", perThread(poolInWork)},
	{"avgpool_forward", flat, 0, poolConsts, []string{"x", "y"}, nil,
		"one thread per output: the mean of the in-bounds elements of the window", perThread(poolOutWork)},
	{"avgpool_backward", flat, 0, poolConsts, []string{"dy", "dx"}, nil,
		"one thread per input element, summing dy/count of the windows that cover it; overwrites dx", perThread(poolInWork)},
	{"dropout_train", flat, 0, []string{"len", "rate"}, []string{"x", "y", "mask"}, []string{"seed"},
		"one thread per unit: a counter-based random draw from (seed, index) keeps the unit (mask 1, y ← x) or drops it (mask 0, y ← 0)", perThread(lenWork)},
	{"dropout_test", flat, 0, []string{"len", "scale"}, []string{"x", "y"}, nil,
		"one thread per unit: y ← scale·x, scale = 1 − rate", perThread(lenWork)},
	{"dropout_backward", flat, 0, []string{"len"}, []string{"mask", "dy", "dx"}, nil,
		"one thread per unit: dx ← dy·mask", perThread(lenWork)},
	{"softmax", flat, threads * 4, []string{"N", "classes"}, []string{"logits", "prob"}, nil,
		"one block per row: maximum, sum of exponentials and quotients, reduced in shared memory", perBlock("N")},
	{"nll_loss", flat, threads * 4, []string{"N", "classes"}, []string{"logits", "labels", "loss"}, nil,
		"one block of 256 threads, a thread per row (looping when N > 256): log-sum-exp − the label's logit, summed in shared memory; loss ← mean", oneBlock},
	{"softmax_backward", flat, 0, []string{"N", "classes"}, []string{"prob", "labels", "dlogits"}, nil,
		"one thread per element: dlogits ← (prob − [class = label]) / N", perThread(rowWork)},
	{"channel_add", flat, 0, []string{"N", "HW", "src_c", "dst_c", "c"}, []string{"src", "dst"}, nil,
		"one thread per element of c channels: dst[n][c′][hw] += src[n][c′][hw], src and dst pointing at their first channel, images src_c·HW and dst_c·HW floats apart", perThread(sliceWork)},
	{"sgd", flat, 0, []string{"len", "momentum", "weight_decay"}, []string{"w", "g", "v"}, []string{"lr"},
		"one thread per parameter: v ← momentum·v − weight_decay·lr·w − lr·g; w ← w + v", perThread(lenWork)},
}

// Kernel returns the spec of the named kernel, or nil.
func Kernel(name string) *KernelSpec {
	for i := range Kernels {
		if Kernels[i].Name == name {
			return &Kernels[i]
		}
	}
	return nil
}

// schedule builds the launch plan of one program.
func schedule(g *lower.Graph, m Memory, prog Program) []Launch {
	s := &scheduler{g: g, mem: m, prog: prog, streams: make([]streamState, 2*g.Devices),
		access: make([][]access, g.Devices), marks: map[[2]int]int{}, after: map[int][]int{}}
	for i := range s.streams {
		s.streams[i].vc = slices.Repeat([]int{-1}, len(s.streams))
	}
	for i, st := range prog.Steps(g) {
		for _, u := range s.expand(st) {
			for j := range u {
				u[j].Step, u[j].Layer, u[j].Note = i, st.Layer, st.Note
			}
			s.emit(u)
		}
	}
	return s.finish()
}

// scheduler lays out launches and the events that order them. It keeps a
// vector clock per stream: for every stream, the position of its last
// entry known to be complete before the stream's next entry starts. A unit
// that touches bytes another stream wrote, or writes bytes another stream
// touched, and is not yet ordered after that access waits for an event
// recorded right after it.
type scheduler struct {
	g       *lower.Graph
	mem     Memory
	prog    Program
	out     []Launch      // kernels, copies and waits; finish adds the records
	loops   int           // loops so far
	events  int           // events so far
	streams []streamState // by streamID
	access  [][]access    // per device: every access so far to its arena
	marks   map[[2]int]int
	after   map[int][]int // out index → events recorded right after it
}

type streamState struct {
	vc      []int   // the clock of the stream's next entry
	clocks  [][]int // clocks[pos]: the clock of entry pos, which an event recorded after it carries
	index   []int   // index[pos]: the entry's place in out
	unitEnd []int   // unitEnd[pos]: the last entry of the loop it belongs to, where an event may go
}

// access is one launch's use of some bytes of an arena.
type access struct {
	stream, pos int
	r           region
	write       bool
}

func streamID(device int, s Stream) int {
	if s == CopyStream {
		return 2*device + 1
	}
	return 2 * device
}

func streamName(id int) string { return fmt.Sprintf("%d/%s", id/2, Streams[id%2]) }

// unit is a launch, or the body of a loop (Count > 1): launches on one
// stream, ordered against other streams as one.
type unit []Launch

func (s *scheduler) emit(u unit) {
	if u[0].Count <= 1 && len(u) > 1 {
		// Not a loop (a batch of one): each launch on its own, once.
		for _, l := range u {
			l.Args = slices.Clone(l.Args)
			for i := range l.Args {
				l.Args[i].Advance = 0
			}
			s.emit(unit{l})
		}
		return
	}
	id := streamID(u[0].Device, u[0].Stream)
	st := &s.streams[id]
	// need[stream] is the latest access on another stream that conflicts
	// with one of the unit's own.
	need := slices.Repeat([]int{-1}, len(s.streams))
	for _, l := range u {
		for _, a := range l.Args {
			r := footprint(l, a)
			for _, prev := range s.access[a.Device] {
				if prev.stream != id && (prev.write || a.Access.writes()) && prev.pos > need[prev.stream] && prev.r.overlaps(r) {
					need[prev.stream] = prev.pos
				}
			}
		}
	}
	// Wait first for the access whose clock covers most of the others: one
	// event often orders the rest too, through waits made before it.
	for {
		best, covers := -1, -1
		for p, pos := range need {
			if pos < 0 || st.vc[p] >= pos {
				continue
			}
			clock := s.streams[p].clocks[s.streams[p].unitEnd[pos]]
			n := 0
			for q, qpos := range need {
				if qpos >= 0 && clock[q] >= qpos {
					n++
				}
			}
			if n > covers {
				best, covers = p, n
			}
		}
		if best < 0 {
			break
		}
		s.wait(best, need[best], id)
	}
	loop := u[0].Count > 1
	if loop {
		s.loops++
	}
	first := len(st.index)
	for _, l := range u {
		if loop {
			l.Loop = s.loops
		}
		pos := s.append(id, l)
		for _, a := range l.Args {
			s.access[a.Device] = append(s.access[a.Device], access{id, pos, footprint(l, a), a.Access.writes()})
		}
	}
	for pos := first; pos < len(st.index); pos++ {
		st.unitEnd[pos] = len(st.index) - 1
	}
}

// append adds an entry to the program and to its stream, and returns its
// position in the stream.
func (s *scheduler) append(id int, l Launch) int {
	st := &s.streams[id]
	if l.Count == 0 {
		l.Count = 1
	}
	pos := len(st.index)
	st.vc[id] = pos
	st.clocks = append(st.clocks, slices.Clone(st.vc))
	st.index = append(st.index, len(s.out))
	st.unitEnd = append(st.unitEnd, pos)
	s.out = append(s.out, l)
	return pos
}

// wait makes stream `to` wait until entry pos of stream `from` (and the
// rest of its loop) is done, through an event recorded right after it.
func (s *scheduler) wait(from, pos, to int) {
	src := &s.streams[from]
	pos = src.unitEnd[pos]
	e, ok := s.marks[[2]int{from, pos}]
	if !ok {
		e = s.events
		s.events++
		s.marks[[2]int{from, pos}] = e
		s.after[src.index[pos]] = append(s.after[src.index[pos]], e)
	}
	s.append(to, Launch{Kind: WaitEvent, Device: to / 2, Stream: Streams[to%2], Event: e, Step: -1})
	dst := &s.streams[to]
	for i, c := range src.clocks[pos] {
		dst.vc[i] = max(dst.vc[i], c)
	}
}

// finish puts the records after the entries they mark, numbers the events
// in the order they are recorded, and numbers the launches.
func (s *scheduler) finish() []Launch {
	var out []Launch
	number := map[int]int{}
	where := map[int]string{} // event → the stream that records it and what it marks
	for i, l := range s.out {
		if l.Kind == WaitEvent {
			l.Note = fmt.Sprintf("wait for event %d (%s)", number[l.Event], where[l.Event])
			l.Event = number[l.Event]
		}
		out = append(out, l)
		for _, e := range s.after[i] {
			number[e] = len(number)
			where[e] = fmt.Sprintf("%d/%s after launch %d", l.Device, l.Stream, len(out)-1)
			note := fmt.Sprintf("event %d: launch %d done", number[e], len(out)-1)
			if l.Layer != "" {
				note += " (" + l.Layer + ")"
			}
			out = append(out, Launch{Kind: RecordEvent, Device: l.Device, Stream: l.Stream, Event: number[e], Count: 1, Step: -1, Note: note})
		}
	}
	for i := range out {
		out[i].Index = i
	}
	return out
}

// region is a set of arena bytes: Rows rows of RowBytes, Pitch apart, from
// Start.
type region struct{ start, rows, rowBytes, pitch int64 }

// footprint is what a launch touches of an argument's arena over all the
// iterations of its loop.
func footprint(l Launch, a Arg) region {
	r := region{a.Offset + a.Start, a.Rows, a.RowBytes, a.Pitch}
	if a.Advance != 0 && l.Count > 1 {
		r.rows, r.pitch = int64(l.Count), a.Advance // Advance needs Rows 1, which Verify checks
	}
	if r.rows <= 1 || r.rowBytes >= r.pitch {
		r = region{r.start, 1, r.end() - r.start, r.end() - r.start}
	}
	return r
}

func (r region) end() int64 { return r.start + (r.rows-1)*r.pitch + r.rowBytes }

// overlaps reports whether two regions share a byte.
func (r region) overlaps(o region) bool {
	if r.end() <= o.start || o.end() <= r.start {
		return false
	}
	if r.rows > o.rows {
		r, o = o, r
	}
	for i := int64(0); i < r.rows; i++ {
		if o.hits(r.start+i*r.pitch, r.start+i*r.pitch+r.rowBytes) {
			return true
		}
	}
	return false
}

// hits reports whether the region shares a byte with [lo, hi).
func (r region) hits(lo, hi int64) bool {
	// The first row that ends after lo.
	i := int64(0)
	if d := lo - r.start - r.rowBytes; d >= 0 {
		i = d/r.pitch + 1
	}
	return i < r.rows && r.start+i*r.pitch < hi
}

// intervals lists the region's rows as [lo, hi) pairs.
func (r region) intervals() [][2]int64 {
	out := make([][2]int64, r.rows)
	for i := range out {
		lo := r.start + int64(i)*r.pitch
		out[i] = [2]int64{lo, lo + r.rowBytes}
	}
	return out
}

// Launch builders.

func ints(names []string, v ...int) []Const {
	c := make([]Const, len(v))
	for i, x := range v {
		c[i] = Const{Name: names[i], Value: float64(x)}
	}
	return c
}

func float(name string, v float32) Const { return Const{Name: name, Value: float64(v), Float: true} }

func kernel(name string, consts []Const, args ...Arg) Launch {
	k := Kernel(name)
	return Launch{Kind: KernelLaunch, Kernel: name, Grid: k.Grid(constMap(consts)), Block: k.Block, SharedBytes: k.Shared,
		Constants: consts, Runtime: k.Runtime, Args: args}
}

// constMap gives the integer constants by name, for the grid functions.
func constMap(cs []Const) map[string]int {
	m := map[string]int{}
	for _, c := range cs {
		m[c.Name] = int(c.Value)
	}
	return m
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
		boolInt(transA), boolInt(transB), m, n, k, lda, ldb, ldc), float("alpha", 1), float("beta", beta))
	return kernel("sgemm", consts, a, b, c)
}

// whole passes a whole buffer.
func (s *scheduler) whole(name string, b *lower.Buffer, acc Access) Arg {
	return s.chunk(name, b, acc, 0, b.Bytes(), 0)
}

// chunk passes n contiguous bytes of a buffer from start, moved by advance
// bytes in each iteration of a loop.
func (s *scheduler) chunk(name string, b *lower.Buffer, acc Access, start, n, advance int64) Arg {
	return s.rows(name, b, acc, start, 1, n, n, advance)
}

func (s *scheduler) rows(name string, b *lower.Buffer, acc Access, start, rows, rowBytes, pitch, advance int64) Arg {
	return Arg{Name: name, Buffer: b.Name, Device: b.Device, Offset: s.mem.Offset[s.prog][b.ID], Bytes: b.Bytes(),
		Access: acc, Start: start, Rows: rows, RowBytes: rowBytes, Pitch: pitch, Advance: advance}
}

// channels passes channels [c0, c1) of an [N][C][HW] buffer: one row per
// image, or one block when the channels are all of them.
func (s *scheduler) channels(name string, b *lower.Buffer, acc Access, n, c, c0, c1, hw int) Arg {
	if c0 == 0 && c1 == c {
		return s.whole(name, b, acc)
	}
	return s.rows(name, b, acc, f32(c0*hw), int64(n), f32((c1-c0)*hw), f32(c*hw), 0)
}

func act(a cpu.Activation) int { return int(a) }

// expand turns a lowered step into units of launches.
func (s *scheduler) expand(st *lower.Step) []unit {
	arg := st.Arg
	compute := func(ls ...Launch) unit {
		for i := range ls {
			ls[i].Device, ls[i].Stream = st.Device, ComputeStream
		}
		return ls
	}
	loop := func(n int, ls ...Launch) unit {
		for i := range ls {
			ls[i].Count = n
		}
		return compute(ls...)
	}
	switch p := st.Params.(type) {
	case cpu.Conv:
		if st.Kernel == lower.ConvForward {
			return s.convForward(p, arg, compute, loop)
		}
		return s.convBackward(p, arg, compute, loop)
	case cpu.FC:
		if st.Kernel == lower.FCForward {
			y := arg("y")
			return []unit{compute(
				sgemm(false, true, p.N, p.Out, p.In, p.In, p.In, p.Out, 0, s.whole("a", arg("x"), Read), s.whole("b", arg("w"), Read), s.whole("c", y, Write)),
				kernel("bias_act", ints(Kernel("bias_act").Consts, p.N, p.Out, 1, act(p.Act)), s.whole("b", arg("b"), Read), s.whole("y", y, ReadWrite)))}
		}
		return s.fcBackward(p, arg, compute)
	case cpu.LRN:
		consts := append(ints(lrnConsts[:6], p.N, p.C, p.H, p.W, p.C0, p.C1), Const{Name: "size", Value: float64(p.Size)},
			float("k", p.K), float("alpha", lrnAlpha(p)), float("beta", p.Beta))
		ch := func(name, buf string, acc Access) Arg {
			return s.channels(name, arg(buf), acc, p.N, p.C, p.C0, p.C1, p.H*p.W)
		}
		if st.Kernel == lower.LRNForward {
			return []unit{compute(kernel("lrn_forward", consts, ch("x", "x", Read), ch("y", "y", Write)))}
		}
		return []unit{compute(kernel("lrn_backward", consts, ch("x", "x", Read), ch("dy", "dy", Read), ch("dx", "dx", Write)))}
	case cpu.MaxPool:
		consts := poolConstants(cpu.Pool(p))
		if st.Kernel == lower.MaxPoolForward {
			return []unit{compute(kernel("maxpool_forward", consts,
				s.whole("x", arg("x"), Read), s.whole("y", arg("y"), Write), s.whole("argmax", arg("argmax"), Write)))}
		}
		return []unit{compute(kernel("maxpool_backward", consts,
			s.whole("argmax", arg("argmax"), Read), s.whole("dy", arg("dy"), Read), s.whole("dx", arg("dx"), Write)))}
	case cpu.AvgPool:
		consts := poolConstants(cpu.Pool(p))
		if st.Kernel == lower.AvgPoolForward {
			return []unit{compute(kernel("avgpool_forward", consts,
				s.whole("x", arg("x"), Read), s.whole("y", arg("y"), Write)))}
		}
		return []unit{compute(kernel("avgpool_backward", consts,
			s.whole("dy", arg("dy"), Read), s.whole("dx", arg("dx"), Write)))}
	case cpu.Dropout:
		length := Const{Name: "len", Value: float64(p.Len)}
		switch st.Kernel {
		case lower.DropoutTrain:
			return []unit{compute(kernel("dropout_train", []Const{length, float("rate", p.Rate)},
				s.whole("x", arg("x"), Read), s.whole("y", arg("y"), Write), s.whole("mask", arg("mask"), Write)))}
		case lower.DropoutTest:
			return []unit{compute(kernel("dropout_test", []Const{length, float("scale", 1-p.Rate)},
				s.whole("x", arg("x"), Read), s.whole("y", arg("y"), Write)))}
		}
		return []unit{compute(kernel("dropout_backward", []Const{length},
			s.whole("mask", arg("mask"), Read), s.whole("dy", arg("dy"), Read), s.whole("dx", arg("dx"), Write)))}
	case cpu.SoftmaxLoss:
		consts := ints([]string{"N", "classes"}, p.N, p.Classes)
		switch st.Kernel {
		case lower.Softmax:
			return []unit{compute(kernel("softmax", consts, s.whole("logits", arg("logits"), Read), s.whole("prob", arg("prob"), Write)))}
		case lower.SoftmaxLoss:
			return []unit{compute(
				kernel("softmax", consts, s.whole("logits", arg("logits"), Read), s.whole("prob", arg("prob"), Write)),
				kernel("nll_loss", consts, s.whole("logits", arg("logits"), Read),
					s.whole("labels", arg("labels"), Read), s.whole("loss", arg("loss"), Write)))}
		}
		return []unit{compute(kernel("softmax_backward", consts,
			s.whole("prob", arg("prob"), Read), s.whole("labels", arg("labels"), Read), s.whole("dlogits", arg("dlogits"), Write)))}
	case cpu.ChannelCopy:
		src := s.channels("src", arg("src"), Read, p.N, p.SrcC, p.C0, p.C1, p.HW)
		if st.Kernel == lower.Add {
			dst := s.channels("dst", arg("dst"), ReadWrite, p.N, p.DstC, p.D, p.D+p.C1-p.C0, p.HW)
			return []unit{compute(kernel("channel_add",
				ints(Kernel("channel_add").Consts, p.N, p.HW, p.SrcC, p.DstC, p.C1-p.C0), src, dst))}
		}
		dst := s.channels("dst", arg("dst"), Write, p.N, p.DstC, p.D, p.D+p.C1-p.C0, p.HW)
		// Both sides as rows of one image each, unless both are contiguous.
		if src.Rows != dst.Rows {
			src = s.rows("src", arg("src"), Read, f32(p.C0*p.HW), int64(p.N), f32((p.C1-p.C0)*p.HW), f32(p.SrcC*p.HW), 0)
			dst = s.rows("dst", arg("dst"), Write, f32(p.D*p.HW), int64(p.N), f32((p.C1-p.C0)*p.HW), f32(p.DstC*p.HW), 0)
		}
		l := Launch{Kind: CopyLaunch, Device: st.Device, Stream: ComputeStream, Args: []Arg{src, dst}}
		if src.Device != dst.Device {
			l.Stream = CopyStream
		}
		return []unit{{l}}
	case cpu.SGD:
		w := arg("w")
		return []unit{compute(kernel("sgd",
			[]Const{{Name: "len", Value: float64(w.Elems())}, float("momentum", p.Momentum), float("weight_decay", p.WeightDecay)},
			s.whole("w", w, ReadWrite), s.whole("g", arg("g"), Read), s.whole("v", arg("v"), ReadWrite)))}
	}
	panic(fmt.Sprintf("plan: no CUDA launches for step %s (%T)", st.Kernel, st.Params))
}

// lrnAlpha is the factor of the sum of squares, with the spec's convention
// applied, so that the kernel knows only one formula.
func lrnAlpha(p cpu.LRN) float32 {
	if p.Convention == cpu.AlphaMean {
		return p.Alpha / float32(p.Size)
	}
	return p.Alpha
}

func poolConstants(p cpu.Pool) []Const {
	return ints(poolConsts, p.N, p.C, p.H, p.W, p.Size, p.Stride, p.PadT, p.PadL, p.OH, p.OW)
}

func colConstants(p cpu.Conv) []Const {
	return ints(colConsts, p.C/p.Groups, p.H, p.W, p.KH, p.KW, p.Stride, p.PadT, p.PadL, p.OH, p.OW)
}

type (
	argFunc  func(string) *lower.Buffer
	unitFunc func(...Launch) unit
	loopFunc func(int, ...Launch) unit
)

// convForward: for each image, and each group, the column matrix of the
// image in scratch and one GEMM into the group's output channels; then the
// bias and activation over the whole batch. The scratch holds one image's
// column matrix, which is what the memory plan gives it.
func (s *scheduler) convForward(p cpu.Conv, arg argFunc, compute unitFunc, loop loopFunc) []unit {
	x, w, y, scratch := arg("x"), arg("w"), arg("y"), arg("scratch")
	cg, fg, hw, ohw := p.C/p.Groups, p.F/p.Groups, p.H*p.W, p.OH*p.OW
	k := cg * p.KH * p.KW
	var body []Launch
	for g := 0; g < p.Groups; g++ {
		col := s.chunk("col", scratch, Write, 0, f32(k*ohw), 0)
		body = append(body,
			kernel("im2col", colConstants(p), s.chunk("x", x, Read, f32(g*cg*hw), f32(cg*hw), f32(p.C*hw)), col),
			sgemm(false, false, fg, ohw, k, k, ohw, ohw, 0,
				s.chunk("a", w, Read, f32(g*fg*k), f32(fg*k), 0), s.chunk("b", scratch, Read, 0, f32(k*ohw), 0),
				s.chunk("c", y, Write, f32(g*fg*ohw), f32(fg*ohw), f32(p.F*ohw))))
	}
	return []unit{loop(p.N, body...), compute(kernel("bias_act", ints(Kernel("bias_act").Consts, p.N, p.F, ohw, act(p.Act)),
		s.whole("b", arg("b"), Read), s.whole("y", y, ReadWrite)))}
}

// convBackward zeroes dw and db, then for each image: the gradient through
// the activation into scratch (behind the column matrix, as on the CPU), its
// sum into db, and per group the column matrix, dw += dy·colᵀ, and, unless
// this is the first layer, col = wᵀ·dy scattered back into dx.
func (s *scheduler) convBackward(p cpu.Conv, arg argFunc, compute unitFunc, loop loopFunc) []unit {
	x, w, y, dy, dx, dw, db, scratch := arg("x"), arg("w"), arg("y"), arg("dy"), arg("dx"), arg("dw"), arg("db"), arg("scratch")
	cg, fg, hw, ohw := p.C/p.Groups, p.F/p.Groups, p.H*p.W, p.OH*p.OW
	k := cg * p.KH * p.KW
	out := f32(p.F * ohw) // one image's output
	units := []unit{compute(kernel("fill", []Const{{Name: "len", Value: float64(dw.Elems())}, float("value", 0)},
		s.whole("x", dw, Write)))}
	if db != nil {
		units = append(units, compute(kernel("fill", []Const{{Name: "len", Value: float64(db.Elems())}, float("value", 0)},
			s.whole("x", db, Write))))
	}
	var body []Launch
	// grad is the gradient of the pre-activation output of group g (all
	// groups for g < 0) of the current image.
	grad := func(g int) Arg {
		start, n := int64(0), out
		if g >= 0 {
			start, n = f32(g*fg*ohw), f32(fg*ohw)
		}
		if p.Act == cpu.Identity {
			return s.chunk("dy", dy, Read, start, n, out)
		}
		return s.chunk("dy", scratch, Read, f32(k*ohw)+start, n, 0)
	}
	if p.Act != cpu.Identity {
		body = append(body, kernel("act_backward", ints(Kernel("act_backward").Consts, p.F*ohw, act(p.Act)),
			s.chunk("y", y, Read, 0, out, out), s.chunk("dy", dy, Read, 0, out, out), s.chunk("dx", scratch, Write, f32(k*ohw), out, 0)))
	}
	if db != nil {
		body = append(body, kernel("bias_grad", append(ints([]string{"N", "C", "HW"}, 1, p.F, ohw), float("beta", 1)),
			grad(-1), s.whole("db", db, ReadWrite)))
	}
	for g := 0; g < p.Groups; g++ {
		col := func(acc Access) Arg { return s.chunk("col", scratch, acc, 0, f32(k*ohw), 0) }
		dyg := grad(g)
		dyg.Name = "a"
		colB := col(Read)
		colB.Name = "b"
		body = append(body,
			kernel("im2col", colConstants(p), s.chunk("x", x, Read, f32(g*cg*hw), f32(cg*hw), f32(p.C*hw)), col(Write)),
			sgemm(false, true, fg, k, ohw, ohw, ohw, k, 1, dyg, colB, s.chunk("c", dw, ReadWrite, f32(g*fg*k), f32(fg*k), 0)))
		if dx != nil {
			dyg.Name = "b"
			colC := col(Write)
			colC.Name = "c"
			body = append(body,
				sgemm(true, false, k, ohw, fg, k, ohw, ohw, 0, s.chunk("a", w, Read, f32(g*fg*k), f32(fg*k), 0), dyg, colC),
				kernel("col2im", colConstants(p), col(Read), s.chunk("dx", dx, Write, f32(g*cg*hw), f32(cg*hw), f32(p.C*hw))))
		}
	}
	return append(units, loop(p.N, body...))
}

// fcBackward: the gradient through the activation into scratch, db as its
// column sums, dw = gᵀ·x and dx = g·w.
func (s *scheduler) fcBackward(p cpu.FC, arg argFunc, compute unitFunc) []unit {
	x, w, dy, dx, dw, db := arg("x"), arg("w"), arg("dy"), arg("dx"), arg("dw"), arg("db")
	var ls []Launch
	g := func(name string) Arg { return s.whole(name, dy, Read) }
	if p.Act != cpu.Identity {
		n := f32(p.N * p.Out)
		ls = append(ls, kernel("act_backward", ints(Kernel("act_backward").Consts, p.N*p.Out, act(p.Act)),
			s.whole("y", arg("y"), Read), s.whole("dy", dy, Read), s.chunk("dx", arg("scratch"), Write, 0, n, 0)))
		g = func(name string) Arg { return s.chunk(name, arg("scratch"), Read, 0, n, 0) }
	}
	if db != nil {
		ls = append(ls, kernel("bias_grad", append(ints([]string{"N", "C", "HW"}, p.N, p.Out, 1), float("beta", 0)),
			g("dy"), s.whole("db", db, Write)))
	}
	ls = append(ls, sgemm(true, false, p.Out, p.In, p.N, p.Out, p.In, p.In, 0, g("a"), s.whole("b", x, Read), s.whole("c", dw, Write)))
	if dx != nil {
		ls = append(ls, sgemm(false, false, p.N, p.In, p.Out, p.Out, p.In, p.In, 0, g("a"), s.whole("b", w, Read), s.whole("c", dx, Write)))
	}
	return []unit{compute(ls...)}
}
