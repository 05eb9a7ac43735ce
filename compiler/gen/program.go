package gen

import (
	"fmt"
	"slices"

	"github.com/dave/jennifer/jen"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// The CPU call of an LRN and the max pooling of its output run as one pass
// (plan.FusedLRNPool): runtime/cpu's type made of the two kernels' types,
// its fields for them, and its method, which takes the LRN's input and the
// pooling's outputs.
const (
	fusedType   = "LRNMaxPool"
	fusedLRN    = "LRN"
	fusedPool   = "Pool"
	fusedMethod = "Forward"
)

// progSig is what a program method takes and returns, read off its steps:
// the learning rate when a step takes one (plan.LRArg), the loss when a
// step's CPU call returns it (plan.CPUCall.Result).
type progSig struct {
	lr, loss bool
}

func (gn *generator) sig(prog plan.Program) progSig {
	var sg progSig
	for _, s := range gn.p.Steps[prog] {
		d := s.Kernel.Def()
		if d == nil {
			continue
		}
		sg.loss = sg.loss || d.CPU.Result != ""
		for _, prm := range d.Params {
			sg.lr = sg.lr || prm.Role == plan.LRArg
		}
	}
	return sg
}

// genPrograms writes one unexported method per program, named after it:
// infer() and train(lr) (loss float64), each a straight line of kernel
// calls.
func (gn *generator) genPrograms() error {
	names := map[plan.Program]string{plan.Infer: "inference", plan.Train: "training"}
	docs := map[plan.Program]string{
		plan.Infer: "dropout at test scale, the softmax into the probabilities",
		plan.Train: "the forward pass with dropout, the loss, the backward pass and an SGD update at learning rate lr",
	}
	for _, prog := range plan.Programs {
		body, err := gn.programBody(prog)
		if err != nil {
			return err
		}
		sg := gn.sig(prog)
		var params, results []jen.Code
		if sg.lr {
			params = append(params, jen.Id("lr").Float32())
		}
		if sg.loss {
			results = append(results, jen.Id("loss").Float64())
			body = append(body, jen.Return(jen.Id("loss")))
		}
		gn.comment(fmt.Sprintf("%s is the %s program: %d steps, %s.", prog, names[prog], len(gn.p.Steps[prog]), docs[prog]))
		gn.f.Func().Params(model()).Id(prog.String()).Params(params...).Params(results...).Block(body...)
		gn.f.Line()
	}
	return nil
}

// phase groups a program's steps under headings, by the op table: the
// forward pass, the backward pass (plan.KernelDef.Backward), and, within
// it, the update, whose kernels take the learning rate.
func phase(d *plan.KernelDef) int {
	if !d.Backward {
		return 0
	}
	for _, prm := range d.Params {
		if prm.Role == plan.LRArg {
			return 2
		}
	}
	return 1
}

var phaseHeadings = [...]string{
	"Forward pass.",
	"Backward pass, from the loss to the first layer.",
	"SGD update of every weight and bias, on the device that holds it.",
}

// programBody writes the statements of one program: first the images (and
// labels) moved from where the host wrote them, if this program keeps them
// elsewhere, then every step as a comment (its note) and a call, with a
// blank line between layers, and headings between the phases of a program
// that has more than one.
func (gn *generator) programBody(prog plan.Program) ([]jen.Code, error) {
	var body []jen.Code
	for _, b := range gn.hostWritten {
		home, here := b.Offset[plan.Train], b.Offset[prog]
		if here < 0 || here == home {
			continue
		}
		body = append(body,
			jen.Comment(fmt.Sprintf("%s, from where the host wrote it (the training program's place) to this program's.", b.Name)),
			jen.Copy(gn.viewAt(b, here), gn.viewAt(b, home)),
			jen.Line())
	}
	steps := gn.p.Steps[prog]
	defs := make([]*plan.KernelDef, len(steps))
	phases := map[int]bool{}
	for i, s := range steps {
		if defs[i] = s.Kernel.Def(); defs[i] == nil {
			return nil, fmt.Errorf("gen: %s program, step %d: kernel %q is not in the op table", prog, i, s.Kernel)
		}
		phases[phase(defs[i])] = true
	}
	pair := gn.p.FusedLRNPool(prog)
	ph := -1
	for i, s := range steps {
		if j := pair[i]; j >= 0 && j < i {
			continue // the pooling of an LRN and pooling run as one, below
		}
		if p := phase(defs[i]); len(phases) > 1 && p > ph {
			ph = p
			if i > 0 {
				body = append(body, jen.Line())
			}
			body = append(body, jen.Comment(phaseHeadings[ph]), jen.Line())
		} else if i > 0 && s.Layer != steps[i-1].Layer {
			body = append(body, jen.Line())
		}
		var code []jen.Code
		var err error
		if j := pair[i]; j > i {
			code, err = gn.lrnPool(prog, s, steps[j])
		} else {
			code, err = gn.step(prog, defs[i], s)
		}
		if err != nil {
			return nil, fmt.Errorf("gen: %s program, step %d (%s, %s): %v", prog, i, s.Kernel, s.Note, err)
		}
		body = append(body, code...)
	}
	return body, nil
}

// step writes one kernel call, from the op table: the literal of the
// kernel's CPU type, its method, and the kernel's parameters in order, each
// buffer a view of the arena at its offset in this program. The runtime
// scalars are the device's dropout generator for a seed (plan.SeedArg) and
// the program's lr for a learning rate (plan.LRArg). The operand that takes
// the method's result (plan.CPUCall.Result, the loss) is not passed: the
// result is both returned from the program and stored in it as a float32.
func (gn *generator) step(prog plan.Program, d *plan.KernelDef, s *plan.Step) ([]jen.Code, error) {
	for _, a := range s.Args {
		if !slices.ContainsFunc(d.Params, func(p plan.Param) bool { return p.Name == a.Name && !p.Scalar() }) {
			return nil, fmt.Errorf("operand %q is no parameter of %s", a.Name, d.Name)
		}
	}
	lit, err := literal(d, s)
	if err != nil {
		return nil, err
	}
	var args []jen.Code
	for _, prm := range d.Params {
		switch {
		case prm.Role == plan.SeedArg:
			args = append(args, jen.Id("m").Dot("rng").Index(jen.Lit(s.Device)))
		case prm.Role == plan.LRArg:
			args = append(args, jen.Id("lr"))
		case prm.Name == d.CPU.Result:
		default:
			b := s.Arg(prm.Name)
			if b == nil {
				if !prm.Optional {
					return nil, fmt.Errorf("no operand %s", prm.Name)
				}
				args = append(args, jen.Nil())
				continue
			}
			if want := dtypeOf(prm); b.DType != want {
				return nil, fmt.Errorf("operand %s is %s, the kernel takes %s", b.Name, b.DType, want)
			}
			v, err := gn.view(prog, b)
			if err != nil {
				return nil, err
			}
			args = append(args, v)
		}
	}
	call := lit.Dot(d.CPU.Method).Call(args...)
	code := []jen.Code{jen.Comment(s.Note)}
	if d.CPU.Result == "" {
		return append(code, call), nil
	}
	r := s.Arg(d.CPU.Result)
	if r == nil || r.DType != plan.F32 || r.Elems() != 1 {
		return nil, fmt.Errorf("the result of %s needs a one-element f32 operand %q", d.Name, d.CPU.Result)
	}
	at, err := gn.view(prog, r)
	if err != nil {
		return nil, err
	}
	return append(code,
		jen.Id("loss").Op("=").Add(call),
		at.Index(jen.Lit(0)).Op("=").Float32().Call(jen.Id("loss"))), nil
}

func dtypeOf(p plan.Param) plan.DType {
	if p.DType == "" {
		return plan.F32
	}
	return p.DType
}

// lrnPool writes an LRN step and the max pooling of its output as one
// call (plan.FusedLRNPool) with both steps' notes: cpu.LRNMaxPool made of
// the two steps' literals, given the LRN's input and the pooling's outputs.
func (gn *generator) lrnPool(prog plan.Program, lrn, pool *plan.Step) ([]jen.Code, error) {
	l, err := literal(lrn.Kernel.Def(), lrn)
	if err != nil {
		return nil, err
	}
	q, err := literal(pool.Kernel.Def(), pool)
	if err != nil {
		return nil, err
	}
	var args []jen.Code
	for _, b := range []*plan.Buffer{lrn.Arg("x"), pool.Arg("y"), pool.Arg("argmax")} {
		if b == nil {
			return nil, fmt.Errorf("an LRN and pooling pair without x, y or argmax")
		}
		v, err := gn.view(prog, b)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	lit := jen.Qual(cpuPkg, fusedType).Values(jen.Id(fusedLRN).Op(":").Add(l), jen.Id(fusedPool).Op(":").Add(q))
	return []jen.Code{
		jen.Comment(lrn.Note),
		jen.Comment(pool.Note),
		jen.Comment(fmt.Sprintf("(in one pass: %s is not written)", lrn.Arg("y").Name)),
		lit.Dot(fusedMethod).Call(args...),
	}, nil
}

// views names the arena's view of each element type.
var views = map[plan.DType]string{plan.F32: "F32", plan.I32: "I32", plan.U8: "U8"}

// view is a buffer as the program lays it out: m.dev[d].F32(offset, n), or
// I32 or U8 by its element type.
func (gn *generator) view(prog plan.Program, b *plan.Buffer) (*jen.Statement, error) {
	off := b.Offset[prog]
	if off < 0 {
		return nil, fmt.Errorf("the %s program has no place for buffer %s", prog, b.Name)
	}
	return gn.viewAt(b, off), nil
}

func (gn *generator) viewAt(b *plan.Buffer, off int64) *jen.Statement {
	return jen.Id("m").Dot("dev").Index(jen.Lit(b.Device)).Dot(views[b.DType]).Call(num(off), num(b.Elems()))
}
