package cuda

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Emulator is a Driver without a GPU: the backend's host code runs
// against it as against the real driver. Memory is host memory; each
// stream is a goroutine that runs its queue in order, concurrently with
// the others; an event is recorded when its stream reaches it, and a wait
// holds its stream until the latest record queued before it has happened.
// Kernels run as the plan documents them (docs/plan.md), on runtime/cpu's
// kernels, dropout with the GPU's counter-based draws.
//
// It also checks what a GPU would leave to chance: every kernel and copy
// logs the bytes it touches with the stream's vector clock, and an access
// to bytes another stream wrote (or a write to bytes another stream
// touched) that no event orders after it is a race, reported by the next
// Synchronize. A plan with a wait missing fails on the emulator every
// time, not only when the timing goes wrong.
type Emulator struct {
	Devices int    // GPUs it pretends to have
	GPUName string // what Name says; "" for "emulated GPU"
	// Kernels, when set, runs the kernels instead of the emulator's own Go
	// versions of them: compiler/cudagen's tests give it the module's CUDA
	// C compiled for the host, so that the backend's launches run the very
	// code a GPU would.
	Kernels KernelRunner

	mu      sync.Mutex
	arenas  map[uint64]*cpu.Arena // by allocation number, the address's top bits
	sizes   map[uint64]int64
	next    uint64
	streams []*emuStream
	events  []*emuEvent
	log     []access // accesses since all streams were last idle
	hostVC  []int    // the clocks of the work the host has seen finish, by stream
	errs    []error
}

// emuStream is one stream: its queue and its clock.
type emuStream struct {
	e       *Emulator
	id      int
	gpu     int
	queue   chan func()
	pending sync.WaitGroup
	vc      []int // vector clock, by stream id; touched only by the stream's goroutine
}

// emuEvent is one event: how often it was queued and recorded, and the
// clock of each record.
type emuEvent struct {
	gpu      int
	queued   int
	recorded int
	clocks   [][]int
	cond     *sync.Cond
}

// access is one launch's use of bytes.
type access struct {
	stream, clock int
	lo, hi        Ptr // a span that covers it
	rows          [][2]Ptr
	write         bool
	what          string
}

const allocShift = 40 // an address is allocation<<40 | offset

var _ Driver = (*Emulator)(nil)

// NewEmulator makes an emulated machine with n GPUs.
func NewEmulator(n int) *Emulator {
	return &Emulator{Devices: n, arenas: map[uint64]*cpu.Arena{}, sizes: map[uint64]int64{}, next: 1}
}

// GPUs is the number of emulated GPUs.
func (e *Emulator) GPUs() (int, error) { return e.Devices, nil }

// Name names an emulated GPU.
func (e *Emulator) Name(gpu int) string {
	if e.GPUName != "" {
		return e.GPUName
	}
	return "emulated GPU"
}

// Load accepts any module: kernels run by their plan names.
func (e *Emulator) Load(gpu int, ptx []byte) error { return e.gpu(gpu) }

func (e *Emulator) gpu(g int) error {
	if g < 0 || g >= e.Devices {
		return fmt.Errorf("emulator: no GPU %d", g)
	}
	return nil
}

// Alloc allocates zeroed memory.
func (e *Emulator) Alloc(gpu int, bytes int64) (Ptr, error) {
	if err := e.gpu(gpu); err != nil {
		return 0, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.next
	e.next++
	e.arenas[n] = cpu.NewArena(bytes)
	e.sizes[n] = bytes
	return Ptr(n << allocShift), nil
}

// Free frees an allocation.
func (e *Emulator) Free(p Ptr) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := uint64(p) >> allocShift
	if _, ok := e.arenas[n]; !ok || uint64(p)&(1<<allocShift-1) != 0 {
		return fmt.Errorf("emulator: free of %#x, which was not allocated", uint64(p))
	}
	delete(e.arenas, n)
	delete(e.sizes, n)
	return nil
}

// bytes returns n bytes of memory at p.
func (e *Emulator) bytes(p Ptr, n int64) ([]byte, error) {
	e.mu.Lock()
	a, ok := e.arenas[uint64(p)>>allocShift]
	size := e.sizes[uint64(p)>>allocShift]
	e.mu.Unlock()
	off := int64(uint64(p) & (1<<allocShift - 1))
	if !ok || off < 0 || n < 0 || off+n > size {
		return nil, fmt.Errorf("emulator: bytes [%#x, %#x) are outside any allocation", uint64(p), uint64(p)+uint64(n))
	}
	return a.U8(off, n), nil
}

// NewStream makes a stream and starts its goroutine.
func (e *Emulator) NewStream(gpu int) (Stream, error) {
	if err := e.gpu(gpu); err != nil {
		return 0, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &emuStream{e: e, id: len(e.streams), gpu: gpu, queue: make(chan func(), 1<<16)}
	e.streams = append(e.streams, s)
	go func() {
		for op := range s.queue {
			op()
			s.pending.Done()
		}
	}()
	return Stream(s.id), nil
}

// NewEvent makes an event.
func (e *Emulator) NewEvent(gpu int) (Event, error) {
	if err := e.gpu(gpu); err != nil {
		return 0, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, &emuEvent{gpu: gpu, cond: sync.NewCond(&e.mu)})
	return Event(len(e.events) - 1), nil
}

func (e *Emulator) stream(s Stream) (*emuStream, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if int(s) < 0 || int(s) >= len(e.streams) {
		return nil, fmt.Errorf("emulator: no stream %d", s)
	}
	return e.streams[s], nil
}

// enqueue queues an op on a stream.
func (e *Emulator) enqueue(s Stream, op func(st *emuStream)) error {
	st, err := e.stream(s)
	if err != nil {
		return err
	}
	// What the host has seen finish (Synchronize) is ordered before
	// everything it issues after.
	e.mu.Lock()
	floor := slices.Clone(e.hostVC)
	e.mu.Unlock()
	st.pending.Add(1)
	st.queue <- func() {
		st.join(floor)
		op(st)
	}
	return nil
}

// join merges a clock into the stream's.
func (st *emuStream) join(vc []int) {
	for i, c := range vc {
		for len(st.vc) <= i {
			st.vc = append(st.vc, 0)
		}
		st.vc[i] = max(st.vc[i], c)
	}
}

// tick advances a stream's clock for one op and returns the clock.
func (st *emuStream) tick() []int {
	for len(st.vc) <= st.id {
		st.vc = append(st.vc, 0)
	}
	st.vc[st.id]++
	return st.vc
}

// Record queues a record of an event.
func (e *Emulator) Record(ev Event, s Stream) error {
	e.mu.Lock()
	if int(ev) < 0 || int(ev) >= len(e.events) {
		e.mu.Unlock()
		return fmt.Errorf("emulator: no event %d", ev)
	}
	x := e.events[ev]
	x.queued++
	e.mu.Unlock()
	return e.enqueue(s, func(st *emuStream) {
		vc := slices.Clone(st.tick())
		e.mu.Lock()
		x.clocks = append(x.clocks, vc)
		x.recorded++
		x.cond.Broadcast()
		e.mu.Unlock()
	})
}

// Wait makes a stream wait for the latest record of an event queued so
// far; an event never recorded is complete, as in CUDA.
func (e *Emulator) Wait(s Stream, ev Event) error {
	e.mu.Lock()
	if int(ev) < 0 || int(ev) >= len(e.events) {
		e.mu.Unlock()
		return fmt.Errorf("emulator: no event %d", ev)
	}
	x := e.events[ev]
	target := x.queued
	e.mu.Unlock()
	return e.enqueue(s, func(st *emuStream) {
		e.mu.Lock()
		for x.recorded < target {
			x.cond.Wait()
		}
		var vc []int
		if target > 0 {
			vc = x.clocks[target-1]
		}
		e.mu.Unlock()
		st.tick()
		st.join(vc)
	})
}

// Synchronize waits for a stream's queue and reports what went wrong so
// far on any stream.
func (e *Emulator) Synchronize(s Stream) error {
	st, err := e.stream(s)
	if err != nil {
		return err
	}
	st.pending.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, c := range st.vc {
		for len(e.hostVC) <= i {
			e.hostVC = append(e.hostVC, 0)
		}
		e.hostVC[i] = max(e.hostVC[i], c)
	}
	return errors.Join(e.errs...)
}

// host is a copy between the host and a GPU: synchronous, and allowed only
// when no stream has work that could touch the bytes, which is how the
// backend uses it (after Synchronize). All earlier accesses are then
// ordered before everything after, and the log starts again.
func (e *Emulator) host() error {
	for _, st := range e.streams {
		st.pending.Wait()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = e.log[:0]
	return errors.Join(e.errs...)
}

// CopyIn copies host bytes to the device.
func (e *Emulator) CopyIn(dst Ptr, src []byte) error {
	if err := e.host(); err != nil {
		return err
	}
	d, err := e.bytes(dst, int64(len(src)))
	if err != nil {
		return err
	}
	copy(d, src)
	return nil
}

// CopyOut copies device bytes to the host.
func (e *Emulator) CopyOut(dst []byte, src Ptr) error {
	if err := e.host(); err != nil {
		return err
	}
	s, err := e.bytes(src, int64(len(dst)))
	if err != nil {
		return err
	}
	copy(dst, s)
	return nil
}

// Copy2D queues a copy.
func (e *Emulator) Copy2D(s Stream, dst Ptr, dpitch int64, src Ptr, spitch int64, width, rows int64) error {
	return e.enqueue(s, func(st *emuStream) {
		vc := st.tick()
		what := fmt.Sprintf("copy of %d×%d bytes on stream %d", rows, width, st.id)
		e.touch(st.id, vc, src, spitch, width, rows, false, what)
		e.touch(st.id, vc, dst, dpitch, width, rows, true, what)
		for r := range rows {
			sb, err := e.bytes(src+Ptr(r*spitch), width)
			if err != nil {
				e.fail(err)
				return
			}
			db, err := e.bytes(dst+Ptr(r*dpitch), width)
			if err != nil {
				e.fail(err)
				return
			}
			copy(db, sb)
		}
	})
}

func (e *Emulator) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) < 10 {
		e.errs = append(e.errs, err)
	}
}

// touch logs an access and reports a race with an earlier one.
func (e *Emulator) touch(stream int, vc []int, at Ptr, pitch, width, rows int64, write bool, what string) {
	a := access{stream: stream, clock: vc[stream], write: write, what: what}
	switch {
	case rows <= 1:
		rows = 1
	case width >= pitch: // rows that touch: one span
		width, rows = (rows-1)*pitch+width, 1
	}
	for r := range rows {
		lo := at + Ptr(r*pitch)
		a.rows = append(a.rows, [2]Ptr{lo, lo + Ptr(width)})
	}
	a.lo, a.hi = a.rows[0][0], a.rows[len(a.rows)-1][1]
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.log {
		if p.stream == stream || !(p.write || write) || p.hi <= a.lo || a.hi <= p.lo {
			continue
		}
		if p.stream < len(vc) && vc[p.stream] >= p.clock {
			continue // ordered by events
		}
		if overlaps(p.rows, a.rows) && len(e.errs) < 10 {
			e.errs = append(e.errs, fmt.Errorf("emulator: race: %s touches bytes that %s also touches, one of them writing, with no event ordering them", what, p.what))
		}
	}
	e.log = append(e.log, a)
}

func overlaps(a, b [][2]Ptr) bool {
	for _, x := range a {
		for _, y := range b {
			if x[0] < y[1] && y[0] < x[1] {
				return true
			}
		}
	}
	return false
}

// KernelRunner runs an emulated device's kernels.
type KernelRunner interface {
	// Run runs one launch of the module's function fn, with the
	// parameters Driver.Launch was given. arg(i) returns the bytes of the
	// buffer that the launch's argument i points into, and where in them
	// the pointer points. Streams run at once, so Run may be called from
	// several goroutines.
	Run(fn string, l *plan.Launch, params []uint64, arg func(i int) (buf []byte, at int64, err error)) error
}

// Launch queues a kernel, run on the host as the plan documents it (or by
// Kernels).
func (e *Emulator) Launch(s Stream, fn string, l *plan.Launch, params []uint64) error {
	if len(params) != len(l.Args)+len(l.Runtime) {
		return fmt.Errorf("emulator: %s takes %d parameters, the launch passes %d", fn, len(l.Args)+len(l.Runtime), len(params))
	}
	p := slices.Clone(params)
	return e.enqueue(s, func(st *emuStream) {
		vc := st.tick()
		what := fmt.Sprintf("launch %d (%s for %s) on stream %d", l.Index, l.Kernel, l.Layer, st.id)
		for i, a := range l.Args {
			e.touch(st.id, vc, Ptr(p[i]), a.Pitch, a.RowBytes, a.Rows, a.Access.Writes(), what)
			if a.Access.Reads() && a.Access.Writes() {
				e.touch(st.id, vc, Ptr(p[i]), a.Pitch, a.RowBytes, a.Rows, false, what)
			}
		}
		err := error(nil)
		if e.Kernels != nil {
			err = e.Kernels.Run(fn, l, p, func(i int) ([]byte, int64, error) { return e.argBuffer(l, p, i) })
		} else {
			err = e.kernel(l, p)
		}
		if err != nil {
			e.fail(fmt.Errorf("emulator: %s: %w", what, err))
		}
	})
}

// argBuffer is the buffer that argument i of a launch points into, and
// the pointer's place in it.
func (e *Emulator) argBuffer(l *plan.Launch, params []uint64, i int) ([]byte, int64, error) {
	if i < 0 || i >= len(l.Args) {
		return nil, 0, fmt.Errorf("no argument %d", i)
	}
	a := l.Args[i]
	at := int64(params[i]&(1<<allocShift-1)) - a.Offset
	b, err := e.bytes(Ptr(params[i])-Ptr(at), a.Bytes)
	if err == nil && (at < 0 || at > a.Bytes) {
		err = fmt.Errorf("argument %s points %d bytes into its buffer of %d", a.Name, at, a.Bytes)
	}
	return b, at, err
}

// Close stops the streams.
func (e *Emulator) Close() error {
	e.mu.Lock()
	streams := e.streams
	e.streams = nil
	e.mu.Unlock()
	for _, st := range streams {
		st.pending.Wait()
		close(st.queue)
	}
	return nil
}

// kernel runs one launch's kernel, the parameters being the arguments'
// addresses and the runtime scalars' bits.
func (e *Emulator) kernel(l *plan.Launch, params []uint64) error {
	c := map[string]int{}
	f := map[string]float32{}
	for _, k := range l.Constants {
		c[k.Name], f[k.Name] = int(k.V), float32(k.V)
	}
	arg := map[string]int{}
	for i, a := range l.Args {
		arg[a.Name] = i
	}
	var err error
	// view is an argument from its address to the end of its buffer.
	view := func(name string, back int64) []byte {
		i, ok := arg[name]
		if !ok {
			err = fmt.Errorf("no argument %s", name)
			return nil
		}
		a := l.Args[i]
		start := Ptr(params[i]) - Ptr(back)
		n := int64(uint64(a.Offset+a.Bytes)-(params[i]&(1<<allocShift-1))) + back
		b, e2 := e.bytes(start, n)
		if e2 != nil && err == nil {
			err = e2
		}
		return b
	}
	x := func(name string) []float32 { return f32s(view(name, 0)) }
	i32 := func(name string) []int32 { return i32s(view(name, 0)) }
	scalar := func(name string) uint64 {
		for j, r := range l.Runtime {
			if r == name {
				return params[len(l.Args)+j]
			}
		}
		err = fmt.Errorf("no runtime scalar %s", name)
		return 0
	}
	conv := cpu.Conv{C: c["C"], H: c["H"], W: c["W"], KH: c["KH"], KW: c["KW"], Stride: c["stride"], PadT: c["pad_t"], PadL: c["pad_l"], OH: c["OH"], OW: c["OW"]}
	pool := cpu.Pool{N: c["N"], C: c["C"], H: c["H"], W: c["W"], Size: c["size"], Stride: c["stride"], PadT: c["pad_t"], PadL: c["pad_l"], OH: c["OH"], OW: c["OW"]}
	run := func(body func()) error {
		if err != nil {
			return err
		}
		body()
		return nil
	}
	switch l.Kernel {
	case "im2col":
		a, b := x("x"), x("col")
		return run(func() { im2col(conv, a, b) })
	case "col2im":
		a, b := x("col"), x("dx")
		return run(func() { col2im(conv, a, b) })
	case "sgemm":
		a, b, cc := x("a"), x("b"), x("c")
		return run(func() {
			cpu.Sgemm(c["trans_a"] == 1, c["trans_b"] == 1, c["M"], c["N"], c["K"], f["alpha"], a, c["lda"], b, c["ldb"], f["beta"], cc, c["ldc"])
		})
	case "bias_act":
		b, y := x("b"), x("y")
		return run(func() { cpu.BiasAct{N: c["N"], C: c["C"], HW: c["HW"], Act: cpu.Activation(c["act"])}.Forward(b, y) })
	case "act_backward":
		n := c["len"]
		y, dy, dx := x("y"), x("dy"), x("dx")
		return run(func() { cpu.Activation(c["act"]).Backward(y[:n], dy[:n], dx[:n]) })
	case "bias_grad":
		dy, db := x("dy"), x("db")
		return run(func() {
			for ch := range c["C"] {
				var s float32
				for n := range c["N"] {
					for _, v := range dy[(n*c["C"]+ch)*c["HW"] : (n*c["C"]+ch+1)*c["HW"]] {
						s += v
					}
				}
				db[ch] = s + f["beta"]*db[ch]
			}
		})
	case "fill":
		xs := x("x")
		return run(func() {
			for i := range c["len"] {
				xs[i] = f["value"]
			}
		})
	case "lrn_forward", "lrn_backward":
		// The pointers are at channel C0; cpu.LRN takes the whole tensor.
		back := int64(4 * c["C0"] * c["H"] * c["W"])
		// The launch's alpha is the one the formula uses.
		p := cpu.LRN{N: c["N"], C: c["C"], H: c["H"], W: c["W"], C0: c["C0"], C1: c["C1"], Size: c["size"], K: f["k"], Alpha: f["alpha"], Beta: f["beta"], Convention: cpu.AlphaSum}
		if l.Kernel == "lrn_forward" {
			a, b := f32s(view("x", back)), f32s(view("y", back))
			return run(func() { p.Forward(a, b) })
		}
		a, dy, dx := f32s(view("x", back)), f32s(view("dy", back)), f32s(view("dx", back))
		return run(func() { p.Backward(a, dy, dx, make([]float32, p.BackwardScratch())) })
	case "maxpool_forward":
		a, y, am := x("x"), x("y"), i32("argmax")
		return run(func() { cpu.MaxPool(pool).Forward(a, y, am) })
	case "maxpool_backward":
		am, dy, dx := i32("argmax"), x("dy"), x("dx")
		return run(func() { cpu.MaxPool(pool).Backward(am, dy, dx) })
	case "avgpool_forward":
		a, y := x("x"), x("y")
		return run(func() { cpu.AvgPool(pool).Forward(a, y) })
	case "avgpool_backward":
		dy, dx := x("dy"), x("dx")
		return run(func() { cpu.AvgPool(pool).Backward(dy, dx) })
	case "dropout_train":
		in, y, mask := x("x"), x("y"), view("mask", 0)
		seed := scalar("seed")
		return run(func() {
			for i := range c["len"] {
				if DropoutKeeps(seed, uint64(i), f["rate"]) {
					mask[i], y[i] = 1, in[i]
				} else {
					mask[i], y[i] = 0, 0
				}
			}
		})
	case "dropout_test":
		in, y := x("x"), x("y")
		return run(func() {
			for i := range c["len"] {
				y[i] = in[i] * f["scale"]
			}
		})
	case "dropout_backward":
		mask, dy, dx := view("mask", 0), x("dy"), x("dx")
		return run(func() { cpu.Dropout{Len: c["len"]}.Backward(mask, dy, dx) })
	case "softmax":
		a, prob := x("logits"), x("prob")
		return run(func() { cpu.SoftmaxLoss{N: c["N"], Classes: c["classes"]}.Softmax(a, prob) })
	case "nll_loss":
		a, labels, loss := x("logits"), i32("labels"), x("loss")
		return run(func() {
			sm := cpu.SoftmaxLoss{N: c["N"], Classes: c["classes"]}
			loss[0] = float32(sm.Loss(a, labels, make([]float32, c["N"]*c["classes"])))
		})
	case "softmax_backward":
		prob, labels, d := x("prob"), i32("labels"), x("dlogits")
		return run(func() { cpu.SoftmaxLoss{N: c["N"], Classes: c["classes"]}.Backward(prob, labels, d) })
	case "channel_add":
		src, dst, n := x("src"), x("dst"), c["c"]*c["HW"]
		return run(func() {
			for img := range c["N"] {
				cpu.Axpy(1, src[img*c["src_c"]*c["HW"]:][:n], dst[img*c["dst_c"]*c["HW"]:][:n])
			}
		})
	case "sgd":
		n := c["len"]
		w, g, v := x("w"), x("g"), x("v")
		lr := math.Float32frombits(uint32(scalar("lr")))
		return run(func() {
			cpu.SGD{LR: lr, Momentum: f["momentum"], WeightDecay: f["weight_decay"]}.Step(w[:n], g[:n], v[:n])
		})
	}
	return fmt.Errorf("no emulation of kernel %q", l.Kernel)
}

// im2col and col2im for one group of one image, as the kernels describe
// them: pixel by pixel, apart from the CPU engine's row copies.
func im2col(p cpu.Conv, x, col []float32) {
	ohw := p.OH * p.OW
	for c := range p.C {
		for kh := range p.KH {
			for kw := range p.KW {
				row := (c*p.KH+kh)*p.KW + kw
				for oh := range p.OH {
					for ow := range p.OW {
						ih, iw := oh*p.Stride-p.PadT+kh, ow*p.Stride-p.PadL+kw
						v := float32(0)
						if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
							v = x[(c*p.H+ih)*p.W+iw]
						}
						col[row*ohw+oh*p.OW+ow] = v
					}
				}
			}
		}
	}
}

func col2im(p cpu.Conv, col, dx []float32) {
	ohw := p.OH * p.OW
	clear(dx[:p.C*p.H*p.W])
	for c := range p.C {
		for kh := range p.KH {
			for kw := range p.KW {
				row := (c*p.KH+kh)*p.KW + kw
				for oh := range p.OH {
					for ow := range p.OW {
						ih, iw := oh*p.Stride-p.PadT+kh, ow*p.Stride-p.PadL+kw
						if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
							dx[(c*p.H+ih)*p.W+iw] += col[row*ohw+oh*p.OW+ow]
						}
					}
				}
			}
		}
	}
}

// f32s and i32s view device bytes as the kernels' element types; arenas are
// aligned, so every buffer is.
func f32s(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func i32s(b []byte) []int32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(b)/4)
}
