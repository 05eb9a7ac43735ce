//go:build cuda

package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// CU is the real driver: the CUDA driver API through gorgonia.org/cu, one
// primary context per GPU.
type CU struct {
	gpus    []*cuGPU
	streams []cuStream
	events  []cuEvent
	current int // the GPU whose context is current on this thread, -1 unknown
	// Reused for each kernel's parameters: cu.Function.Launch reads 8 bytes
	// per parameter, so every value has a slot of its own.
	slots  [32]uint64
	params [32]unsafe.Pointer
}

type cuGPU struct {
	dev    cu.Device
	ctx    cu.CUContext
	mod    cu.Module
	loaded bool
	name   string
	funcs  map[string]cu.Function
}

type cuStream struct {
	gpu int
	s   cu.Stream
}

type cuEvent struct {
	gpu int
	e   cu.Event
}

var _ Driver = (*CU)(nil)

// NewCU opens the driver: every GPU's primary context, with peer access
// enabled between them where the hardware allows.
func NewCU() (*CU, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n, err := cu.NumDevices()
	if err != nil {
		return nil, err
	}
	d := &CU{current: -1}
	for i := range n {
		dev, err := cu.GetDevice(i)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("GPU %d: %w", i, err)
		}
		g := &cuGPU{dev: dev, funcs: map[string]cu.Function{}}
		g.name, _ = dev.Name()
		if g.ctx, err = dev.RetainPrimaryCtx(); err != nil {
			d.Close()
			return nil, fmt.Errorf("GPU %d: retaining its primary context: %w", i, err)
		}
		d.gpus = append(d.gpus, g)
	}
	for i, g := range d.gpus {
		for j, h := range d.gpus {
			if i == j {
				continue
			}
			if ok, err := g.dev.CanAccessPeer(h.dev); err != nil || ok == 0 {
				continue
			}
			if d.on(i) == nil {
				_ = h.ctx.EnablePeerAccess(0) // already enabled is fine; copies work either way
			}
		}
	}
	return d, nil
}

// on makes GPU g's context current on this thread; the caller holds the
// thread.
func (d *CU) on(g int) error {
	if d.current == g {
		return nil
	}
	if g < 0 || g >= len(d.gpus) {
		return fmt.Errorf("no GPU %d", g)
	}
	if err := cu.SetCurrentContext(d.gpus[g].ctx); err != nil {
		return fmt.Errorf("GPU %d: setting its context: %w", g, err)
	}
	d.current = g
	return nil
}

// locked runs f with the thread held and GPU g's context current.
func (d *CU) locked(g int, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d.current = -1
	if err := d.on(g); err != nil {
		return err
	}
	return f()
}

// GPUs counts the GPUs.
func (d *CU) GPUs() (int, error) { return len(d.gpus), nil }

// Name is the GPU's name as the driver gives it.
func (d *CU) Name(g int) string {
	if g < 0 || g >= len(d.gpus) {
		return "?"
	}
	return d.gpus[g].name
}

// Load loads the module on a GPU.
func (d *CU) Load(g int, ptx []byte) error {
	return d.locked(g, func() error {
		log := &cu.JITErrorLogBuffer{Buffer: make([]byte, 16<<10)}
		mod, err := cu.LoadDataEx(string(ptx), log)
		if err != nil {
			return fmt.Errorf("%w\n%s", err, bytes.TrimRight(log.Buffer, "\x00"))
		}
		d.gpus[g].mod, d.gpus[g].loaded = mod, true
		return nil
	})
}

// Alloc allocates zeroed memory on a GPU.
func (d *CU) Alloc(g int, n int64) (p Ptr, err error) {
	err = d.locked(g, func() error {
		ptr, err := cu.MemAlloc(n)
		if err != nil {
			return err
		}
		p = Ptr(ptr)
		return cu.MemsetD8(ptr, 0, n)
	})
	return p, err
}

// Free frees memory.
func (d *CU) Free(p Ptr) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cu.MemFree(cu.DevicePtr(p))
}

// NewStream makes a non-blocking stream on a GPU.
func (d *CU) NewStream(g int) (s Stream, err error) {
	err = d.locked(g, func() error {
		st, err := cu.MakeStream(cu.NonBlocking)
		d.streams = append(d.streams, cuStream{g, st})
		s = Stream(len(d.streams) - 1)
		return err
	})
	return s, err
}

// NewEvent makes an event without timing.
func (d *CU) NewEvent(g int) (e Event, err error) {
	err = d.locked(g, func() error {
		ev, err := cu.MakeEvent(cu.DisableTiming)
		d.events = append(d.events, cuEvent{g, ev})
		e = Event(len(d.events) - 1)
		return err
	})
	return e, err
}

// Launch queues a kernel of the loaded module.
func (d *CU) Launch(s Stream, fn string, l *plan.Launch, params []uint64) error {
	st := d.streams[s]
	return d.locked(st.gpu, func() error {
		g := d.gpus[st.gpu]
		f, ok := g.funcs[fn]
		if !ok {
			var err error
			if f, err = g.mod.Function(fn); err != nil {
				return fmt.Errorf("no function %s in the module: %w", fn, err)
			}
			g.funcs[fn] = f
		}
		if len(params) > len(d.slots) {
			return fmt.Errorf("%s: %d parameters", fn, len(params))
		}
		for i, v := range params {
			d.slots[i] = v
			d.params[i] = unsafe.Pointer(&d.slots[i])
		}
		// Shared memory is static, declared by the kernel: no dynamic bytes.
		return f.Launch(l.Grid[0], l.Grid[1], l.Grid[2], l.Block[0], l.Block[1], l.Block[2], 0, st.s, d.params[:len(params)])
	})
}

// Copy2D queues a copy between device addresses.
func (d *CU) Copy2D(s Stream, dst Ptr, dpitch int64, src Ptr, spitch int64, width, rows int64) error {
	st := d.streams[s]
	return d.locked(st.gpu, func() error {
		if rows == 1 {
			return cu.MemcpyAsync(cu.DevicePtr(dst), cu.DevicePtr(src), width, st.s)
		}
		return memcpy2D(cu.DevicePtr(dst), dpitch, cu.DevicePtr(src), spitch, width, rows, st.s)
	})
}

// Record queues an event.
func (d *CU) Record(e Event, s Stream) error {
	st := d.streams[s]
	return d.locked(st.gpu, func() error { return d.events[e].e.Record(st.s) })
}

// Wait makes a stream wait for an event.
func (d *CU) Wait(s Stream, e Event) error {
	st := d.streams[s]
	return d.locked(st.gpu, func() error { return st.s.Wait(d.events[e].e, 0) })
}

// Synchronize waits for a stream.
func (d *CU) Synchronize(s Stream) error {
	st := d.streams[s]
	return d.locked(st.gpu, func() error { return st.s.Synchronize() })
}

// CopyIn copies host bytes to the device.
func (d *CU) CopyIn(dst Ptr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	return d.locked(0, func() error {
		return cu.MemcpyHtoD(cu.DevicePtr(dst), unsafe.Pointer(&src[0]), int64(len(src)))
	})
}

// CopyOut copies device bytes to the host.
func (d *CU) CopyOut(dst []byte, src Ptr) error {
	if len(dst) == 0 {
		return nil
	}
	return d.locked(0, func() error {
		return cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), cu.DevicePtr(src), int64(len(dst)))
	})
}

// Close frees the streams, events, modules and contexts.
func (d *CU) Close() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d.current = -1
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range d.streams {
		if d.on(s.gpu) == nil {
			keep(s.s.Destroy())
		}
	}
	for i := range d.events {
		if d.on(d.events[i].gpu) == nil {
			keep(cu.DestroyEvent(&d.events[i].e))
		}
	}
	for i, g := range d.gpus {
		if g.loaded && d.on(i) == nil {
			keep(g.mod.Unload())
		}
		keep(g.dev.ReleasePrimaryCtx())
	}
	d.streams, d.events, d.gpus = nil, nil, nil
	return errors.Join(errs...)
}
