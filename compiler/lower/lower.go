package lower

import (
	"fmt"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/spec"
)

// Options change how a network is lowered.
type Options struct {
	// Batch is the number of images per step; 0 takes [train] batch.
	Batch int
	// SingleDevice puts every GPU's part on device 0: the same computation
	// with the same weights, and no transfers. Tests compare it with the
	// two-device program.
	SingleDevice bool
}

// Lower lowers a checked network.
func Lower(n *check.Network, opt Options) (*Graph, error) {
	batch := opt.Batch
	if batch == 0 {
		batch = n.Spec.Train.Batch
	}
	if batch <= 0 {
		return nil, fmt.Errorf("lower: batch %d must be positive", batch)
	}
	g := &Graph{Net: n, Batch: batch, Devices: n.GPUs}
	if opt.SingleDevice {
		g.Devices = 1
	}
	lw := &lowerer{g: g, n: n, N: batch, single: opt.SingleDevice,
		out: map[*check.Part]*Buffer{}, x: map[*check.Part]*Buffer{}, scratchNeed: make([]int64, g.Devices)}
	for d := 0; d < g.Devices; d++ {
		lw.scratch = append(lw.scratch, lw.buffer(fmt.Sprintf("scratch.dev%d", d), d, nil, F32, Scratch, ""))
	}
	lw.input()
	g.Infer = lw.forward(false)
	lw.steps = nil
	train := lw.forward(true)
	g.Train = append(train, lw.backward()...)
	g.Train = append(g.Train, lw.update()...)
	for d, b := range lw.scratch {
		b.Shape = []int{int(max(lw.scratchNeed[d], 1))}
	}
	return g, nil
}

type lowerer struct {
	g      *Graph
	n      *check.Network
	N      int
	single bool
	steps  []*Step

	data        []*Buffer               // the image on each device
	out         map[*check.Part]*Buffer // each part's output
	x           map[*check.Part]*Buffer // the buffer each part reads (its input part, or a gather)
	labels      *Buffer
	scratch     []*Buffer
	scratchNeed []int64
}

// dev maps a GPU of the spec to a device of the program.
func (lw *lowerer) dev(gpu int) int {
	if lw.single {
		return 0
	}
	return gpu
}

func (lw *lowerer) buffer(name string, dev int, shape []int, dt DType, role Role, layer string) *Buffer {
	if b := lw.g.Buffer(name); b != nil {
		return b
	}
	b := &Buffer{ID: len(lw.g.Buffers), Name: name, Device: dev, Shape: shape, DType: dt, Role: role, Layer: layer}
	lw.g.Buffers = append(lw.g.Buffers, b)
	return b
}

func (lw *lowerer) emit(s *Step) {
	lw.steps = append(lw.steps, s)
	need := int64(0)
	switch p := s.Params.(type) {
	case cpu.Conv:
		need = int64(p.ForwardScratch())
		if s.Kernel == ConvBackward {
			need = int64(p.BackwardScratch())
		}
	case cpu.FC:
		if s.Kernel == FCBackward {
			need = int64(p.BackwardScratch())
		}
	case cpu.LRN:
		if s.Kernel == LRNBackward {
			need = int64(p.BackwardScratch())
		}
	}
	lw.scratchNeed[s.Device] = max(lw.scratchNeed[s.Device], need)
}

// partName names a layer's part: the layer's name when it has one part,
// else name.gpuN, which is also how weight files name its parameters.
func partName(l *check.Layer, p *check.Part) string {
	if len(l.Parts) == 1 {
		return l.Name
	}
	return fmt.Sprintf("%s.gpu%d", l.Name, p.GPU)
}

func where(l *check.Layer, p *check.Part) string {
	if len(l.Parts) == 1 && p.GPU == 0 {
		return l.Name
	}
	return fmt.Sprintf("%s on GPU %d", l.Name, p.GPU)
}

// input makes the image buffers: the host writes device 0's, and the others
// receive a copy at the start of every pass.
func (lw *lowerer) input() {
	in := lw.n.Input
	shape := []int{lw.N, in.Out.C, in.Out.H, in.Out.W}
	lw.data = append(lw.data, lw.buffer("data", 0, shape, F32, Input, ""))
	for d := 1; d < lw.g.Devices; d++ {
		lw.data = append(lw.data, lw.buffer(fmt.Sprintf("data.dev%d", d), d, shape, F32, Activation, ""))
	}
	for _, p := range in.Parts {
		lw.out[p] = lw.data[lw.dev(p.GPU)]
	}
	loss := lw.n.Layers[len(lw.n.Layers)-1]
	lw.labels = lw.buffer("labels", lw.dev(loss.Parts[0].GPU), []int{lw.N}, I32, Label, "")
}

func (lw *lowerer) shape(c int, s check.Shape) []int {
	if s.H == 1 && s.W == 1 {
		return []int{lw.N, c}
	}
	return []int{lw.N, c, s.H, s.W}
}

// forward emits the forward pass, in training mode or for inference.
func (lw *lowerer) forward(train bool) []*Step {
	lw.steps = nil
	in := lw.n.Input
	for d := 1; d < lw.g.Devices; d++ {
		hw := in.Out.H * in.Out.W
		lw.emit(&Step{Kernel: Copy, Device: d, Params: cpu.ChannelCopy{N: lw.N, HW: hw, SrcC: in.Out.C, C0: 0, C1: in.Out.C, DstC: in.Out.C},
			Args: []Arg{{"src", lw.data[0], false}, {"dst", lw.data[d], true}},
			Note: fmt.Sprintf("the image to device %d", d)})
	}
	for _, l := range lw.n.Layers {
		for _, p := range l.Parts {
			lw.forwardPart(l, p, train)
		}
	}
	return lw.steps
}

// gather returns the buffer a part reads: its input part's output when that
// is exactly what it reads on its own device, else a new buffer into which
// the slices it reads are copied side by side, across devices where needed.
func (lw *lowerer) gather(l *check.Layer, p *check.Part) *Buffer {
	in, d := l.In, lw.dev(p.GPU)
	if len(p.Reads) == 1 {
		r := p.Reads[0]
		ip := in.PartOn(r.GPU)
		if src := lw.out[ip]; src.Device == d && r.C0 == ip.C0 && r.C1 == ip.C1 {
			lw.x[p] = src
			return src
		}
	}
	x := lw.buffer(partName(l, p)+".in", d, lw.shape(p.InC, in.Out), F32, Activation, l.Name)
	hw := in.Out.H * in.Out.W
	off := 0
	for _, r := range p.Reads {
		ip := in.PartOn(r.GPU)
		src := lw.out[ip]
		cc := cpu.ChannelCopy{N: lw.N, HW: hw, SrcC: ip.Channels(), C0: r.C0 - ip.C0, C1: r.C1 - ip.C0, DstC: p.InC, D: off}
		note := fmt.Sprintf("%s reads channels %d-%d of %s", where(l, p), r.C0, r.C1, in.Name)
		if src.Device != d {
			note = fmt.Sprintf("transfer: %s (GPU %d) → %s, channels %d-%d, %d bytes", in.Name, r.GPU, where(l, p), r.C0, r.C1,
				int64(lw.N)*int64(r.C1-r.C0)*int64(hw)*4)
		}
		lw.emit(&Step{Kernel: Copy, Device: d, Layer: l.Name, Params: cc,
			Args: []Arg{{"src", src, false}, {"dst", x, true}}, Note: note})
		off += r.C1 - r.C0
	}
	lw.x[p] = x
	return x
}

func (lw *lowerer) forwardPart(l *check.Layer, p *check.Part, train bool) {
	sl, d, name := l.Spec, lw.dev(p.GPU), partName(l, p)
	x := lw.gather(l, p)
	in := l.In.Out
	c := p.Channels()
	y := lw.buffer(name+".out", d, lw.shape(c, l.Out), F32, Activation, l.Name)
	if l.Op == spec.Softmax {
		y.Role = Output
	}
	lw.out[p] = y
	step := &Step{Device: d, Layer: l.Name}
	arg := func(n string, b *Buffer, w bool) { step.Args = append(step.Args, Arg{n, b, w}) }
	switch l.Op {
	case spec.Conv:
		cv := lw.conv(l, p)
		step.Kernel, step.Params = ConvForward, cv
		arg("x", x, false)
		arg("w", lw.buffer(name+".weight", d, []int{c, p.InC / sl.Groups, sl.Kernel, sl.Kernel}, F32, Weight, l.Name), false)
		arg("b", lw.buffer(name+".bias", d, []int{c}, F32, Bias, l.Name), false)
		arg("y", y, true)
		arg("scratch", lw.scratch[d], true)
		step.Note = fmt.Sprintf("%s: conv %d×%d/%d%s, %d×%d×%d → %d×%d×%d", where(l, p), sl.Kernel, sl.Kernel, sl.Stride, actNote(sl.Act),
			p.InC, in.H, in.W, c, l.Out.H, l.Out.W)
	case spec.FC:
		fc := cpu.FC{N: lw.N, In: p.InC * in.H * in.W, Out: c, Act: activation(sl.Act)}
		step.Kernel, step.Params = FCForward, fc
		arg("x", x, false)
		arg("w", lw.buffer(name+".weight", d, []int{c, fc.In}, F32, Weight, l.Name), false)
		arg("b", lw.buffer(name+".bias", d, []int{c}, F32, Bias, l.Name), false)
		arg("y", y, true)
		step.Note = fmt.Sprintf("%s: fc%s, %d → %d", where(l, p), actNote(sl.Act), fc.In, c)
	case spec.LRN:
		step.Kernel, step.Params = LRNForward, lw.lrn(l, p)
		arg("x", x, false)
		arg("y", y, true)
		step.Note = fmt.Sprintf("%s: LRN n=%d over its own %d channels, %d×%d", where(l, p), sl.Size, c, l.Out.H, l.Out.W)
	case spec.MaxPool:
		step.Kernel, step.Params = MaxPoolForward, cpu.MaxPool(lw.pool(l, p))
		arg("x", x, false)
		arg("y", y, true)
		arg("argmax", lw.buffer(name+".argmax", d, lw.shape(c, l.Out), I32, Saved, l.Name), true)
		step.Note = fmt.Sprintf("%s: max pool %d/%d, %d×%d×%d → %d×%d×%d", where(l, p), sl.Size, sl.Stride, c, in.H, in.W, c, l.Out.H, l.Out.W)
	case spec.AvgPool:
		step.Kernel, step.Params = AvgPoolForward, cpu.AvgPool(lw.pool(l, p))
		arg("x", x, false)
		arg("y", y, true)
		step.Note = fmt.Sprintf("%s: average pool %d/%d, %d×%d×%d → %d×%d×%d", where(l, p), sl.Size, sl.Stride, c, in.H, in.W, c, l.Out.H, l.Out.W)
	case spec.Dropout:
		dr := cpu.Dropout{Len: lw.N * c * l.Out.H * l.Out.W, Rate: float32(sl.Rate)}
		step.Params = dr
		arg("x", x, false)
		arg("y", y, true)
		if train {
			step.Kernel = DropoutTrain
			arg("mask", lw.buffer(name+".mask", d, lw.shape(c, l.Out), U8, Saved, l.Name), true)
			step.Note = fmt.Sprintf("%s: dropout, each unit zeroed with probability %g", where(l, p), sl.Rate)
		} else {
			step.Kernel = DropoutTest
			step.Note = fmt.Sprintf("%s: dropout at test time, outputs × %g", where(l, p), 1-sl.Rate)
		}
	case spec.Softmax:
		sm := cpu.SoftmaxLoss{N: lw.N, Classes: c}
		step.Params = sm
		arg("logits", x, false)
		if train {
			step.Kernel = SoftmaxLoss
			arg("labels", lw.labels, false)
			arg("prob", y, true)
			arg("loss", lw.buffer("loss", d, []int{1}, F32, Output, l.Name), true)
			step.Note = fmt.Sprintf("%s: softmax over %d classes and the mean negative log-probability of the labels", where(l, p), c)
		} else {
			step.Kernel = Softmax
			arg("prob", y, true)
			step.Note = fmt.Sprintf("%s: softmax over %d classes", where(l, p), c)
		}
	}
	lw.emit(step)
}

func actNote(a spec.Activation) string {
	if a == spec.Linear {
		return ""
	}
	return " + " + string(a)
}

func activation(a spec.Activation) cpu.Activation {
	act, err := cpu.ParseActivation(string(a))
	if err != nil {
		panic(fmt.Sprintf("lower: checked network has activation %q", a))
	}
	return act
}

func (lw *lowerer) conv(l *check.Layer, p *check.Part) cpu.Conv {
	sl, in := l.Spec, l.In.Out
	return cpu.Conv{N: lw.N, C: p.InC, H: in.H, W: in.W, F: p.Channels(), KH: sl.Kernel, KW: sl.Kernel, Stride: sl.Stride,
		PadT: l.PadTop, PadL: l.PadLeft, PadB: l.PadBottom, PadR: l.PadRight, Groups: sl.Groups, OH: l.Out.H, OW: l.Out.W,
		Act: activation(sl.Act)}
}

func (lw *lowerer) pool(l *check.Layer, p *check.Part) cpu.Pool {
	sl, in := l.Spec, l.In.Out
	return cpu.Pool{N: lw.N, C: p.Channels(), H: in.H, W: in.W, Size: sl.Size, Stride: sl.Stride,
		PadT: l.PadTop, PadL: l.PadLeft, PadB: l.PadBottom, PadR: l.PadRight, OH: l.Out.H, OW: l.Out.W}
}

func (lw *lowerer) lrn(l *check.Layer, p *check.Part) cpu.LRN {
	sl, c := l.Spec, p.Channels()
	conv := cpu.AlphaSum
	if sl.AlphaMode == spec.AlphaMean {
		conv = cpu.AlphaMean
	}
	return cpu.LRN{N: lw.N, C: c, H: l.Out.H, W: l.Out.W, C0: 0, C1: c, Size: sl.Size,
		K: float32(sl.K), Alpha: float32(sl.Alpha), Beta: float32(sl.Beta), Convention: conv}
}
