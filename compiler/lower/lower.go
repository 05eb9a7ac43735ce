package lower

import (
	"fmt"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec/expr"
)

// Lower lowers a checked network into a plan's buffers and steps, with one
// entry in Memory.Devices per device.
func Lower(n *check.Network, opt Options) (*plan.Plan, error) {
	batch := opt.Batch
	if batch == 0 {
		batch = n.Spec.Train.Batch
	}
	if batch <= 0 {
		return nil, fmt.Errorf("lower: batch %d must be positive", batch)
	}
	devices := n.GPUs
	if opt.SingleDevice {
		devices = 1
	}
	p := &plan.Plan{Batch: batch, Memory: plan.Memory{Devices: make([]plan.DeviceMemory, devices)}}
	lw := &lowerer{p: p, n: n, N: batch, devices: devices, single: opt.SingleDevice,
		out: map[*check.Part]*buffer{}, x: map[*check.Part]*buffer{}, scratchNeed: make([]int64, devices),
		byName: map[string]*buffer{}}
	for d := 0; d < devices; d++ {
		lw.scratch = append(lw.scratch, lw.buffer(fmt.Sprintf("scratch.dev%d", d), d, nil, plan.F32, plan.Scratch, ""))
	}
	lw.input()
	var err error
	if p.Steps[plan.Infer], err = lw.forward(false); err != nil {
		return nil, err
	}
	train, err := lw.forward(true)
	if err != nil {
		return nil, err
	}
	back, err := lw.backward()
	if err != nil {
		return nil, err
	}
	train = append(train, back...)
	p.Steps[plan.Train] = append(train, lw.update()...)
	for d, b := range lw.scratch {
		b.Shape = []int{int(max(lw.scratchNeed[d], 1))}
	}
	return p, nil
}

type lowerer struct {
	p       *plan.Plan
	n       *check.Network
	N       int
	devices int
	single  bool
	steps   []*step
	byName  map[string]*buffer

	data        []*buffer               // the image on each device
	out         map[*check.Part]*buffer // each part's output
	x           map[*check.Part]*buffer // the buffer each part reads (its input part, or a gather)
	labels      *buffer
	scratch     []*buffer
	scratchNeed []int64
}

// dev maps a GPU of the spec to a device of the program.
func (lw *lowerer) dev(gpu int) int {
	if lw.single {
		return 0
	}
	return gpu
}

func (lw *lowerer) buffer(name string, dev int, shape []int, dt plan.DType, role plan.Role, layer string) *buffer {
	if b := lw.byName[name]; b != nil {
		return b
	}
	b := &buffer{ID: len(lw.p.Buffers), Name: name, Device: dev, Shape: shape, DType: dt, Role: role, Layer: layer,
		Offset: [2]int64{-1, -1}}
	lw.p.Buffers = append(lw.p.Buffers, b)
	lw.byName[name] = b
	return b
}

func (lw *lowerer) emit(s *step) {
	lw.steps = append(lw.steps, s)
	lw.scratchNeed[s.Device] = max(lw.scratchNeed[s.Device], plan.StepScratch(s))
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
	lw.data = append(lw.data, lw.buffer("data", 0, shape, plan.F32, plan.Input, ""))
	for d := 1; d < lw.devices; d++ {
		lw.data = append(lw.data, lw.buffer(fmt.Sprintf("data.dev%d", d), d, shape, plan.F32, plan.Activation, ""))
	}
	for _, p := range in.Parts {
		lw.out[p] = lw.data[lw.dev(p.GPU)]
	}
	loss := lw.n.Layers[len(lw.n.Layers)-1]
	lw.labels = lw.buffer("labels", lw.dev(loss.Parts[0].GPU), []int{lw.N}, plan.I32, plan.Label, "")
}

func (lw *lowerer) shape(c int, s check.Shape) []int {
	if s.H == 1 && s.W == 1 {
		return []int{lw.N, c}
	}
	return []int{lw.N, c, s.H, s.W}
}

// channelCopy is the attributes of a copy or add of channels [c0, c1) of a
// src with srcC channels to channels [d, d+c1−c0) of a dst with dstC.
func (lw *lowerer) channelCopy(hw, srcC, c0, c1, dstC, d int) plan.Values {
	return plan.Values{plan.Int("N", lw.N), plan.Int("HW", hw), plan.Int("SrcC", srcC), plan.Int("C0", c0),
		plan.Int("C1", c1), plan.Int("DstC", dstC), plan.Int("D", d)}
}

func copyArgs(src, dst *buffer) []plan.Operand {
	return []plan.Operand{{Name: "src", Buf: src}, {Name: "dst", Buf: dst, Write: true}}
}

// forward emits the forward pass, in training mode or for inference.
func (lw *lowerer) forward(train bool) ([]*step, error) {
	lw.steps = nil
	in := lw.n.Input
	for d := 1; d < lw.devices; d++ {
		hw := in.Out.H * in.Out.W
		lw.emit(&step{Kernel: plan.Copy, Device: d, Attrs: lw.channelCopy(hw, in.Out.C, 0, in.Out.C, in.Out.C, 0),
			Args: copyArgs(lw.data[0], lw.data[d]), Note: fmt.Sprintf("the image to device %d", d)})
	}
	for _, l := range lw.n.Layers {
		for _, p := range l.Parts {
			if err := lw.forwardPart(l, p, train); err != nil {
				return nil, err
			}
		}
	}
	return lw.steps, nil
}

// gather returns the buffer a part reads: its input part's output when that
// is exactly what it reads on its own device, else a new buffer into which
// the slices it reads are copied side by side, across devices where needed.
func (lw *lowerer) gather(l *check.Layer, p *check.Part) *buffer {
	in, d := l.In, lw.dev(p.GPU)
	if len(p.Reads) == 1 {
		r := p.Reads[0]
		ip := in.PartOn(r.GPU)
		if src := lw.out[ip]; src.Device == d && r.C0 == ip.C0 && r.C1 == ip.C1 {
			lw.x[p] = src
			return src
		}
	}
	x := lw.buffer(partName(l, p)+".in", d, lw.shape(p.InC, in.Out), plan.F32, plan.Activation, l.Name)
	hw := in.Out.H * in.Out.W
	off := 0
	for _, r := range p.Reads {
		ip := in.PartOn(r.GPU)
		src := lw.out[ip]
		note := fmt.Sprintf("%s reads channels %d-%d of %s", where(l, p), r.C0, r.C1, in.Name)
		if src.Device != d {
			note = fmt.Sprintf("transfer: %s (GPU %d) → %s, channels %d-%d, %d bytes", in.Name, r.GPU, where(l, p), r.C0, r.C1,
				int64(lw.N)*int64(r.C1-r.C0)*int64(hw)*4)
		}
		lw.emit(&step{Kernel: plan.Copy, Device: d, Layer: l.Name,
			Attrs: lw.channelCopy(hw, ip.Channels(), r.C0-ip.C0, r.C1-ip.C0, p.InC, off),
			Args:  copyArgs(src, x), Note: note})
		off += r.C1 - r.C0
	}
	lw.x[p] = x
	return x
}

// forwardPart emits a part's forward step: the op's kernel for the pass,
// its parameters bound by their roles.
func (lw *lowerer) forwardPart(l *check.Layer, p *check.Part, train bool) error {
	op, d, name := l.Def(), lw.dev(p.GPU), partName(l, p)
	g, err := l.Geometry(p, lw.N)
	if err != nil {
		return err
	}
	x := lw.gather(l, p)
	y := lw.buffer(name+".out", d, lw.shape(p.Channels(), l.Out), plan.F32, plan.Activation, l.Name)
	if op.Output {
		y.Role = plan.Output
	}
	lw.out[p] = y
	kernel := op.Infer
	if train {
		kernel = op.TrainKernel()
	}
	s := &step{Kernel: kernel, Device: d, Layer: l.Name, Attrs: op.Attrs(g), Note: where(l, p) + ": " + op.Note(g, train)}
	for _, prm := range kernel.Def().Params {
		var b *buffer
		switch prm.Role {
		case plan.InArg:
			b = x
		case plan.OutArg:
			b = y
		case plan.WeightArg:
			b = lw.buffer(name+".weight", d, op.Weight(g), plan.F32, plan.Weight, l.Name)
			b.Init = initOf(l.Spec.Weights)
		case plan.BiasArg:
			b = lw.buffer(name+".bias", d, []int{p.Channels()}, plan.F32, plan.Bias, l.Name)
			b.Init = initOf(l.Spec.Bias)
		case plan.SavedArg:
			b = lw.buffer(name+"."+prm.Name, d, lw.shape(p.Channels(), l.Out), dtype(prm), plan.Saved, l.Name)
		case plan.ScratchArg:
			b = lw.scratch[d]
		case plan.LabelsArg:
			b = lw.labels
		case plan.LossArg:
			b = lw.buffer("loss", d, []int{1}, plan.F32, plan.Output, l.Name)
		case plan.SeedArg, plan.LRArg:
			continue // scalars the runtime passes
		default:
			return fmt.Errorf("lower: %s: kernel %s takes %s, which a forward pass does not have", l.Name, kernel, prm.Name)
		}
		s.Args = append(s.Args, plan.Operand{Name: prm.Name, Buf: b, Write: prm.Access.Writes()})
	}
	lw.emit(s)
	return nil
}

func dtype(p plan.Param) plan.DType {
	if p.DType == "" {
		return plan.F32
	}
	return p.DType
}

// initOf is a spec initialiser as the plan records it.
func initOf(in *expr.Init) *plan.Init {
	if in == nil {
		return nil
	}
	out := &plan.Init{Mean: in.Mean, Std: in.Std, Low: in.Low, High: in.High, Value: in.Value}
	switch in.Kind {
	case expr.Normal:
		out.Kind = plan.NormalInit
	case expr.Uniform:
		out.Kind = plan.UniformInit
	default:
		out.Kind = plan.ConstantInit
	}
	return out
}
