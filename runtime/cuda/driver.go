package cuda

import "github.com/alexnetc/alexnetc/runtime/plan"

// Driver is what the backend asks of the CUDA driver: memory, streams,
// events, kernel launches and copies. The real driver (gorgonia.org/cu,
// build tag cuda) and the emulated device (Emulator, every build)
// implement it, so that everything the backend does between the plan and
// the driver runs, and is tested, without a GPU.
//
// Handles are small integers the driver hands out. Every call that takes a
// stream is asynchronous: it queues work on the stream and returns.
type Driver interface {
	// GPUs is the number of physical GPUs, and Name names one.
	GPUs() (int, error)
	Name(gpu int) string
	// Load loads the module's PTX on a GPU; Launch then finds its
	// functions by name.
	Load(gpu int, ptx []byte) error
	// Alloc allocates bytes on a GPU, zeroed; Free frees them.
	Alloc(gpu int, bytes int64) (Ptr, error)
	Free(p Ptr) error
	NewStream(gpu int) (Stream, error)
	NewEvent(gpu int) (Event, error)
	// Launch queues a kernel: the module's function fn with the plan's
	// launch l (its grid, block, constants and arguments) and the
	// parameters in the order the function takes them: the arguments'
	// device addresses, then the runtime scalars' bits.
	Launch(s Stream, fn string, l *plan.Launch, params []uint64) error
	// Copy2D queues a copy of rows of width bytes, each side with its
	// pitch, between addresses on any GPUs.
	Copy2D(s Stream, dst Ptr, dpitch int64, src Ptr, spitch int64, width, rows int64) error
	// Record queues event e on s; Wait makes s wait for the latest
	// record of e queued before the call, as cuStreamWaitEvent does.
	Record(e Event, s Stream) error
	Wait(s Stream, e Event) error
	// Synchronize waits for everything queued on s, and reports the first
	// failure of any of it.
	Synchronize(s Stream) error
	// CopyIn and CopyOut copy between the host and a GPU, synchronously.
	CopyIn(dst Ptr, src []byte) error
	CopyOut(dst []byte, src Ptr) error
	// Close frees what is left.
	Close() error
}

// Ptr is a device address.
type Ptr uint64

// Stream and Event are a driver's handles.
type (
	Stream int
	Event  int
)
