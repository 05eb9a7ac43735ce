package planner_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// runner executes a launch plan on the CPU, one launch after another in
// issue order, with each kernel written as the plan documents it. It is the
// launch plan's reference semantics: if it computes what the CPU engine
// computes from the plan's steps, the launches (constants, addresses,
// loops, copies) say the right thing, and a CUDA kernel that does what its
// description says will too.
type runner struct {
	arenas []*cpu.Arena
	rngs   []*cpu.RNG
	lr     float32
}

// f32 views an argument from its address to the end of its buffer.
func (r *runner) f32(a plan.Arg, i int) []float32 {
	at := a.Address(i)
	return r.arenas[a.Device].F32(at, (a.Offset+a.Bytes-at)/4)
}

func (r *runner) i32(a plan.Arg) []int32 {
	return r.arenas[a.Device].I32(a.Address(0), (a.Offset+a.Bytes-a.Address(0))/4)
}

func (r *runner) u8(a plan.Arg) []uint8 {
	return r.arenas[a.Device].U8(a.Address(0), a.Offset+a.Bytes-a.Address(0))
}

// run issues the launches as the host does: loops image by image.
func (r *runner) run(ls []plan.Launch) {
	err := plan.Issue(ls, func(l *plan.Launch, iter int) error {
		r.launch(l, iter)
		return nil
	})
	if err != nil {
		panic(err)
	}
}

func (r *runner) launch(l *plan.Launch, it int) {
	c := map[string]int{}
	f := map[string]float32{}
	for _, k := range l.Constants {
		c[k.Name], f[k.Name] = int(k.V), float32(k.V)
	}
	arg := map[string]plan.Arg{}
	for _, a := range l.Args {
		arg[a.Name] = a
	}
	x := func(name string) []float32 { return r.f32(arg[name], it) }
	switch l.Kind {
	case plan.RecordEvent, plan.WaitEvent:
		return // issue order is one valid order of the streams
	case plan.CopyLaunch:
		src, dst := arg["src"], arg["dst"]
		for row := range src.Rows {
			s := r.arenas[src.Device].U8(src.Address(0)+row*src.Pitch, src.RowBytes)
			copy(r.arenas[dst.Device].U8(dst.Address(0)+row*dst.Pitch, dst.RowBytes), s)
		}
		return
	}
	conv := cpu.Conv{C: c["C"], H: c["H"], W: c["W"], KH: c["KH"], KW: c["KW"], Stride: c["stride"], PadT: c["pad_t"], PadL: c["pad_l"], OH: c["OH"], OW: c["OW"]}
	pool := cpu.Pool{N: c["N"], C: c["C"], H: c["H"], W: c["W"], Size: c["size"], Stride: c["stride"], PadT: c["pad_t"], PadL: c["pad_l"], OH: c["OH"], OW: c["OW"]}
	switch l.Kernel {
	case "im2col":
		im2col(conv, x("x"), x("col"))
	case "col2im":
		col2im(conv, x("col"), x("dx"))
	case "sgemm":
		cpu.Sgemm(c["trans_a"] == 1, c["trans_b"] == 1, c["M"], c["N"], c["K"], f["alpha"], x("a"), c["lda"], x("b"), c["ldb"], f["beta"], x("c"), c["ldc"])
	case "bias_act":
		cpu.BiasAct{N: c["N"], C: c["C"], HW: c["HW"], Act: cpu.Activation(c["act"])}.Forward(x("b"), x("y"))
	case "act_backward":
		n := c["len"]
		cpu.Activation(c["act"]).Backward(x("y")[:n], x("dy")[:n], x("dx")[:n])
	case "bias_grad":
		dy, db := x("dy"), x("db")
		for ch := range c["C"] {
			var s float32
			for n := range c["N"] {
				for _, v := range dy[(n*c["C"]+ch)*c["HW"] : (n*c["C"]+ch+1)*c["HW"]] {
					s += v
				}
			}
			db[ch] = s + f["beta"]*db[ch]
		}
	case "fill":
		xs := x("x")[:c["len"]]
		for i := range xs {
			xs[i] = f["value"]
		}
	case "lrn_forward", "lrn_backward":
		// The pointers are at channel C0; cpu.LRN takes the whole tensor.
		hw := c["H"] * c["W"]
		whole := func(name string) []float32 {
			a := arg[name]
			return r.arenas[a.Device].F32(a.Address(0)-int64(4*c["C0"]*hw), (a.Offset+a.Bytes-a.Address(0))/4+int64(c["C0"]*hw))
		}
		// The launch's alpha is the one the formula uses, already divided
		// by the size where the spec's convention says so.
		p := cpu.LRN{N: c["N"], C: c["C"], H: c["H"], W: c["W"], C0: c["C0"], C1: c["C1"], Size: c["size"], K: f["k"], Alpha: f["alpha"], Beta: f["beta"], Convention: cpu.AlphaSum}
		if l.Kernel == "lrn_forward" {
			p.Forward(whole("x"), whole("y"))
		} else {
			p.Backward(whole("x"), whole("dy"), whole("dx"), make([]float32, p.BackwardScratch()))
		}
	case "maxpool_forward":
		cpu.MaxPool(pool).Forward(x("x"), x("y"), r.i32(arg["argmax"]))
	case "maxpool_backward":
		cpu.MaxPool(pool).Backward(r.i32(arg["argmax"]), x("dy"), x("dx"))
	case "avgpool_forward":
		cpu.AvgPool(pool).Forward(x("x"), x("y"))
	case "avgpool_backward":
		cpu.AvgPool(pool).Backward(x("dy"), x("dx"))
	case "dropout_train":
		cpu.Dropout{Len: c["len"], Rate: f["rate"]}.Train(r.rngs[l.Device], x("x"), x("y"), r.u8(arg["mask"]))
	case "dropout_test":
		y, in := x("y"), x("x")
		for i := range c["len"] {
			y[i] = in[i] * f["scale"]
		}
	case "dropout_backward":
		cpu.Dropout{Len: c["len"]}.Backward(r.u8(arg["mask"]), x("dy"), x("dx"))
	case "softmax":
		cpu.SoftmaxLoss{N: c["N"], Classes: c["classes"]}.Softmax(x("logits"), x("prob"))
	case "nll_loss":
		sm := cpu.SoftmaxLoss{N: c["N"], Classes: c["classes"]}
		x("loss")[0] = float32(sm.Loss(x("logits"), r.i32(arg["labels"]), make([]float32, c["N"]*c["classes"])))
	case "softmax_backward":
		cpu.SoftmaxLoss{N: c["N"], Classes: c["classes"]}.Backward(x("prob"), r.i32(arg["labels"]), x("dlogits"))
	case "channel_add":
		src, dst, n := x("src"), x("dst"), c["c"]*c["HW"]
		for img := range c["N"] {
			cpu.Axpy(1, src[img*c["src_c"]*c["HW"]:][:n], dst[img*c["dst_c"]*c["HW"]:][:n])
		}
	case "sgd":
		n := c["len"]
		cpu.SGD{LR: r.lr, Momentum: f["momentum"], WeightDecay: f["weight_decay"]}.Step(x("w")[:n], x("g")[:n], x("v")[:n])
	default:
		panic("no reference for kernel " + l.Kernel)
	}
}

// im2col and col2im for one group of one image, as the kernels describe
// them: written here pixel by pixel rather than as the CPU engine's row
// copies, so that the two are independent.
func im2col(p cpu.Conv, x, col []float32) {
	ohw := p.OH * p.OW
	for c := range p.C {
		for kh := range p.KH {
			for kw := range p.KW {
				row := (c*p.KH+kh)*p.KW + kw
				for oh := range p.OH {
					for ow := range p.OW {
						ih, iw := oh*p.Stride-p.PadT+kh, ow*p.Stride-p.PadL+kw
						v := float32(0)
						if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
							v = x[(c*p.H+ih)*p.W+iw]
						}
						col[row*ohw+oh*p.OW+ow] = v
					}
				}
			}
		}
	}
}

func col2im(p cpu.Conv, col, dx []float32) {
	ohw := p.OH * p.OW
	clear(dx[:p.C*p.H*p.W])
	for c := range p.C {
		for kh := range p.KH {
			for kw := range p.KW {
				row := (c*p.KH+kh)*p.KW + kw
				for oh := range p.OH {
					for ow := range p.OW {
						ih, iw := oh*p.Stride-p.PadT+kh, ow*p.Stride-p.PadL+kw
						if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
							dx[(c*p.H+ih)*p.W+iw] += col[row*ohw+oh*p.OW+ow]
						}
					}
				}
			}
		}
	}
}

// TestLaunchPlanComputesWhatTheEngineDoes runs one training step and one
// inference pass of small two-GPU networks both ways, from the same
// weights, images and labels, and compares every parameter, gradient,
// momentum, the loss and the probabilities.
func TestLaunchPlanComputesWhatTheEngineDoes(t *testing.T) {
	for _, c := range []struct{ path, variant string }{
		{"../../testdata/alexnet-small.toml", ""},
		{"../../testdata/alexnet-small.toml", "mean-lrn"},
		{"../../examples/fashion.toml", "tanh"},
		{"../../examples/cifar-4layer.toml", ""},
	} {
		t.Run(fmt.Sprintf("%s/%s", c.path, c.variant), func(t *testing.T) {
			p := build(t, network(t, c.path, c.variant), compiler.Options{Batch: 3})
			e := engine.New(p, 5)
			e.LR = 0.01
			r := &runner{lr: e.LR}
			for d, dm := range p.Memory.Devices {
				r.arenas = append(r.arenas, cpu.NewArena(dm.Arena))
				r.rngs = append(r.rngs, cpu.NewRNG(5, uint64(d)+1))
			}
			f32 := func(r *runner, prog plan.Program, name string) []float32 {
				b := p.Buffer(name)
				return r.arenas[b.Device].F32(b.Offset[prog], b.Elems())
			}
			// The same start for both: weights, images and labels.
			rng := cpu.NewRNG(9, 1)
			for _, b := range p.Params() {
				w, w2 := e.F32(plan.Train, b.Name), f32(r, plan.Train, b.Name)
				for i := range w {
					w[i] = float32(rng.NormFloat64() * 0.1)
				}
				copy(w2, w)
			}
			for _, prog := range plan.Programs {
				x, x2 := e.F32(prog, p.Model.Input), f32(r, prog, p.Model.Input)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				copy(x2, x)
			}
			labels := e.I32(plan.Train, p.Model.Labels)
			lb := p.Buffer(p.Model.Labels)
			labels2 := r.arenas[lb.Device].I32(lb.Offset[plan.Train], lb.Elems())
			for i := range labels {
				labels[i] = int32(i % p.Model.Classes)
				labels2[i] = labels[i]
			}

			compare := func(prog plan.Program, name string) {
				t.Helper()
				want, got := e.F32(prog, name), f32(r, prog, name)
				worst := 0.0
				for i := range want {
					d := math.Abs(float64(got[i]-want[i])) / (1e-3 + math.Abs(float64(want[i])))
					worst = max(worst, d)
				}
				if worst > 1e-4 || math.IsNaN(worst) {
					t.Errorf("%s %s: relative difference %.3g", prog, name, worst)
				}
			}
			e.Run(plan.Train)
			r.run(p.Launches[plan.Train])
			if loss := e.F32(plan.Train, p.Model.Loss)[0]; loss <= 0 || math.IsNaN(float64(loss)) {
				t.Fatalf("the engine's loss is %g", loss)
			}
			compare(plan.Train, p.Model.Loss)
			params := 0
			for _, b := range p.Params() {
				compare(plan.Train, b.Name)
				compare(plan.Train, b.Name+".grad")
				compare(plan.Train, b.Name+".momentum")
				params++
			}
			if params == 0 {
				t.Fatal("the plan has no parameters")
			}
			e.Run(plan.Infer)
			r.run(p.Launches[plan.Infer])
			outputs := 0
			for _, b := range p.Buffers {
				if b.Role == plan.Output && b.Offset[plan.Infer] >= 0 {
					compare(plan.Infer, b.Name)
					outputs++
				}
			}
			if outputs == 0 {
				t.Fatal("the inference program has no outputs")
			}
		})
	}
}
