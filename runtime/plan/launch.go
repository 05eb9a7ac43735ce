package plan

// The launch plan is what the CUDA backend does to run a program: an ordered
// list of launches, in the order the host issues them. Every step becomes
// one or more kernel launches or a copy, on one of its device's two
// streams, and the launches of a step are listed together; events, recorded
// after a step and waited for before one, order the streams where one reads
// or overwrites what another touched. Programs run one at a time: the
// runtime writes the images and labels, issues a program's launches, and
// waits for every stream of every device before it reads the outputs.

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

// StreamIndex is the stream's number on its device: 0 compute, 1 copy.
func StreamIndex(s Stream) int {
	if s == CopyStream {
		return 1
	}
	return 0
}

// Access says whether a launch reads a buffer, writes it, or both.
type Access string

// The accesses.
const (
	Read      Access = "r"
	Write     Access = "w"
	ReadWrite Access = "rw"
)

// Reads reports whether the access reads.
func (a Access) Reads() bool { return a == Read || a == ReadWrite }

// Writes reports whether the access writes.
func (a Access) Writes() bool { return a == Write || a == ReadWrite }

// Arg is one buffer passed to a launch. A kernel receives the address
// arena + Offset + Start (+ i·Advance in iteration i of a loop); a copy
// copies Rows rows of RowBytes bytes, Pitch apart, from the source's address
// to the destination's (cuMemcpy2DAsync with the two pitches).
type Arg struct {
	Name   string // the kernel's parameter name (x, w, y, col, ...), or src / dst
	Buffer string // the buffer's name in the plan
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

// Address is the byte offset in its device's arena that a kernel receives
// for the argument in iteration iter of its loop; for a copy, where its
// first row starts.
func (a Arg) Address(iter int) int64 { return a.Offset + a.Start + int64(iter)*a.Advance }

// Launch is one entry of a program's launch plan.
type Launch struct {
	Index  int // position in the program
	Kind   Kind
	Kernel string // for kernels: the kernel of CUDAKernels
	// Func is the function of the plan's CUDA module that the launch calls
	// (cudagen names it: the kernel specialised for these constants).
	Func   string
	Device int
	Stream Stream
	// Grid, block and static shared memory of a kernel launch.
	Grid, Block [3]int
	SharedBytes int
	Constants   Values   // specialised into the kernel, in the kernel's order
	Runtime     []string // scalars the runtime passes at launch: "lr", "seed"
	Args        []Arg
	Event       int // for record and wait: the event, numbered per program
	// Loop numbers a run of consecutive launches on one stream that the
	// runtime issues Count times in turn (launch a, launch b, a, b, ...),
	// once per image; 0 outside loops, where Count is 1.
	Loop, Count int
	Step        int    // the step it comes from; for events, the step it follows (record) or precedes (wait)
	Layer       string // the spec layer, "" for events and the image copy
	Note        string // the step's note: spec layer and shapes
}

// Peer reports whether the launch is a copy between devices.
func (l *Launch) Peer() bool {
	return l.Kind == CopyLaunch && len(l.Args) == 2 && l.Args[0].Device != l.Args[1].Device
}

// Issue walks launches in the order the host issues them: launches
// outside loops once, and the body of a loop (consecutive launches with one
// loop number) Count times in turn, a, b, a, b, ..., calling issue with each
// launch and its iteration.
func Issue(ls []Launch, issue func(l *Launch, iter int) error) error {
	for i := 0; i < len(ls); {
		j := i + 1
		for ls[i].Loop > 0 && j < len(ls) && ls[j].Loop == ls[i].Loop {
			j++
		}
		for it := range max(ls[i].Count, 1) {
			for k := i; k < j; k++ {
				if err := issue(&ls[k], it); err != nil {
					return err
				}
			}
		}
		i = j
	}
	return nil
}

// StepLaunches returns the launches of one step of a program: a contiguous
// run of the program's launch plan, which holds no events.
func (p *Plan) StepLaunches(prog Program, step int) []Launch {
	ls := p.Launches[prog]
	lo := 0
	for lo < len(ls) && !(ls[lo].Step == step && isWork(ls[lo].Kind)) {
		lo++
	}
	hi := lo
	for hi < len(ls) && ls[hi].Step == step && isWork(ls[hi].Kind) {
		hi++
	}
	return ls[lo:hi]
}

func isWork(k Kind) bool { return k == KernelLaunch || k == CopyLaunch }

// Region is a set of arena bytes: Rows rows of RowBytes, Pitch apart, from
// Start.
type Region struct{ Start, Rows, RowBytes, Pitch int64 }

// Footprint is what a launch touches of an argument's arena over all the
// iterations of its loop.
func Footprint(l *Launch, a Arg) Region {
	r := Region{a.Offset + a.Start, a.Rows, a.RowBytes, a.Pitch}
	if a.Advance != 0 && l.Count > 1 {
		r.Rows, r.Pitch = int64(l.Count), a.Advance // Advance needs Rows 1, which Verify checks
	}
	if r.Rows <= 1 || r.RowBytes >= r.Pitch {
		r = Region{r.Start, 1, r.End() - r.Start, r.End() - r.Start}
	}
	return r
}

// End is one past the region's last byte.
func (r Region) End() int64 { return r.Start + (r.Rows-1)*r.Pitch + r.RowBytes }

// Overlaps reports whether two regions share a byte.
func (r Region) Overlaps(o Region) bool {
	if r.End() <= o.Start || o.End() <= r.Start {
		return false
	}
	if r.Rows > o.Rows {
		r, o = o, r
	}
	for i := int64(0); i < r.Rows; i++ {
		if o.hits(r.Start+i*r.Pitch, r.Start+i*r.Pitch+r.RowBytes) {
			return true
		}
	}
	return false
}

// hits reports whether the region shares a byte with [lo, hi).
func (r Region) hits(lo, hi int64) bool {
	// The first row that ends after lo.
	i := int64(0)
	if d := lo - r.Start - r.RowBytes; d >= 0 {
		i = d/r.Pitch + 1
	}
	return i < r.Rows && r.Start+i*r.Pitch < hi
}

// intervals lists the region's rows as [lo, hi) pairs.
func (r Region) intervals() [][2]int64 {
	out := make([][2]int64, r.Rows)
	for i := range out {
		lo := r.Start + int64(i)*r.Pitch
		out[i] = [2]int64{lo, lo + r.RowBytes}
	}
	return out
}
