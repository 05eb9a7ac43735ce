//go:build cuda

package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/alexnetc/alexnetc/compiler/cudagen"
	"github.com/alexnetc/alexnetc/compiler/plan"
	"github.com/alexnetc/alexnetc/runtime/engine"
)

// Options change how a Backend is set up.
type Options struct {
	// Seed seeds the dropout draws (see LaunchSeed).
	Seed uint64
	// GPUs lists the physical GPUs to use by ordinal; logical device d of
	// the plan runs on GPUs[d mod len(GPUs)]. Empty: every GPU there is.
	GPUs []int
}

// Backend runs one plan's programs on GPUs.
type Backend struct {
	Plan   *plan.Plan
	Module *cudagen.Module
	LR     float32 // the learning rate of the next training step

	seed    uint64
	gpus    []*gpu
	devices []*device
	events  [2][]cu.Event    // per program, by event number
	funcs   [2][]cu.Function // per program, by launch index (kernels only)
	runs    [2]uint64        // runs so far, per program
	current int              // the GPU whose context is current on this thread, -1 unknown

	// Reused for each kernel's parameters: cu.Function.Launch reads 8 bytes
	// per parameter, so every value has a slot of its own.
	slots  [32]uint64
	params [32]unsafe.Pointer
}

// gpu is a physical GPU: its primary context and the module loaded in it.
type gpu struct {
	ordinal int
	dev     cu.Device
	ctx     cu.CUContext
	mod     cu.Module
	name    string
	funcs   map[string]cu.Function
}

// device is a logical device of the plan: its arena and its two streams.
type device struct {
	gpu     int
	arena   cu.DevicePtr
	size    int64
	streams [2]cu.Stream // compute, copy
}

// New sets a plan up on the GPUs: a context per GPU, the module loaded
// from ptx (which must have been compiled from m's source), an arena and
// two streams per logical device, and the events of both programs.
func New(p *plan.Plan, m *cudagen.Module, ptx []byte, opt Options) (b *Backend, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if !bytes.Contains(ptx, []byte(".entry "+m.Marker())) {
		return nil, fmt.Errorf("cuda: the PTX was not compiled from this plan's kernels (no %s in it)", m.Marker())
	}
	b = &Backend{Plan: p, Module: m, seed: opt.Seed, current: -1}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting GPUs: %w", err)
	}
	ordinals := opt.GPUs
	if len(ordinals) == 0 {
		for i := range n {
			ordinals = append(ordinals, i)
		}
	}
	if len(ordinals) == 0 {
		return nil, errors.New("cuda: no GPU")
	}
	for _, o := range ordinals {
		if o < 0 || o >= n {
			return nil, fmt.Errorf("cuda: no GPU %d (there are %d)", o, n)
		}
		if err := b.addGPU(o, string(ptx)); err != nil {
			return nil, err
		}
	}
	b.enablePeers()
	for d, dm := range p.Memory.Devices {
		dev := &device{gpu: d % len(b.gpus), size: dm.Arena}
		b.devices = append(b.devices, dev)
		if err := b.on(dev.gpu); err != nil {
			return nil, err
		}
		if dev.arena, err = cu.MemAlloc(max(dm.Arena, 1)); err != nil {
			return nil, fmt.Errorf("cuda: device %d: allocating its arena of %d bytes on GPU %d: %w", d, dm.Arena, b.gpus[dev.gpu].ordinal, err)
		}
		if err := cu.MemsetD8(dev.arena, 0, dm.Arena); err != nil {
			return nil, fmt.Errorf("cuda: device %d: zeroing its arena: %w", d, err)
		}
		for s := range dev.streams {
			if dev.streams[s], err = cu.MakeStream(cu.NonBlocking); err != nil {
				return nil, fmt.Errorf("cuda: device %d: creating a stream: %w", d, err)
			}
		}
	}
	for _, prog := range plan.Programs {
		if err := b.prepare(prog); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *Backend) addGPU(ordinal int, ptx string) error {
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return fmt.Errorf("cuda: GPU %d: %w", ordinal, err)
	}
	g := &gpu{ordinal: ordinal, dev: dev, funcs: map[string]cu.Function{}}
	g.name, _ = dev.Name()
	if g.ctx, err = dev.RetainPrimaryCtx(); err != nil {
		return fmt.Errorf("cuda: GPU %d: retaining its primary context: %w", ordinal, err)
	}
	b.gpus = append(b.gpus, g)
	if err := b.on(len(b.gpus) - 1); err != nil {
		return err
	}
	log := &cu.JITErrorLogBuffer{Buffer: make([]byte, 16<<10)}
	if g.mod, err = cu.LoadDataEx(ptx, log); err != nil {
		return fmt.Errorf("cuda: GPU %d: loading the PTX: %w\n%s", ordinal, err, bytes.TrimRight(log.Buffer, "\x00"))
	}
	return nil
}

// enablePeers lets each GPU address the others' memory where the hardware
// allows, so that copies between them go directly.
func (b *Backend) enablePeers() {
	for i, g := range b.gpus {
		for j, h := range b.gpus {
			if i == j {
				continue
			}
			if ok, err := g.dev.CanAccessPeer(h.dev); err != nil || ok == 0 {
				continue
			}
			if b.on(i) == nil {
				_ = h.ctx.EnablePeerAccess(0) // already enabled is fine; copies work either way
			}
		}
	}
}

// on makes GPU g's context current on this thread.
func (b *Backend) on(g int) error {
	if b.current == g {
		return nil
	}
	if err := cu.SetCurrentContext(b.gpus[g].ctx); err != nil {
		return fmt.Errorf("cuda: GPU %d: setting its context: %w", b.gpus[g].ordinal, err)
	}
	b.current = g
	return nil
}

// prepare resolves a program's functions and creates its events, each on
// the GPU of the stream that records it.
func (b *Backend) prepare(prog plan.Program) error {
	ls := b.Plan.Launches[prog]
	b.funcs[prog] = make([]cu.Function, len(ls))
	for i := range ls {
		l := &ls[i]
		switch l.Kind {
		case plan.KernelLaunch:
			fn := b.Module.Func(l)
			if fn == nil {
				return fmt.Errorf("cuda: %s launch %d: the module has no %s for its constants", prog, i, l.Kernel)
			}
			g := b.gpus[b.devices[l.Device].gpu]
			f, ok := g.funcs[fn.Name]
			if !ok {
				if err := b.on(b.devices[l.Device].gpu); err != nil {
					return err
				}
				var err error
				if f, err = g.mod.Function(fn.Name); err != nil {
					return fmt.Errorf("cuda: %s launch %d: no function %s in the module: %w", prog, i, fn.Name, err)
				}
				g.funcs[fn.Name] = f
			}
			b.funcs[prog][i] = f
		case plan.RecordEvent:
			for len(b.events[prog]) <= l.Event {
				b.events[prog] = append(b.events[prog], cu.Event{})
			}
			if err := b.on(b.devices[l.Device].gpu); err != nil {
				return err
			}
			ev, err := cu.MakeEvent(cu.DisableTiming)
			if err != nil {
				return fmt.Errorf("cuda: %s: creating event %d: %w", prog, l.Event, err)
			}
			b.events[prog][l.Event] = ev
		}
	}
	return nil
}

// Close frees everything the backend holds.
func (b *Backend) Close() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.current = -1
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, dev := range b.devices {
		if b.on(dev.gpu) != nil {
			continue
		}
		for s := range dev.streams {
			if dev.streams[s] != (cu.Stream{}) {
				keep(dev.streams[s].Destroy())
			}
		}
		if dev.arena != 0 {
			keep(cu.MemFree(dev.arena))
		}
	}
	for _, evs := range b.events {
		for i := range evs {
			if evs[i] != (cu.Event{}) {
				keep(cu.DestroyEvent(&evs[i]))
			}
		}
	}
	for i, g := range b.gpus {
		if b.on(i) == nil && g.mod != (cu.Module{}) {
			keep(g.mod.Unload())
		}
		keep(g.dev.ReleasePrimaryCtx())
	}
	b.devices, b.gpus = nil, nil
	return errors.Join(errs...)
}

// Describe names the GPUs and how the plan's devices sit on them.
func (b *Backend) Describe() string {
	var parts []string
	for d, dev := range b.devices {
		g := b.gpus[dev.gpu]
		parts = append(parts, fmt.Sprintf("device %d on GPU %d (%s), arena %d bytes", d, g.ordinal, g.name, dev.size))
	}
	return strings.Join(parts, "; ")
}

// Run runs a program once: it issues every launch in the plan's order and
// waits for all streams. A training step uses b.LR.
func (b *Backend) Run(prog plan.Program) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.current = -1
	run := b.runs[prog]
	b.runs[prog]++
	err := Issue(b.Plan.Launches[prog], func(l *plan.Launch, it int) error {
		if err := b.on(b.devices[l.Device].gpu); err != nil {
			return err
		}
		stream := b.stream(l.Device, l.Stream)
		switch l.Kind {
		case plan.KernelLaunch:
			return b.launch(prog, run, l, it, stream)
		case plan.CopyLaunch:
			return b.copy(l, stream)
		case plan.RecordEvent:
			return wrap(l, b.events[prog][l.Event].Record(stream))
		case plan.WaitEvent:
			return wrap(l, stream.Wait(b.events[prog][l.Event], 0))
		}
		return fmt.Errorf("cuda: %s launch %d: unknown kind %q", prog, l.Index, l.Kind)
	})
	if err != nil {
		return err
	}
	return b.Synchronize()
}

// Synchronize waits until every stream of every device is idle.
func (b *Backend) Synchronize() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.current = -1
	for d, dev := range b.devices {
		if err := b.on(dev.gpu); err != nil {
			return err
		}
		for s := range dev.streams {
			if err := dev.streams[s].Synchronize(); err != nil {
				return fmt.Errorf("cuda: device %d, %s stream: %w", d, plan.Streams[s], err)
			}
		}
	}
	return nil
}

func wrap(l *plan.Launch, err error) error {
	if err == nil {
		return nil
	}
	what := string(l.Kind)
	if l.Kind == plan.KernelLaunch {
		what = l.Kernel
	}
	return fmt.Errorf("cuda: launch %d (%s for %s on %d/%s): %w", l.Index, what, l.Layer, l.Device, l.Stream, err)
}

func (b *Backend) stream(d int, s plan.Stream) cu.Stream {
	if s == plan.CopyStream {
		return b.devices[d].streams[1]
	}
	return b.devices[d].streams[0]
}

// addr is an argument's device address in iteration it of its loop.
func (b *Backend) addr(a plan.Arg, it int) cu.DevicePtr {
	return b.devices[a.Device].arena + cu.DevicePtr(Address(a, it))
}

func (b *Backend) launch(prog plan.Program, run uint64, l *plan.Launch, it int, stream cu.Stream) error {
	n := 0
	for _, a := range l.Args {
		b.slots[n] = uint64(b.addr(a, it))
		n++
	}
	for _, r := range l.Runtime {
		switch r {
		case "lr":
			b.slots[n] = uint64(math.Float32bits(b.LR))
		case "seed":
			b.slots[n] = LaunchSeed(b.seed, run, l.Index)
		default:
			return fmt.Errorf("cuda: launch %d: unknown runtime scalar %q", l.Index, r)
		}
		n++
	}
	for i := range n {
		b.params[i] = unsafe.Pointer(&b.slots[i])
	}
	// Shared memory is static, declared by the kernel: no dynamic bytes.
	return wrap(l, b.funcs[prog][l.Index].Launch(l.Grid[0], l.Grid[1], l.Grid[2], l.Block[0], l.Block[1], l.Block[2],
		0, stream, b.params[:n]))
}

// copy issues a copy between arenas, on the same GPU or between two.
func (b *Backend) copy(l *plan.Launch, stream cu.Stream) error {
	src, dst := l.Args[0], l.Args[1]
	s, d := b.addr(src, 0), b.addr(dst, 0)
	if src.Rows == 1 {
		return wrap(l, cu.MemcpyAsync(d, s, src.RowBytes, stream))
	}
	return wrap(l, memcpy2D(d, dst.Pitch, s, src.Pitch, src.RowBytes, src.Rows, stream))
}

// Write copies host bytes into device d's arena at byte offset off.
func (b *Backend) Write(d int, off int64, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := b.inArena(d, off, int64(len(data))); err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.current = -1
	if err := b.on(b.devices[d].gpu); err != nil {
		return err
	}
	return cu.MemcpyHtoD(b.devices[d].arena+cu.DevicePtr(off), unsafe.Pointer(&data[0]), int64(len(data)))
}

// Read copies bytes of device d's arena from byte offset off into data.
func (b *Backend) Read(d int, off int64, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := b.inArena(d, off, int64(len(data))); err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.current = -1
	if err := b.on(b.devices[d].gpu); err != nil {
		return err
	}
	return cu.MemcpyDtoH(unsafe.Pointer(&data[0]), b.devices[d].arena+cu.DevicePtr(off), int64(len(data)))
}

func (b *Backend) inArena(d int, off, n int64) error {
	if d < 0 || d >= len(b.devices) || off < 0 || off+n > b.devices[d].size {
		return fmt.Errorf("cuda: bytes [%d, %d) of device %d are outside its arena", off, off+n, d)
	}
	return nil
}

// Load copies the front of every device's arena from a CPU engine of the
// same plan: weights, biases, gradients, momenta, images, labels and
// outputs, which both backends keep at the memory plan's offsets.
func (b *Backend) Load(e *engine.Engine) error {
	for d, dm := range b.Plan.Memory.Devices {
		if err := b.Write(d, 0, e.Arenas[d].U8(0, dm.Persistent)); err != nil {
			return err
		}
	}
	return nil
}

// Store copies the same part of every arena back into a CPU engine of the
// same plan.
func (b *Backend) Store(e *engine.Engine) error {
	for d, dm := range b.Plan.Memory.Devices {
		if err := b.Read(d, 0, e.Arenas[d].U8(0, dm.Persistent)); err != nil {
			return err
		}
	}
	return nil
}

// WriteF32 writes a float32 buffer by name, where the program keeps it.
func (b *Backend) WriteF32(prog plan.Program, name string, v []float32) error {
	d, off, err := b.buffer(prog, name, 4*int64(len(v)))
	if err != nil {
		return err
	}
	return b.Write(d, off, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)))
}

// ReadF32 reads a float32 buffer by name.
func (b *Backend) ReadF32(prog plan.Program, name string, v []float32) error {
	d, off, err := b.buffer(prog, name, 4*int64(len(v)))
	if err != nil {
		return err
	}
	return b.Read(d, off, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)))
}

// WriteI32 writes an int32 buffer (the labels) by name.
func (b *Backend) WriteI32(prog plan.Program, name string, v []int32) error {
	d, off, err := b.buffer(prog, name, 4*int64(len(v)))
	if err != nil {
		return err
	}
	return b.Write(d, off, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)))
}

func (b *Backend) buffer(prog plan.Program, name string, n int64) (int, int64, error) {
	buf := b.Plan.Graph.Buffer(name)
	if buf == nil {
		return 0, 0, fmt.Errorf("cuda: no buffer %q", name)
	}
	off := b.Plan.Offset(prog, buf)
	if off < 0 {
		return 0, 0, fmt.Errorf("cuda: program %s does not use %s", prog, name)
	}
	if n > buf.Bytes() {
		return 0, 0, fmt.Errorf("cuda: %d bytes do not fit %s (%d bytes)", n, name, buf.Bytes())
	}
	return buf.Device, off, nil
}
