package gen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/compiler/plan"
	"github.com/alexnetc/alexnetc/runtime/cpu"
)

// genPrograms writes one unexported method per program: infer() and
// train(lr) (loss float64), each a straight line of kernel calls.
func (gn *generator) genPrograms() error {
	infer, err := gn.programBody(plan.Infer)
	if err != nil {
		return err
	}
	gn.comment(fmt.Sprintf("infer is the inference program: %d steps, dropout at test scale, the softmax into the probabilities.", len(gn.g.Infer)))
	gn.f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("infer").Params().Block(infer...)
	gn.f.Line()

	train, err := gn.programBody(plan.Train)
	if err != nil {
		return err
	}
	train = append(train, jen.Return(jen.Id("loss")))
	gn.comment(fmt.Sprintf("train is the training program: %d steps, the forward pass with dropout, the loss, the backward pass and an SGD update at learning rate lr.", len(gn.g.Train)))
	gn.f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("train").Params(jen.Id("lr").Float32()).Params(jen.Id("loss").Float64()).Block(train...)
	gn.f.Line()
	return nil
}

// phase groups a training program's steps under a heading.
func phase(k lower.Kernel) int {
	switch {
	case k == lower.SGDUpdate:
		return 2
	case strings.HasSuffix(string(k), ".backward"):
		return 1
	}
	return 0
}

var phaseHeadings = [...]string{
	"Forward pass.",
	"Backward pass, from the loss to the first layer.",
	"SGD update of every weight and bias, on the device that holds it.",
}

// programBody writes the statements of one program: first the images (and
// labels) moved from where the host wrote them, if this program keeps them
// elsewhere, then every step as a comment (its note) and a call, with a
// blank line between layers.
func (gn *generator) programBody(prog plan.Program) ([]jen.Code, error) {
	var body []jen.Code
	for _, b := range gn.hostWritten {
		home, here := gn.p.Offset(plan.Train, b), gn.p.Offset(prog, b)
		if here < 0 || here == home {
			continue
		}
		body = append(body,
			jen.Comment(fmt.Sprintf("%s, from where the host wrote it (the training program's place) to this program's.", b.Name)),
			jen.Copy(gn.viewAt(b, here), gn.viewAt(b, home)),
			jen.Line())
	}
	steps := prog.Steps(gn.g)
	pair := gn.p.FusedLRNPool(prog)
	ph := -1
	for i, s := range steps {
		if j := pair[i]; j >= 0 && j < i {
			continue // the pooling of an LRN and pooling run as one, below
		}
		if prog == plan.Train && phase(s.Kernel) > ph {
			ph = phase(s.Kernel)
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
			code, err = gn.step(prog, s)
		}
		if err != nil {
			return nil, fmt.Errorf("gen: %s program, step %d (%s, %s): %v", prog, i, s.Kernel, s.Note, err)
		}
		body = append(body, code...)
	}
	return body, nil
}

// step writes one kernel call: the parameter literal, the method and the
// arguments in the order lower.Signatures gives, each a view of the arena at
// the buffer's offset in this program. Three arguments are not buffers:
// "rng" is the device's dropout generator, SGD's LR is the training step's
// argument, and the loss that SoftmaxLoss returns is both stored in the
// "loss" buffer and returned from the program.
func (gn *generator) step(prog plan.Program, s *lower.Step) ([]jen.Code, error) {
	sig, ok := lower.Signatures[s.Kernel]
	if !ok {
		return nil, fmt.Errorf("no signature for kernel %s", s.Kernel)
	}
	known := map[string]bool{}
	for _, a := range sig.Args {
		known[a] = true
	}
	if s.Kernel == lower.SoftmaxLoss {
		known["loss"] = true
	}
	for _, a := range s.Args {
		if !known[a.Name] {
			return nil, fmt.Errorf("argument %q is not in the signature %v", a.Name, sig.Args)
		}
	}
	var set map[string]jen.Code
	if s.Kernel == lower.SGDUpdate {
		set = map[string]jen.Code{"LR": jen.Id("lr")}
	}
	lit, err := literal(s.Params, set)
	if err != nil {
		return nil, err
	}
	var args []jen.Code
	for _, name := range sig.Args {
		if name == "rng" {
			args = append(args, jen.Id("m").Dot("rng").Index(jen.Lit(s.Device)))
			continue
		}
		b := s.Arg(name)
		if b == nil {
			args = append(args, jen.Nil())
			continue
		}
		v, err := gn.view(prog, b)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	call := lit.Dot(sig.Method).Call(args...)
	code := []jen.Code{jen.Comment(s.Note)}
	if s.Kernel != lower.SoftmaxLoss {
		return append(code, call), nil
	}
	loss := s.Arg("loss")
	if loss == nil || loss.DType != lower.F32 || loss.Elems() != 1 {
		return nil, fmt.Errorf("the loss step needs a one-element f32 buffer \"loss\"")
	}
	at, err := gn.view(prog, loss)
	if err != nil {
		return nil, err
	}
	return append(code,
		jen.Id("loss").Op("=").Add(call),
		at.Index(jen.Lit(0)).Op("=").Float32().Call(jen.Id("loss"))), nil
}

// lrnPool writes an LRN step and the max pooling of its output as one
// cpu.LRNMaxPool call (plan.FusedLRNPool), with both steps' notes.
func (gn *generator) lrnPool(prog plan.Program, lrn, pool *lower.Step) ([]jen.Code, error) {
	l, lok := lrn.Params.(cpu.LRN)
	q, qok := pool.Params.(cpu.MaxPool)
	if !lok || !qok {
		return nil, fmt.Errorf("an LRN and pooling pair of %T and %T", lrn.Params, pool.Params)
	}
	lit, err := literal(cpu.LRNMaxPool{LRN: l, Pool: q}, nil)
	if err != nil {
		return nil, err
	}
	var args []jen.Code
	for _, b := range []*lower.Buffer{lrn.Arg("x"), pool.Arg("y"), pool.Arg("argmax")} {
		v, err := gn.view(prog, b)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	return []jen.Code{
		jen.Comment(lrn.Note),
		jen.Comment(pool.Note),
		jen.Comment(fmt.Sprintf("(in one pass: %s is not written)", lrn.Arg("y").Name)),
		lit.Dot("Forward").Call(args...),
	}, nil
}

// view is a buffer as the program lays it out: m.dev[d].F32(offset, n), or
// I32 or U8 by its element type.
func (gn *generator) view(prog plan.Program, b *lower.Buffer) (*jen.Statement, error) {
	off := gn.p.Offset(prog, b)
	if off < 0 {
		return nil, fmt.Errorf("the %s program has no place for buffer %s", prog, b.Name)
	}
	return gn.viewAt(b, off), nil
}

func (gn *generator) viewAt(b *lower.Buffer, off int64) *jen.Statement {
	method := map[lower.DType]string{lower.F32: "F32", lower.I32: "I32", lower.U8: "U8"}[b.DType]
	return jen.Id("m").Dot("dev").Index(jen.Lit(b.Device)).Dot(method).Call(num(off), num(b.Elems()))
}
