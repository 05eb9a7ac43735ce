package cuda

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Options change how a Backend is set up.
type Options struct {
	// Seed seeds the dropout draws (see LaunchSeed).
	Seed uint64
	// GPUs lists the physical GPUs to use by ordinal; logical device d of
	// the plan runs on GPUs[d mod len(GPUs)]. Empty: every GPU there is.
	GPUs []int
}

// Backend runs one plan's programs on a Driver: the CUDA backend of
// device.Backend.
type Backend struct {
	plan *plan.Plan
	drv  Driver
	lr   float32

	seed    uint64
	gpus    []int // ordinals
	devices []*logical
	events  [2][]Event // per program, by event number
	runs    [2]uint64  // runs so far, per program
	params  []uint64   // reused for each launch's parameters
	issued  bool       // a run was issued that no Synchronize has waited for
	err     error      // the first failure; every call after it returns it
}

var _ device.Backend = (*Backend)(nil)

// logical is a device of the plan: its arena and two streams (compute,
// copy) on one GPU.
type logical struct {
	gpu     int
	arena   Ptr
	size    int64
	streams [2]Stream
}

// New sets a plan up on a driver's GPUs: the module loaded from ptx on each
// GPU, an arena and two streams per device of the plan, and the events of
// both programs. Every kernel launch of the plan must name its function
// (plan.Launch.Func, which compiler/cudagen fills in), and the PTX must be
// of the plan's module (p.Module).
func New(p *plan.Plan, ptx []byte, drv Driver, opt Options) (b *Backend, err error) {
	if m := p.Module.Marker(); m == "" || !strings.Contains(string(ptx), m) {
		return nil, fmt.Errorf("cuda: the PTX is not of this plan's module (no %q in it); compile the plan with its kernels (alexnetc compile --ptx)", m)
	}
	for _, prog := range plan.Programs {
		for _, l := range p.Launches[prog] {
			if l.Kind == plan.KernelLaunch && l.Func == "" {
				return nil, fmt.Errorf("cuda: %s launch %d (%s) names no function of the module", prog, l.Index, l.Kernel)
			}
		}
	}
	b = &Backend{plan: p, drv: drv, seed: opt.Seed}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	n, err := drv.GPUs()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting GPUs: %w", err)
	}
	b.gpus = opt.GPUs
	if len(b.gpus) == 0 {
		for i := range n {
			b.gpus = append(b.gpus, i)
		}
	}
	if len(b.gpus) == 0 {
		return nil, errors.New("cuda: no GPU")
	}
	for _, g := range b.gpus {
		if g < 0 || g >= n {
			return nil, fmt.Errorf("cuda: no GPU %d (there are %d)", g, n)
		}
		if err := drv.Load(g, ptx); err != nil {
			return nil, fmt.Errorf("cuda: GPU %d: loading the PTX: %w", g, err)
		}
	}
	for d, dm := range p.Memory.Devices {
		dev := &logical{gpu: b.gpus[d%len(b.gpus)], size: dm.Arena}
		b.devices = append(b.devices, dev)
		if dev.arena, err = drv.Alloc(dev.gpu, max(dm.Arena, 1)); err != nil {
			return nil, fmt.Errorf("cuda: device %d: allocating its arena of %d bytes on GPU %d: %w", d, dm.Arena, dev.gpu, err)
		}
		for s := range dev.streams {
			if dev.streams[s], err = drv.NewStream(dev.gpu); err != nil {
				return nil, fmt.Errorf("cuda: device %d: creating a stream: %w", d, err)
			}
		}
	}
	for _, prog := range plan.Programs {
		for _, l := range p.Launches[prog] {
			if l.Kind != plan.RecordEvent {
				continue
			}
			for len(b.events[prog]) <= l.Event {
				b.events[prog] = append(b.events[prog], -1)
			}
			if b.events[prog][l.Event], err = drv.NewEvent(b.devices[l.Device].gpu); err != nil {
				return nil, fmt.Errorf("cuda: %s: creating event %d: %w", prog, l.Event, err)
			}
		}
	}
	return b, nil
}

// Name names the backend and its GPUs.
func (b *Backend) Name() string {
	var names []string
	for _, g := range b.gpus {
		names = append(names, b.drv.Name(g))
	}
	return "cuda (" + strings.Join(names, ", ") + ")"
}

// Plan is the plan it runs.
func (b *Backend) Plan() *plan.Plan { return b.plan }

// Describe says how the plan's devices sit on the GPUs.
func (b *Backend) Describe() string {
	var parts []string
	for d, dev := range b.devices {
		parts = append(parts, fmt.Sprintf("device %d on GPU %d (%s), arena %d bytes", d, dev.gpu, b.drv.Name(dev.gpu), dev.size))
	}
	return strings.Join(parts, "; ")
}

// SetLR sets the learning rate of the training steps that follow.
func (b *Backend) SetLR(lr float32) { b.lr = lr }

// Run issues a program's launches in the plan's order, on the streams the
// plan names, with its events; it does not wait for them. It first waits
// for the run before, if any: a plan's events order the streams within one
// run of a program, and programs run one at a time.
func (b *Backend) Run(prog plan.Program) error {
	if b.err != nil {
		return b.err
	}
	if b.issued {
		if err := b.Synchronize(); err != nil {
			return err
		}
	}
	b.issued = true
	run := b.runs[prog]
	b.runs[prog]++
	err := plan.Issue(b.plan.Launches[prog], func(l *plan.Launch, it int) error {
		s := b.stream(l.Device, l.Stream)
		switch l.Kind {
		case plan.KernelLaunch:
			return wrap(l, b.launch(s, run, l, it))
		case plan.CopyLaunch:
			src, dst := l.Args[0], l.Args[1]
			return wrap(l, b.drv.Copy2D(s, b.addr(dst, 0), dst.Pitch, b.addr(src, 0), src.Pitch, src.RowBytes, src.Rows))
		case plan.RecordEvent:
			return wrap(l, b.drv.Record(b.events[prog][l.Event], s))
		case plan.WaitEvent:
			return wrap(l, b.drv.Wait(s, b.events[prog][l.Event]))
		}
		return fmt.Errorf("cuda: %s launch %d: unknown kind %q", prog, l.Index, l.Kind)
	})
	if err != nil {
		b.err = err
	}
	return err
}

func (b *Backend) launch(s Stream, run uint64, l *plan.Launch, it int) error {
	b.params = b.params[:0]
	for _, a := range l.Args {
		b.params = append(b.params, uint64(b.addr(a, it)))
	}
	for _, r := range l.Runtime {
		switch r {
		case "lr":
			b.params = append(b.params, uint64(math.Float32bits(b.lr)))
		case "seed":
			b.params = append(b.params, LaunchSeed(b.seed, run, l.Index))
		default:
			return fmt.Errorf("unknown runtime scalar %q", r)
		}
	}
	return b.drv.Launch(s, l.Func, l, b.params)
}

// Synchronize waits until every stream of every device is idle.
func (b *Backend) Synchronize() error {
	if b.err != nil {
		return b.err
	}
	for d, dev := range b.devices {
		for s := range dev.streams {
			if err := b.drv.Synchronize(dev.streams[s]); err != nil {
				b.err = fmt.Errorf("cuda: device %d, %s stream: %w", d, plan.Streams[s], err)
				return b.err
			}
		}
	}
	b.issued = false
	return nil
}

// Loss is the loss of the last training step, from the loss buffer.
func (b *Backend) Loss() (float64, error) {
	v := make([]float32, 1)
	if err := b.Read(plan.Train, b.plan.Model.Loss, v); err != nil {
		return 0, err
	}
	return float64(v[0]), nil
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

func (b *Backend) stream(d int, s plan.Stream) Stream {
	return b.devices[d].streams[plan.StreamIndex(s)]
}

// addr is an argument's device address in iteration it of its loop.
func (b *Backend) addr(a plan.Arg, it int) Ptr { return b.devices[a.Device].arena + Ptr(a.Address(it)) }

// Write copies host values into a buffer, once the work before has
// finished with it.
func (b *Backend) Write(prog plan.Program, name string, src any) error {
	buf, err := b.buffer(prog, name, src)
	if err != nil {
		return err
	}
	if err := b.Synchronize(); err != nil {
		return err
	}
	return b.drv.CopyIn(b.devices[buf.Device].arena+Ptr(buf.Offset[prog]), bytesOf(src))
}

// Read copies a buffer out, once the work before has written it.
func (b *Backend) Read(prog plan.Program, name string, dst any) error {
	buf, err := b.buffer(prog, name, dst)
	if err != nil {
		return err
	}
	if err := b.Synchronize(); err != nil {
		return err
	}
	return b.drv.CopyOut(bytesOf(dst), b.devices[buf.Device].arena+Ptr(buf.Offset[prog]))
}

func (b *Backend) buffer(prog plan.Program, name string, values any) (*plan.Buffer, error) {
	buf := b.plan.Buffer(name)
	if buf == nil {
		return nil, fmt.Errorf("cuda: the plan has no buffer %q", name)
	}
	if buf.Offset[prog] < 0 {
		return nil, fmt.Errorf("cuda: program %s has no place for buffer %s", prog, name)
	}
	return buf, device.CheckLengths(buf, values)
}

// bytesOf is the bytes of host values of a buffer's element type.
func bytesOf(v any) []byte {
	switch x := v.(type) {
	case []float32:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), 4*len(x))
	case []int32:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), 4*len(x))
	case []uint8:
		return x
	}
	return nil
}

// WriteArena and ReadArena copy raw bytes of a device's arena, for tests
// and tools that compare whole arenas with the CPU engine's.
func (b *Backend) WriteArena(d int, off int64, data []byte) error {
	if err := b.inArena(d, off, int64(len(data))); err != nil {
		return err
	}
	if err := b.Synchronize(); err != nil {
		return err
	}
	return b.drv.CopyIn(b.devices[d].arena+Ptr(off), data)
}

// ReadArena copies bytes of a device's arena out.
func (b *Backend) ReadArena(d int, off int64, data []byte) error {
	if err := b.inArena(d, off, int64(len(data))); err != nil {
		return err
	}
	if err := b.Synchronize(); err != nil {
		return err
	}
	return b.drv.CopyOut(data, b.devices[d].arena+Ptr(off))
}

func (b *Backend) inArena(d int, off, n int64) error {
	if d < 0 || d >= len(b.devices) || off < 0 || off+n > b.devices[d].size {
		return fmt.Errorf("cuda: bytes [%d, %d) of device %d are outside its arena", off, off+n, d)
	}
	return nil
}

// Close frees the arenas and the driver's resources.
func (b *Backend) Close() error {
	var errs []error
	for _, dev := range b.devices {
		if dev.arena != 0 {
			errs = append(errs, b.drv.Free(dev.arena))
		}
	}
	b.devices = nil
	errs = append(errs, b.drv.Close())
	return errors.Join(errs...)
}
