package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one way in which a plan is broken. A plan that the compiler
// builds has none; a problem there is a bug in the compiler, and in a plan
// read from a file, a sign that the file was edited or damaged.
type Problem struct {
	Program Program
	Launch  int // the launch's index, or -1
	Step    int // the step's index, or -1; both -1 for the memory plan
	Msg     string
}

func (p Problem) Error() string {
	switch {
	case p.Launch >= 0:
		return fmt.Sprintf("%s: launch %d %s", p.Program, p.Launch, p.Msg)
	case p.Step >= 0:
		return fmt.Sprintf("%s: step %d %s", p.Program, p.Step, p.Msg)
	}
	return fmt.Sprintf("%s: memory plan: %s", p.Program, p.Msg)
}

// Target holds the launch limits of a GPU architecture.
type Target struct {
	Name      string
	Threads   int    // threads per block
	Block     [3]int // largest block, per dimension
	Grid      [3]int // largest grid, per dimension
	Shared    int    // static shared memory per block: all the plan uses
	SharedOpt int    // dynamic shared memory per block after opting in; the plan does not use it
}

// Targets are the architectures every plan must fit: A100 and H100/H200.
var Targets = []Target{
	{"sm_80", 1024, [3]int{1024, 1024, 64}, [3]int{1<<31 - 1, 65535, 65535}, 48 << 10, 163 << 10},
	{"sm_90", 1024, [3]int{1024, 1024, 64}, [3]int{1<<31 - 1, 65535, 65535}, 48 << 10, 227 << 10},
}

// Verify checks a plan and returns every problem it finds:
//
//   - the memory plan: every buffer inside its device's arena, aligned, and
//     no two buffers that are alive at the same step sharing a byte;
//   - every launch: well formed (known kernel, its constants and arguments
//     in order, loops contiguous on one stream, events recorded once and
//     before they are waited on), each argument at the memory plan's offset
//     and inside its buffer and arena, and grid, block and shared memory
//     within the limits of every target;
//   - the order of launches: each read of a buffer's bytes follows writes
//     of those bytes that happen before it (on the same stream earlier, or
//     on another stream before an event that the reader's stream waits on,
//     through any chain of events), and no two launches on different
//     streams touch the same bytes, one of them writing, without such an
//     order. Weights, biases, their gradients and momenta, the images and
//     the labels count as written when a program starts; scratch space
//     holds nothing from one lowered step to the next.
//
// The order checks assume a sound memory plan and well-formed launches, so
// they run only when the other checks find nothing.
func Verify(p *Plan) []Problem {
	probs := verifySteps(p)
	if len(probs) > 0 {
		return probs // the other checks read the steps
	}
	probs = verifyMemory(p)
	for _, prog := range Programs {
		v := &verifier{p: p, prog: prog, bufs: map[string]*Buffer{}}
		for _, b := range p.Buffers {
			v.bufs[b.Name] = b
		}
		v.launches()
		if len(probs) == 0 && len(v.probs) == 0 {
			v.order()
		}
		probs = append(probs, v.probs...)
	}
	return probs
}

// verifyMemory checks the memory plan of both programs.
func verifyMemory(p *Plan) []Problem {
	var probs []Problem
	m := p.Memory
	for _, prog := range Programs {
		bad := func(format string, args ...any) {
			probs = append(probs, Problem{prog, -1, -1, fmt.Sprintf(format, args...)})
		}
		steps := p.Steps[prog]
		live := p.Lifetimes(prog)
		var used []*Buffer
		for _, b := range p.Buffers {
			off := b.Offset[prog]
			if _, ok := live[b]; ok && off < 0 {
				bad("%s is used but has no offset", b.Name)
			}
			if off < 0 {
				continue
			}
			arena := m.Devices[b.Device].Arena
			switch {
			case off%Align != 0:
				bad("%s at %d is not aligned to %d bytes", b.Name, off, Align)
			case off+b.Bytes() > arena:
				bad("%s at [%d, %d) ends past device %d's arena of %d bytes", b.Name, off, off+b.Bytes(), b.Device, arena)
			case b.Role.Pinned() && off != b.Offset[Infer]:
				bad("%s is pinned, but infer puts it at %d and train at %d", b.Name, b.Offset[Infer], off)
			}
			if b.Role.Pinned() {
				live[b] = Span{0, len(steps)}
			}
			if _, ok := live[b]; ok {
				used = append(used, b)
			}
		}
		for i, a := range used {
			for _, b := range used[i+1:] {
				oa, ob := a.Offset[prog], b.Offset[prog]
				if a.Device == b.Device && live[a].Overlaps(live[b]) && oa < ob+b.Bytes() && ob < oa+a.Bytes() {
					bad("%s [%d, %d) and %s [%d, %d) overlap on device %d, both alive at steps %d-%d",
						a.Name, oa, oa+a.Bytes(), b.Name, ob, ob+b.Bytes(), a.Device,
						max(live[a].First, live[b].First), min(live[a].Last, live[b].Last))
				}
			}
		}
	}
	return probs
}

type verifier struct {
	p     *Plan
	prog  Program
	bufs  map[string]*Buffer
	probs []Problem
}

func (v *verifier) bad(l *Launch, format string, args ...any) {
	v.probs = append(v.probs, Problem{v.prog, l.Index, -1, describe(l) + ": " + fmt.Sprintf(format, args...)})
}

// describe names a launch in a problem: what it is, its layer and stream.
func describe(l *Launch) string {
	what := string(l.Kind)
	if l.Kind == KernelLaunch {
		what = l.Kernel
	}
	if l.Layer != "" {
		what += " for " + l.Layer
	}
	return fmt.Sprintf("(%s on %d/%s)", what, l.Device, l.Stream)
}

// launches checks each launch on its own, and loops and events.
func (v *verifier) launches() {
	ls := v.p.Launches[v.prog]
	recorded := map[int]bool{}
	for i := range ls {
		l := &ls[i]
		if l.Index != i {
			v.bad(l, "has index %d", l.Index)
		}
		if l.Device < 0 || l.Device >= v.p.Devices() || !slices.Contains(Streams, l.Stream) {
			v.bad(l, "runs on device %d, stream %q, which do not exist", l.Device, l.Stream)
			continue
		}
		switch {
		case l.Count < 1 || (l.Loop == 0) != (l.Count == 1):
			v.bad(l, "has loop %d with %d iterations", l.Loop, l.Count)
		case l.Loop > 0 && (l.Kind == RecordEvent || l.Kind == WaitEvent):
			v.bad(l, "is an event inside loop %d", l.Loop)
		case l.Loop > 0 && i > 0 && ls[i-1].Loop == l.Loop && (ls[i-1].Device != l.Device || ls[i-1].Stream != l.Stream || ls[i-1].Count != l.Count):
			v.bad(l, "differs in stream or count from the rest of loop %d", l.Loop)
		case l.Loop > 0 && slices.ContainsFunc(ls[:max(i-1, 0)], func(o Launch) bool { return o.Loop == l.Loop }) && ls[i-1].Loop != l.Loop:
			v.bad(l, "is apart from the rest of loop %d", l.Loop)
		}
		switch l.Kind {
		case KernelLaunch:
			v.kernel(l)
		case CopyLaunch:
			v.copy(l)
		case RecordEvent, WaitEvent:
			switch {
			case len(l.Args) > 0:
				v.bad(l, "is an event with arguments")
			case l.Kind == RecordEvent && recorded[l.Event]:
				v.bad(l, "records event %d a second time", l.Event)
			case l.Kind == WaitEvent && !recorded[l.Event]:
				v.bad(l, "waits for event %d, which no earlier launch records", l.Event)
			}
			if l.Kind == RecordEvent {
				recorded[l.Event] = true
			}
			continue
		default:
			v.bad(l, "has unknown kind %q", l.Kind)
			continue
		}
		for _, a := range l.Args {
			v.arg(l, a)
		}
	}
}

func (v *verifier) kernel(l *Launch) {
	k := CUDAKernelNamed(l.Kernel)
	if k == nil {
		v.bad(l, "names no kernel of the backend")
		return
	}
	var consts, args []string
	for _, c := range l.Constants {
		consts = append(consts, c.Name)
	}
	for _, a := range l.Args {
		args = append(args, a.Name)
		if a.Device != l.Device {
			v.bad(l, "passes %s on device %d to a kernel on device %d", a.Buffer, a.Device, l.Device)
		}
	}
	if !slices.Equal(consts, k.Consts) {
		v.bad(l, "has constants %v, the kernel takes %v", consts, k.Consts)
	}
	if !slices.Equal(args, k.Args) {
		v.bad(l, "has arguments %v, the kernel takes %v", args, k.Args)
	}
	if !slices.Equal(l.Runtime, k.Runtime) {
		v.bad(l, "has runtime scalars %v, the kernel takes %v", l.Runtime, k.Runtime)
	}
	// Within the limits, the launch must also have the shape the kernel is
	// written for, with enough threads for its work.
	if v.limits(l) && slices.Equal(consts, k.Consts) {
		if grid := k.Grid(l.Constants.ints()); l.Grid != grid || l.Block != k.Block || l.SharedBytes != k.Shared {
			v.bad(l, "is launched as grid %v, block %v, %d bytes of shared memory; its constants need grid %v, block %v, %d bytes",
				l.Grid, l.Block, l.SharedBytes, grid, k.Block, k.Shared)
		}
	}
}

// limits checks grid, block and shared memory against every target, and
// reports whether they are within them.
func (v *verifier) limits(l *Launch) bool {
	fail := map[string][]string{} // message → targets
	var order []string
	add := func(t Target, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if fail[msg] == nil {
			order = append(order, msg)
		}
		fail[msg] = append(fail[msg], t.Name)
	}
	b, g := l.Block, l.Grid
	for _, t := range Targets {
		for d := range 3 {
			if b[d] < 1 || b[d] > t.Block[d] {
				add(t, "block %d×%d×%d: dimension %d must be 1 to %d", b[0], b[1], b[2], d, t.Block[d])
			}
			if g[d] < 1 || g[d] > t.Grid[d] {
				add(t, "grid %d×%d×%d: dimension %d must be 1 to %d", g[0], g[1], g[2], d, t.Grid[d])
			}
		}
		if n := b[0] * b[1] * b[2]; n > t.Threads {
			add(t, "block %d×%d×%d has %d threads, more than %d", b[0], b[1], b[2], n, t.Threads)
		}
		if l.SharedBytes < 0 || l.SharedBytes > t.Shared {
			add(t, "uses %d bytes of shared memory, more than the %d of static shared memory", l.SharedBytes, t.Shared)
		}
	}
	for _, msg := range order {
		v.bad(l, "%s (%s)", msg, strings.Join(fail[msg], ", "))
	}
	return len(order) == 0
}

func (v *verifier) copy(l *Launch) {
	if len(l.Args) != 2 || l.Args[0].Name != "src" || l.Args[1].Name != "dst" || l.Args[0].Access != Read || l.Args[1].Access != Write {
		v.bad(l, "must copy from one source (src, r) to one destination (dst, w)")
		return
	}
	src, dst := l.Args[0], l.Args[1]
	switch {
	case dst.Device != l.Device:
		v.bad(l, "runs on device %d but writes device %d", l.Device, dst.Device)
	case src.Rows != dst.Rows || src.RowBytes != dst.RowBytes:
		v.bad(l, "copies %d rows of %d bytes into %d rows of %d bytes", src.Rows, src.RowBytes, dst.Rows, dst.RowBytes)
	case l.Loop > 0:
		v.bad(l, "is a copy inside loop %d", l.Loop)
	}
}

// arg checks an argument against the memory plan.
func (v *verifier) arg(l *Launch, a Arg) {
	b := v.bufs[a.Buffer]
	if b == nil {
		v.bad(l, "passes %s, which is no buffer of the graph", a.Buffer)
		return
	}
	if a.Access != Read && a.Access != Write && a.Access != ReadWrite {
		v.bad(l, "passes %s with access %q", a.Buffer, a.Access)
	}
	if a.Device != b.Device || a.Bytes != b.Bytes() {
		v.bad(l, "passes %s as %d bytes on device %d; it is %d bytes on device %d", a.Buffer, a.Bytes, a.Device, b.Bytes(), b.Device)
		return
	}
	arena := v.p.Memory.Devices[b.Device].Arena
	if a.Offset < 0 || a.Offset+a.Bytes > arena {
		v.bad(l, "passes %s at [%d, %d), outside device %d's arena of %d bytes", a.Buffer, a.Offset, a.Offset+a.Bytes, a.Device, arena)
		return
	}
	if want := b.Offset[v.prog]; a.Offset != want {
		v.bad(l, "passes %s at %d; the memory plan puts it at %d", a.Buffer, a.Offset, want)
	}
	end := a.Start + (a.Rows-1)*a.Pitch + a.RowBytes + int64(l.Count-1)*a.Advance
	switch {
	case a.Start < 0 || a.Rows < 1 || a.RowBytes < 1 || a.Rows > 1 && a.Pitch < a.RowBytes || a.Advance < 0:
		v.bad(l, "passes %s with a malformed region (start %d, %d rows of %d bytes, pitch %d, advance %d)",
			a.Buffer, a.Start, a.Rows, a.RowBytes, a.Pitch, a.Advance)
	case a.Advance > 0 && (a.Rows != 1 || l.Loop == 0):
		v.bad(l, "advances %s by %d bytes outside a loop or with %d rows", a.Buffer, a.Advance, a.Rows)
	case end > a.Bytes:
		v.bad(l, "touches bytes [%d, %d) of %s, which has %d", a.Start, end, a.Buffer, a.Bytes)
	}
}

// entry is a launch's place in the happens-before order.
type entry struct {
	stream, pos int
	clock       []int // for every stream, its last entry done before this one starts
}

// order checks that reads follow writes and that streams do not race.
func (v *verifier) order() {
	ls := v.p.Launches[v.prog]
	n := 2 * v.p.Devices()
	streams := make([][]int, n) // per stream: the clock of its next entry
	count := make([]int, n)
	for i := range streams {
		streams[i] = slices.Repeat([]int{-1}, n)
	}
	events := map[int][]int{}
	at := make([]entry, len(ls))
	for i, l := range ls {
		id := streamID(l.Device, l.Stream)
		vc := streams[id]
		if l.Kind == WaitEvent {
			for s, c := range events[l.Event] {
				vc[s] = max(vc[s], c)
			}
		}
		vc[id] = count[id]
		count[id]++
		at[i] = entry{id, vc[id], slices.Clone(vc)}
		if l.Kind == RecordEvent {
			events[l.Event] = at[i].clock
		}
	}
	before := func(a, b int) bool { // a earlier in issue order than b
		return at[a].stream == at[b].stream || at[b].clock[at[a].stream] >= at[a].pos
	}
	type use struct {
		launch int
		arg    Arg
		r      Region
	}
	touched := make([][]use, v.p.Devices()) // per arena
	written := map[string][]use{}           // per buffer
	for i := range ls {
		l := &ls[i]
		raced := map[int]bool{}
		for _, a := range l.Args {
			r := Footprint(l, a)
			racy := false
			for _, u := range touched[a.Device] {
				if !(u.arg.Access.Writes() || a.Access.Writes()) || before(u.launch, i) || !u.r.Overlaps(r) {
					continue
				}
				racy = true
				if !raced[u.launch] {
					raced[u.launch] = true
					o := &ls[u.launch]
					v.bad(l, "%s %s and launch %d %s %s %s share bytes with no event ordering them",
						verb(a.Access), a.Buffer, u.launch, describe(o), verb(u.arg.Access), u.arg.Buffer)
				}
			}
			if a.Access.Reads() && !racy && !v.preset(a.Buffer) {
				var have [][2]int64
				for _, w := range written[a.Buffer] {
					if before(w.launch, i) && (v.bufs[a.Buffer].Role != Scratch || ls[w.launch].Step == l.Step) {
						have = append(have, w.r.intervals()...)
					}
				}
				if lo, hi, ok := uncovered(r.intervals(), have); ok {
					v.bad(l, "reads bytes [%d, %d) of %s before any launch writes them", lo-a.Offset, hi-a.Offset, a.Buffer)
				}
			}
		}
		for _, a := range l.Args {
			u := use{i, a, Footprint(l, a)}
			touched[a.Device] = append(touched[a.Device], u)
			if a.Access.Writes() {
				written[a.Buffer] = append(written[a.Buffer], u)
			}
		}
	}
}

// preset reports whether a buffer holds data when a program starts.
func (v *verifier) preset(name string) bool {
	r := v.bufs[name].Role
	return r.Persistent() || r == Input || r == Label
}

func verb(a Access) string {
	switch a {
	case Read:
		return "reads"
	case Write:
		return "writes"
	}
	return "reads and writes"
}

// uncovered returns the first range of want that no interval of have
// covers.
func uncovered(want, have [][2]int64) (lo, hi int64, ok bool) {
	slices.SortFunc(have, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	for _, w := range want {
		at := w[0]
		for _, h := range have {
			if h[0] > at {
				break
			}
			at = max(at, h[1])
		}
		if at < w[1] {
			// The gap runs to the next interval that starts inside it.
			end := w[1]
			for _, h := range have {
				if h[0] > at && h[0] < end {
					end = h[0]
				}
			}
			return at, end, true
		}
	}
	return 0, 0, false
}

// streamID numbers a stream among all devices' streams.
func streamID(device int, s Stream) int { return 2*device + StreamIndex(s) }

// StreamID numbers a stream among all devices' streams: 2·device for the
// compute stream, one more for the copy stream.
func StreamID(device int, s Stream) int { return streamID(device, s) }

// verifySteps checks every step against the op table (a known kernel, its
// attributes in order, its operands by name, role and element type, each
// buffer on the step's device unless the step is a copy, the scratch space
// it needs) and that the launch plan lists each step's launches together
// and in the order of the steps, with events only between steps.
func verifySteps(p *Plan) []Problem {
	var probs []Problem
	ids := map[*Buffer]bool{}
	for i, b := range p.Buffers {
		if b.ID != i {
			probs = append(probs, Problem{Infer, -1, -1, fmt.Sprintf("buffer %s has ID %d at position %d", b.Name, b.ID, i)})
		}
		ids[b] = true
	}
	for _, prog := range Programs {
		bad := func(i int, s *Step, format string, args ...any) {
			probs = append(probs, Problem{prog, -1, i, fmt.Sprintf("(%s for %s): ", s.Kernel, s.Layer) + fmt.Sprintf(format, args...)})
		}
		for i, s := range p.Steps[prog] {
			d := s.Kernel.Def()
			if d == nil {
				bad(i, s, "names no kernel of the op table")
				continue
			}
			if s.Device < 0 || s.Device >= p.Devices() {
				bad(i, s, "runs on device %d, which does not exist", s.Device)
				continue
			}
			if !slices.Equal(s.Attrs.Names(), d.Attrs) {
				bad(i, s, "has attributes %v, the kernel takes %v", s.Attrs.Names(), d.Attrs)
				continue
			}
			k := 0
			for _, prm := range d.Params {
				if prm.Scalar() {
					continue
				}
				if k < len(s.Args) && s.Args[k].Name == prm.Name {
					o := s.Args[k]
					k++
					dt := prm.DType
					if dt == "" {
						dt = F32
					}
					switch {
					case o.Buf == nil || !ids[o.Buf]:
						bad(i, s, "passes %s, which is no buffer of the plan", prm.Name)
					case o.Buf.DType != dt:
						bad(i, s, "passes %s (%s) as %s, which is %s", o.Buf.Name, prm.Name, dt, o.Buf.DType)
					case o.Write != prm.Access.Writes():
						bad(i, s, "passes %s with write %v; the kernel's access is %s", prm.Name, o.Write, prm.Access)
					case o.Buf.Device != s.Device && s.Kernel != Copy:
						bad(i, s, "on device %d passes %s of device %d", s.Device, o.Buf.Name, o.Buf.Device)
					case o.Buf.Offset[prog] < 0:
						bad(i, s, "passes %s, which the program has no place for", o.Buf.Name)
					}
					continue
				}
				if !prm.Optional {
					bad(i, s, "lacks %s", prm.Name)
				}
			}
			if k != len(s.Args) {
				bad(i, s, "passes %d operands the kernel does not take in that order (it takes %v)", len(s.Args)-k, paramNames(d))
				continue
			}
			if need := StepScratch(s); need > 0 {
				if b := s.Arg("scratch"); b == nil || b.Elems() < need {
					bad(i, s, "needs %d floats of scratch space", need)
				}
			}
		}
		// The launch plan: each step's launches together, in step order
		// (events may sit between them).
		next, last := 0, -1
		ls := p.Launches[prog]
		for j := range ls {
			l := &ls[j]
			if !isWork(l.Kind) {
				continue
			}
			switch {
			case l.Step == last:
			case l.Step == next:
				last, next = next, next+1
			default:
				probs = append(probs, Problem{prog, j, -1, fmt.Sprintf("belongs to step %d, after the launches of step %d", l.Step, last)})
				return probs
			}
		}
		if next != len(p.Steps[prog]) {
			probs = append(probs, Problem{prog, -1, -1, fmt.Sprintf("the launch plan covers %d of the %d steps", next, len(p.Steps[prog]))})
		}
	}
	return probs
}

func paramNames(d *KernelDef) []string {
	var out []string
	for _, prm := range d.Params {
		if !prm.Scalar() {
			out = append(out, prm.Name)
		}
	}
	return out
}
