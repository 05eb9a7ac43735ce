package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// devicePkg is the backend contract the generated model runs on when it is
// made by NewOn: the CPU engine, or the CUDA backend on a GPU.
const devicePkg = "github.com/alexnetc/alexnetc/runtime/device"

// The generated model runs its programs either itself, with the calls of
// its program methods on its own arenas, or on a backend (device.Backend)
// of the same plan, made by NewOn. On a backend the model's arenas are the
// host's copy: Input and Labels are written to the backend before each
// run and the probabilities read back after it; the persistent buffers
// (weights, biases, their gradients and momenta) go to the backend before a
// run when the host may have changed them (Init, Load, or a view handed out
// by Weight, Params or Buffer), and come back before the host reads them
// when the backend has trained since.

// backendFields are the Model's fields for running on a backend.
func backendFields() []jen.Code {
	return []jen.Code{
		jen.Id("be").Qual(devicePkg, "Backend").Comment("where the programs run, for a model made by NewOn; nil: here, on dev"),
		jen.Id("hostNewer").Bool().Comment("on a backend: the persistent buffers here may have changed since they were written to it"),
		jen.Id("beNewer").Bool().Comment("on a backend: it has trained since the persistent buffers were read back"),
		jen.Id("err").Error().Comment("the first error of the backend"),
	}
}

// pull is the statement that brings the persistent buffers back from the
// backend before the host reads them.
func pull() jen.Code { return jen.Id("m").Dot("pull").Call() }

// handedOut is the statement that marks the persistent buffers as possibly
// changed here, after a view of them was handed out or they were written.
func handedOut() jen.Code { return jen.Id("m").Dot("hostNewer").Op("=").True() }

// genBackend writes NewOn, the table of persistent buffers, and the
// methods that run a program on a backend and move buffers to and from it.
func (gn *generator) genBackend() error {
	for _, id := range []string{"NewOn", "persistent"} {
		if err := gn.ids.claim(id, "the backend's "+id); err != nil {
			return err
		}
	}
	m := func() *jen.Statement { return jen.Id("m") }
	be := func() *jen.Statement { return jen.Id("m").Dot("be") }
	errf := func(format string, args ...jen.Code) *jen.Statement {
		return jen.Qual("fmt", "Errorf").Call(append([]jen.Code{jen.Lit(format)}, args...)...)
	}
	train := jen.Qual(planPkg, "Train")
	retIfErr := func(call jen.Code) jen.Code {
		return jen.If(jen.Err().Op(":=").Add(call), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Lit(0), jen.Err()))
	}

	gn.comment("NewOn returns a model whose programs run on b, a backend of this package's plan (Plan): the CPU engine (engine.NewCPU), or the CUDA backend on a GPU. The model keeps the host's copy of the buffers and the same methods: Input and Labels are written to the backend before each Infer or TrainStep, and Probabilities read back after it; weights go to the backend before a run when Init, Load or a view from Weight, Params or Buffer may have changed them, and come back when the host reads them after training. The backend draws its own dropout masks, from the seed it was made with; Init does not restart them. An error of the backend is kept for Err, and stops the model running.")
	gn.f.Func().Id("NewOn").Params(jen.Id("b").Qual(devicePkg, "Backend")).Params(jen.Op("*").Id("Model"), jen.Error()).Block(
		jen.Id("p").Op(":=").Id("b").Dot("Plan").Call(),
		jen.If(jen.Id("p").Op("==").Nil().Op("||").Id("p").Dot("Network").Op("!=").Id("Network").Op("||").
			Id("p").Dot("Variant").Op("!=").Id("Variant").Op("||").Id("p").Dot("Batch").Op("!=").Id("Batch").Op("||").
			Id("p").Dot("Devices").Call().Op("!=").Id("Devices")).Block(
			jen.Return(jen.Nil(), errf("%s: the backend %s runs another plan", jen.Id("Network"), jen.Id("b").Dot("Name").Call()))),
		jen.For(jen.List(jen.Id("_"), jen.Id("t")).Op(":=").Range().Id("buffers")).Block(
			jen.If(jen.Id("pb").Op(":=").Id("p").Dot("Buffer").Call(jen.Id("t").Dot("name")), jen.Id("pb").Op("==").Nil().Op("||").
				Id("pb").Dot("Elems").Call().Op("!=").Id("t").Dot("n")).Block(
				jen.Return(jen.Nil(), errf("%s: the backend's plan has no buffer %s of %d values", jen.Id("Network"), jen.Id("t").Dot("name"), jen.Id("t").Dot("n"))))),
		jen.Id("m").Op(":=").Id("New").Call(),
		jen.Id("m").Dot("be").Op("=").Id("b"),
		jen.Return(jen.Id("m"), jen.Nil()),
	)
	gn.f.Line()

	gn.comment("Backend returns the backend the model runs on, or nil for a model made by New.")
	gn.f.Func().Params(model()).Id("Backend").Params().Qual(devicePkg, "Backend").Block(jen.Return(be()))
	gn.f.Line()
	gn.comment("Err returns the first error of the backend, or nil. After one, Infer and TrainStep do nothing, and TrainStep returns NaN.")
	gn.f.Func().Params(model()).Id("Err").Params().Error().Block(jen.Return(m().Dot("err")))
	gn.f.Line()
	gn.comment("Close closes the backend, if the model runs on one.")
	gn.f.Func().Params(model()).Id("Close").Params().Error().Block(
		jen.If(be().Op("==").Nil()).Block(jen.Return(jen.Nil())),
		jen.Return(be().Dot("Close").Call()))
	gn.f.Line()

	pi, err := gn.view(plan.Infer, gn.probs)
	if err != nil {
		return err
	}
	pt, err := gn.view(plan.Train, gn.probs)
	if err != nil {
		return err
	}
	gn.comment("runOn runs a program on the backend and returns the training step's loss, or NaN once the backend has failed.")
	gn.f.Func().Params(model()).Id("runOn").Params(jen.Id("prog").Qual(planPkg, "Program"), jen.Id("lr").Float32()).Float64().Block(
		jen.If(m().Dot("err").Op("==").Nil()).Block(
			jen.List(jen.Id("loss"), jen.Err()).Op(":=").Add(m()).Dot("exchange").Call(jen.Id("prog"), jen.Id("lr")),
			jen.If(jen.Err().Op("==").Nil()).Block(jen.Return(jen.Id("loss"))),
			m().Dot("err").Op("=").Add(errf("%s on %s: %w", jen.Id("Network"), be().Dot("Name").Call(), jen.Err()))),
		jen.Return(jen.Qual("math", "NaN").Call()))
	gn.f.Line()

	gn.comment("exchange writes what the program reads from the host to the backend, runs it, and reads back what the host reads of it.")
	gn.f.Func().Params(model()).Id("exchange").Params(jen.Id("prog").Qual(planPkg, "Program"), jen.Id("lr").Float32()).Params(jen.Float64(), jen.Error()).Block(
		jen.If(m().Dot("hostNewer")).Block(
			jen.For(jen.List(jen.Id("_"), jen.Id("t")).Op(":=").Range().Id("persistent")).Block(
				retIfErr(be().Dot("Write").Call(train.Clone(), jen.Id("t").Dot("name"), m().Dot("view").Call(jen.Id("t"))))),
			m().Dot("hostNewer").Op("=").False()),
		retIfErr(be().Dot("Write").Call(jen.Id("prog"), jen.Lit(gn.input.Name), m().Dot("Input").Call())),
		jen.Id("probs").Op(":=").Add(pi),
		jen.If(jen.Id("prog").Op("==").Add(train.Clone())).Block(
			retIfErr(be().Dot("Write").Call(jen.Id("prog"), jen.Lit(gn.labels.Name), m().Dot("Labels").Call())),
			be().Dot("SetLR").Call(jen.Id("lr")),
			m().Dot("beNewer").Op("=").True(),
			gn.probsIn(pt)),
		retIfErr(be().Dot("Run").Call(jen.Id("prog"))),
		retIfErr(be().Dot("Read").Call(jen.Id("prog"), jen.Lit(gn.probs.Name), jen.Id("probs"))),
		jen.If(jen.Id("prog").Op("!=").Add(train.Clone())).Block(jen.Return(jen.Lit(0), jen.Nil())),
		jen.Return(be().Dot("Loss").Call()))
	gn.f.Line()

	gn.comment("pull reads the persistent buffers back from the backend when it has trained since they were last read.")
	gn.f.Func().Params(model()).Id("pull").Params().Block(
		jen.If(be().Op("==").Nil().Op("||").Op("!").Add(m()).Dot("beNewer").Op("||").Add(m()).Dot("err").Op("!=").Nil()).Block(jen.Return()),
		jen.For(jen.List(jen.Id("_"), jen.Id("t")).Op(":=").Range().Id("persistent")).Block(
			jen.If(jen.Err().Op(":=").Add(be()).Dot("Read").Call(train.Clone(), jen.Id("t").Dot("name"), m().Dot("view").Call(jen.Id("t"))), jen.Err().Op("!=").Nil()).Block(
				m().Dot("err").Op("=").Add(errf("%s on %s: %w", jen.Id("Network"), be().Dot("Name").Call(), jen.Err())),
				jen.Return())),
		m().Dot("beNewer").Op("=").False())
	gn.f.Line()

	gn.comment("fetch reads a buffer that is not persistent back from the backend, for Buffer.")
	gn.f.Func().Params(model()).Id("fetch").Params(jen.Id("t").Id("tensor")).Block(
		jen.If(be().Op("==").Nil().Op("||").Add(m()).Dot("err").Op("!=").Nil()).Block(jen.Return()),
		jen.If(jen.Err().Op(":=").Add(be()).Dot("Read").Call(train.Clone(), jen.Id("t").Dot("name"), m().Dot("view").Call(jen.Id("t"))), jen.Err().Op("!=").Nil()).Block(
			m().Dot("err").Op("=").Add(errf("%s on %s: %w", jen.Id("Network"), be().Dot("Name").Call(), jen.Err()))))
	gn.f.Line()

	var rows []jen.Code
	for _, b := range gn.p.Buffers {
		if !b.Role.Persistent() {
			continue
		}
		if b.DType != plan.F32 || b.Offset[plan.Train] < 0 {
			return fmt.Errorf("gen: the persistent buffer %s is not a float32 buffer of the training program", b.Name)
		}
		rows = append(rows, gn.row(b))
	}
	gn.comment("persistent are the buffers that live across steps (weights, biases, their gradients and momenta), which a model on a backend keeps in step with it.")
	gn.f.Var().Id("persistent").Op("=").Index().Id("tensor").ValuesFunc(func(g *jen.Group) {
		for _, r := range rows {
			g.Add(jen.Line(), r)
		}
		g.Line()
	})
	gn.f.Line()
	return nil
}

// probsIn points probs at the training program's probabilities, where
// they lie elsewhere than the inference program's.
func (gn *generator) probsIn(train jen.Code) jen.Code {
	if !gn.probsMove() {
		return jen.Null()
	}
	return jen.Id("probs").Op("=").Add(train)
}
