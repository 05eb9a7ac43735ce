package lower

import (
	"fmt"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/spec"
)

// backward emits the backward pass, from the loss to the first layer. Each
// part's input gradient goes straight into its input part's gradient when
// that part is all it reads; otherwise into a gradient of its gathered
// input, whose slices are then handed back to the parts they came from —
// across devices where the forward pass crossed them, and summed where
// several parts read the same input part.
func (lw *lowerer) backward() []*Step {
	lw.steps = nil
	grad := map[*check.Part]*Buffer{}
	layers := lw.n.Layers
	for i := len(layers) - 1; i >= 0; i-- {
		l := layers[i]
		needDX := l.In != lw.n.Input
		if !needDX && !l.Weighted() {
			continue
		}
		readers := map[*check.Part]int{}
		for _, p := range l.Parts {
			for _, r := range p.Reads {
				readers[l.In.PartOn(r.GPU)]++
			}
		}
		dxOf := map[*check.Part]*Buffer{}
		for _, p := range l.Parts {
			if !needDX {
				continue
			}
			x := lw.x[p]
			if ip := lw.direct(l, p); ip != nil && readers[ip] == 1 {
				dxOf[p] = lw.gradOf(l.In, ip, grad)
				continue
			}
			dxOf[p] = lw.buffer(partName(l, p)+".in.grad", x.Device, x.Shape, F32, Grad, l.Name)
		}
		for _, p := range l.Parts {
			lw.backwardPart(l, p, grad[p], dxOf[p])
		}
		if needDX {
			lw.scatter(l, dxOf, grad)
		}
	}
	return lw.steps
}

// direct returns the input part a part reads without a gather, or nil.
func (lw *lowerer) direct(l *check.Layer, p *check.Part) *check.Part {
	for _, ip := range l.In.Parts {
		if lw.out[ip] == lw.x[p] {
			return ip
		}
	}
	return nil
}

func (lw *lowerer) gradOf(l *check.Layer, p *check.Part, grad map[*check.Part]*Buffer) *Buffer {
	if g, ok := grad[p]; ok {
		return g
	}
	y := lw.out[p]
	g := lw.buffer(partName(l, p)+".out.grad", y.Device, y.Shape, F32, Grad, l.Name)
	grad[p] = g
	return g
}

// scatter hands the slices of gathered input gradients back to the input
// parts: the first contribution to a part overwrites its gradient, later ones
// are added, after a transfer to the part's device when they come from
// another.
func (lw *lowerer) scatter(l *check.Layer, dxOf map[*check.Part]*Buffer, grad map[*check.Part]*Buffer) {
	in := l.In
	hw := in.Out.H * in.Out.W
	written := map[*check.Part]bool{}
	for _, p := range l.Parts {
		if ip := lw.direct(l, p); ip != nil && dxOf[p] == grad[ip] {
			written[ip] = true
		}
	}
	for _, p := range l.Parts {
		dx := dxOf[p]
		if ip := lw.direct(l, p); ip != nil && dx == grad[ip] {
			continue
		}
		off := 0
		for _, r := range p.Reads {
			ip := in.PartOn(r.GPU)
			n := r.C1 - r.C0
			g := lw.gradOf(in, ip, grad)
			d := g.Device
			at := r.C0 - ip.C0
			bytes := int64(lw.N) * int64(n) * int64(hw) * 4
			if !written[ip] {
				written[ip] = true
				note := fmt.Sprintf("gradient of %s channels %d-%d from %s", in.Name, r.C0, r.C1, where(l, p))
				if dx.Device != d {
					note = "transfer: " + note + fmt.Sprintf(" (GPU %d → GPU %d), %d bytes", p.GPU, ip.GPU, bytes)
				}
				lw.emit(&Step{Kernel: Copy, Device: d, Layer: l.Name,
					Params: cpu.ChannelCopy{N: lw.N, HW: hw, SrcC: p.InC, C0: off, C1: off + n, DstC: ip.Channels(), D: at},
					Args:   []Arg{{"src", dx, false}, {"dst", g, true}}, Note: note})
			} else {
				src, c0 := dx, off
				if dx.Device != d {
					// Stage the slice on the part's device, then add it there.
					stage := lw.buffer(fmt.Sprintf("%s.in.grad.to%d", partName(l, p), ip.GPU), d, lw.shape(n, in.Out), F32, Grad, l.Name)
					lw.emit(&Step{Kernel: Copy, Device: d, Layer: l.Name,
						Params: cpu.ChannelCopy{N: lw.N, HW: hw, SrcC: p.InC, C0: off, C1: off + n, DstC: n, D: 0},
						Args:   []Arg{{"src", dx, false}, {"dst", stage, true}},
						Note:   fmt.Sprintf("transfer: gradient of %s channels %d-%d from %s (GPU %d → GPU %d), %d bytes", in.Name, r.C0, r.C1, where(l, p), p.GPU, ip.GPU, bytes)})
					src, c0 = stage, 0
				}
				lw.emit(&Step{Kernel: Add, Device: d, Layer: l.Name,
					Params: cpu.ChannelCopy{N: lw.N, HW: hw, SrcC: src.Shape[1], C0: c0, C1: c0 + n, DstC: ip.Channels(), D: at},
					Args:   []Arg{{"src", src, false}, {"dst", g, true}},
					Note:   fmt.Sprintf("sum the gradient of %s channels %d-%d from %s", in.Name, r.C0, r.C1, where(l, p))})
			}
			off += n
		}
	}
}

func (lw *lowerer) backwardPart(l *check.Layer, p *check.Part, dy, dx *Buffer) {
	sl, d, name := l.Spec, lw.dev(p.GPU), partName(l, p)
	x, y := lw.x[p], lw.out[p]
	step := &Step{Device: d, Layer: l.Name}
	arg := func(n string, b *Buffer, w bool) {
		if b != nil {
			step.Args = append(step.Args, Arg{n, b, w})
		}
	}
	paramGrads := func() {
		w, b := lw.g.Buffer(name+".weight"), lw.g.Buffer(name+".bias")
		arg("dw", lw.buffer(name+".weight.grad", d, w.Shape, F32, ParamGrad, l.Name), true)
		arg("db", lw.buffer(name+".bias.grad", d, b.Shape, F32, ParamGrad, l.Name), true)
	}
	switch l.Op {
	case spec.Conv:
		step.Kernel, step.Params = ConvBackward, lw.conv(l, p)
		arg("x", x, false)
		arg("w", lw.g.Buffer(name+".weight"), false)
		arg("y", y, false)
		arg("dy", dy, false)
		arg("dx", dx, true)
		paramGrads()
		arg("scratch", lw.scratch[d], true)
	case spec.FC:
		step.Kernel = FCBackward
		step.Params = cpu.FC{N: lw.N, In: p.InC * l.In.Out.H * l.In.Out.W, Out: p.Channels(), Act: activation(sl.Act)}
		arg("x", x, false)
		arg("w", lw.g.Buffer(name+".weight"), false)
		arg("y", y, false)
		arg("dy", dy, false)
		arg("dx", dx, true)
		paramGrads()
		arg("scratch", lw.scratch[d], true)
	case spec.LRN:
		step.Kernel, step.Params = LRNBackward, lw.lrn(l, p)
		// LRN saves nothing: its backward recomputes the normaliser from
		// x, which the layer before keeps anyway, so the output and the
		// normaliser die as soon as the pooling after them has read them.
		arg("x", x, false)
		arg("dy", dy, false)
		arg("dx", dx, true)
		arg("scratch", lw.scratch[d], true)
	case spec.MaxPool:
		step.Kernel, step.Params = MaxPoolBackward, cpu.MaxPool(lw.pool(l, p))
		arg("argmax", lw.g.Buffer(name+".argmax"), false)
		arg("dy", dy, false)
		arg("dx", dx, true)
	case spec.AvgPool:
		step.Kernel, step.Params = AvgPoolBackward, cpu.AvgPool(lw.pool(l, p))
		arg("dy", dy, false)
		arg("dx", dx, true)
	case spec.Dropout:
		step.Kernel = DropoutBackward
		step.Params = cpu.Dropout{Len: lw.N * p.Channels() * l.Out.H * l.Out.W, Rate: float32(sl.Rate)}
		arg("mask", lw.g.Buffer(name+".mask"), false)
		arg("dy", dy, false)
		arg("dx", dx, true)
	case spec.Softmax:
		step.Kernel, step.Params = SoftmaxBackward, cpu.SoftmaxLoss{N: lw.N, Classes: p.Channels()}
		arg("prob", y, false)
		arg("labels", lw.labels, false)
		arg("dlogits", dx, true)
	}
	step.Note = fmt.Sprintf("%s: backward of %s", where(l, p), l.Op)
	lw.emit(step)
}

// update emits one SGD step per weight and bias, on the device that holds it.
func (lw *lowerer) update() []*Step {
	lw.steps = nil
	tr := lw.n.Spec.Train
	for _, b := range lw.g.Params() {
		g := lw.g.Buffer(b.Name + ".grad")
		v := lw.buffer(b.Name+".momentum", b.Device, b.Shape, F32, Momentum, b.Layer)
		lw.emit(&Step{Kernel: SGDUpdate, Device: b.Device, Layer: b.Layer,
			Params: cpu.SGD{Momentum: float32(tr.Momentum), WeightDecay: float32(tr.WeightDecay)},
			Args:   []Arg{{"w", b, true}, {"g", g, false}, {"v", v, true}},
			Note:   fmt.Sprintf("SGD on %s: v ← %g·v − %g·ε·w − ε·∂L/∂w; w ← w + v", b.Name, tr.Momentum, tr.WeightDecay)})
	}
	return lw.steps
}
