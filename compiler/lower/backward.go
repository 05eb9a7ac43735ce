package lower

import (
	"fmt"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// backward emits the backward pass, from the loss to the first layer. Each
// part's input gradient goes straight into its input part's gradient when
// that part is all it reads; otherwise into a gradient of its gathered
// input, whose slices are then handed back to the parts they came from —
// across devices where the forward pass crossed them, and summed where
// several parts read the same input part.
func (lw *lowerer) backward() ([]*step, error) {
	lw.steps = nil
	grad := map[*check.Part]*buffer{}
	layers := lw.n.Layers
	for i := len(layers) - 1; i >= 0; i-- {
		l := layers[i]
		op := l.Def()
		needDX := l.In != lw.n.Input
		if op.Backward == "" || !needDX && !op.Learned {
			continue
		}
		readers := map[*check.Part]int{}
		for _, p := range l.Parts {
			for _, r := range p.Reads {
				readers[l.In.PartOn(r.GPU)]++
			}
		}
		dxOf := map[*check.Part]*buffer{}
		for _, p := range l.Parts {
			if !needDX {
				continue
			}
			x := lw.x[p]
			if ip := lw.direct(l, p); ip != nil && readers[ip] == 1 {
				dxOf[p] = lw.gradOf(l.In, ip, grad)
				continue
			}
			dxOf[p] = lw.buffer(partName(l, p)+".in.grad", x.Device, x.Shape, plan.F32, plan.Grad, l.Name)
		}
		for _, p := range l.Parts {
			if err := lw.backwardPart(l, p, grad[p], dxOf[p]); err != nil {
				return nil, err
			}
		}
		if needDX {
			lw.scatter(l, dxOf, grad)
		}
	}
	return lw.steps, nil
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

func (lw *lowerer) gradOf(l *check.Layer, p *check.Part, grad map[*check.Part]*buffer) *buffer {
	if g, ok := grad[p]; ok {
		return g
	}
	y := lw.out[p]
	g := lw.buffer(partName(l, p)+".out.grad", y.Device, y.Shape, plan.F32, plan.Grad, l.Name)
	grad[p] = g
	return g
}

// scatter hands the slices of gathered input gradients back to the input
// parts: the first contribution to a part overwrites its gradient, later ones
// are added, after a transfer to the part's device when they come from
// another.
func (lw *lowerer) scatter(l *check.Layer, dxOf map[*check.Part]*buffer, grad map[*check.Part]*buffer) {
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
				lw.emit(&step{Kernel: plan.Copy, Device: d, Layer: l.Name,
					Attrs: lw.channelCopy(hw, p.InC, off, off+n, ip.Channels(), at), Args: copyArgs(dx, g), Note: note})
			} else {
				src, c0 := dx, off
				if dx.Device != d {
					// Stage the slice on the part's device, then add it there.
					stage := lw.buffer(fmt.Sprintf("%s.in.grad.to%d", partName(l, p), ip.GPU), d, lw.shape(n, in.Out), plan.F32, plan.Grad, l.Name)
					lw.emit(&step{Kernel: plan.Copy, Device: d, Layer: l.Name,
						Attrs: lw.channelCopy(hw, p.InC, off, off+n, n, 0), Args: copyArgs(dx, stage),
						Note: fmt.Sprintf("transfer: gradient of %s channels %d-%d from %s (GPU %d → GPU %d), %d bytes", in.Name, r.C0, r.C1, where(l, p), p.GPU, ip.GPU, bytes)})
					src, c0 = stage, 0
				}
				lw.emit(&step{Kernel: plan.Add, Device: d, Layer: l.Name,
					Attrs: lw.channelCopy(hw, src.Shape[1], c0, c0+n, ip.Channels(), at), Args: copyArgs(src, g),
					Note: fmt.Sprintf("sum the gradient of %s channels %d-%d from %s", in.Name, r.C0, r.C1, where(l, p))})
			}
			off += n
		}
	}
}

// backwardPart emits a part's backward step: the op's backward kernel, its
// parameters bound by their roles.
func (lw *lowerer) backwardPart(l *check.Layer, p *check.Part, dy, dx *buffer) error {
	op, d, name := l.Def(), lw.dev(p.GPU), partName(l, p)
	g, err := l.Geometry(p, lw.N)
	if err != nil {
		return err
	}
	s := &step{Kernel: op.Backward, Device: d, Layer: l.Name, Attrs: op.Attrs(g),
		Note: fmt.Sprintf("%s: backward of %s", where(l, p), l.Op)}
	for _, prm := range op.Backward.Def().Params {
		var b *buffer
		switch prm.Role {
		case plan.InArg:
			b = lw.x[p]
		case plan.OutArg:
			b = lw.out[p]
		case plan.WeightArg:
			b = lw.byName[name+".weight"]
		case plan.BiasArg:
			b = lw.byName[name+".bias"]
		case plan.OutGradArg:
			b = dy
		case plan.InGradArg:
			b = dx
		case plan.WeightGradArg, plan.BiasGradArg:
			of := lw.byName[name+".weight"]
			if prm.Role == plan.BiasGradArg {
				of = lw.byName[name+".bias"]
			}
			b = lw.buffer(of.Name+".grad", d, of.Shape, plan.F32, plan.ParamGrad, l.Name)
		case plan.SavedArg:
			b = lw.byName[name+"."+prm.Name]
		case plan.ScratchArg:
			b = lw.scratch[d]
		case plan.LabelsArg:
			b = lw.labels
		case plan.SeedArg, plan.LRArg:
			continue
		default:
			return fmt.Errorf("lower: %s: kernel %s takes %s, which a backward pass does not have", l.Name, op.Backward, prm.Name)
		}
		if b == nil {
			if prm.Optional {
				continue
			}
			return fmt.Errorf("lower: %s: kernel %s has nothing to pass as %s", l.Name, op.Backward, prm.Name)
		}
		s.Args = append(s.Args, plan.Operand{Name: prm.Name, Buf: b, Write: prm.Access.Writes()})
	}
	lw.emit(s)
	return nil
}

// update emits one SGD step per weight and bias, on the device that holds it.
func (lw *lowerer) update() []*step {
	lw.steps = nil
	tr := lw.n.Spec.Train
	for _, b := range lw.p.Params() {
		g := lw.byName[b.Name+".grad"]
		v := lw.buffer(b.Name+".momentum", b.Device, b.Shape, plan.F32, plan.Momentum, b.Layer)
		lw.emit(&step{Kernel: plan.SGDUpdate, Device: b.Device, Layer: b.Layer,
			Attrs: plan.Values{plan.Float("Momentum", float32(tr.Momentum)), plan.Float("WeightDecay", float32(tr.WeightDecay))},
			Args:  []plan.Operand{{Name: "w", Buf: b, Write: true}, {Name: "g", Buf: g}, {Name: "v", Buf: v, Write: true}},
			Note:  fmt.Sprintf("SGD on %s: v ← %g·v − %g·ε·w − ε·∂L/∂w; w ← w + v", b.Name, tr.Momentum, tr.WeightDecay)})
	}
	return lw.steps
}
