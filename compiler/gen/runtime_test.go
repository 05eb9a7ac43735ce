package gen_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/generated/fashion"
	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/runtime/safetensors"
	"github.com/alexnetc/alexnetc/spec"
)

// fashionEngine is the CPU engine for the plan generated/fashion was
// compiled from: examples/fashion.toml at its own batch.
func fashionEngine(t *testing.T, seed uint64) *engine.Engine {
	t.Helper()
	const path = "../../examples/fashion.toml"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse(path, src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	p, err := compiler.CompileSpec(s, "", compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Batch != fashion.Batch || p.Devices() != fashion.Devices ||
		p.Memory.Devices[0].Arena != fashion.Device0ArenaBytes || p.Memory.Devices[1].Arena != fashion.Device1ArenaBytes {
		t.Fatalf("the spec compiles to batch %d on %d devices (arenas %v), generated/fashion has %d on %d: run make generate",
			p.Batch, p.Devices(), p.Memory, fashion.Batch, fashion.Devices)
	}
	return engine.New(p, seed)
}

// sameBits fails unless a and b hold the same float32 bit patterns (a is
// the generated model's, b what it must equal).
func sameBits(t *testing.T, what string, a, b []float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d and %d values", what, len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("%s[%d]: %v, want %v", what, i, a[i], b[i])
		}
	}
}

// feed writes the same pseudo-random images and labels into the model and,
// unless e is nil, into the engine's layout of the program about to run.
func feed(m *fashion.Model, e *engine.Engine, prog plan.Program, seed uint64) {
	r := cpu.NewRNG(seed, 7)
	x := m.Input()
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	labels := m.Labels()
	for i := range labels {
		labels[i] = int32(r.Uint32() % fashion.Classes)
	}
	if e == nil {
		return
	}
	copy(e.F32(prog, "data"), x)
	if e.Uses(prog, "labels") {
		copy(e.I32(prog, "labels"), labels)
	}
}

// TestGeneratedMatchesEngine runs the generated fashion model and the CPU
// engine side by side from the same seed: the same initial weights, then
// inference, two training steps (dropout masks, momentum and all) and
// inference again, with every float32 buffer of the training program
// compared bit for bit. Both make the same kernel calls in the same order,
// so nothing may differ.
func TestGeneratedMatchesEngine(t *testing.T) {
	const seed = 3
	matchEngine(t, fashionEngine(t, seed), seed)
}

// TestEmbeddedPlan checks Plan, the plan.json embedded in the generated
// package: it is the plan the code was generated from, so that the engine
// running it computes what the generated model does, bit for bit.
func TestEmbeddedPlan(t *testing.T) {
	p, err := fashion.Plan()
	if err != nil && strings.Contains(err.Error(), "is not a float32") {
		// runtime/plan writes a float32 attribute as its shortest float32
		// text and reads it back as a float64: a bug of the plan's decoder.
		t.Skipf("the embedded plan does not decode: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if p.Network != fashion.Network || p.Batch != fashion.Batch || p.Devices() != fashion.Devices {
		t.Fatalf("the embedded plan is %s at batch %d on %d devices", p.Network, p.Batch, p.Devices())
	}
	const seed = 4
	matchEngine(t, engine.New(p, seed), seed)
}

// matchEngine runs the generated fashion model and an engine of its plan
// side by side, as TestGeneratedMatchesEngine says.
func matchEngine(t *testing.T, e *engine.Engine, seed uint64) {
	t.Helper()
	e.Init(seed)
	m := fashion.New()
	m.Init(seed)
	p := e.Plan
	for _, b := range p.Params() {
		sameBits(t, "initial "+b.Name, m.Weight(b.Name), e.F32(plan.Train, b.Name))
	}

	feed(m, e, plan.Infer, 1)
	m.Infer()
	e.Run(plan.Infer)
	sameBits(t, "inference probabilities", m.Probabilities(), e.F32(plan.Infer, p.Model.Probabilities))

	for step, lr := range []float32{0.01, 0.005} {
		feed(m, e, plan.Train, uint64(10+step))
		loss := m.TrainStep(lr)
		e.LR = lr
		e.Run(plan.Train)
		if math.Float64bits(loss) != math.Float64bits(e.Loss) || math.IsNaN(loss) {
			t.Fatalf("step %d: loss %v generated, %v engine", step, loss, e.Loss)
		}
		sameBits(t, "training probabilities", m.Probabilities(), e.F32(plan.Train, p.Model.Probabilities))
		sameBits(t, "loss buffer", m.Buffer(p.Model.Loss), e.F32(plan.Train, p.Model.Loss))
		if got := m.Buffer(p.Model.Loss)[0]; got != float32(loss) {
			t.Errorf("step %d: the loss buffer holds %v, TrainStep returned %v", step, got, loss)
		}
		compared := 0
		for _, b := range p.Buffers {
			if b.DType == plan.F32 && e.Uses(plan.Train, b.Name) {
				compared++
				sameBits(t, b.Name, m.Buffer(b.Name), e.F32(plan.Train, b.Name))
			}
		}
		if compared < 100 {
			t.Fatalf("compared only %d buffers", compared)
		}
	}

	feed(m, e, plan.Infer, 2)
	m.Infer()
	e.Run(plan.Infer)
	sameBits(t, "inference probabilities after training", m.Probabilities(), e.F32(plan.Infer, p.Model.Probabilities))
	var sum float64
	for _, p := range m.Probabilities() {
		sum += float64(p)
	}
	if math.Abs(sum-fashion.Batch) > 1e-3 {
		t.Errorf("probabilities sum to %v over the batch, want %d", sum, fashion.Batch)
	}
}

// TestGeneratedWeightFiles saves the generated model's weights, checks the
// file's names, shapes and metadata, loads it into a fresh model, and checks
// that Load refuses a file that does not fit without changing anything.
func TestGeneratedWeightFiles(t *testing.T) {
	m := fashion.New()
	m.Init(5)
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{
		"conv1.gpu0.weight": {16, 1, 5, 5}, "conv1.gpu1.bias": {16},
		"conv3.gpu1.weight": {48, 64, 3, 3}, // reads both GPUs' halves of pool2
		"fc5.gpu0.weight":   {256, 576},
		"fc6.weight":        {10, 512}, "fc6.bias": {10}, // one part: no .gpuN
	}
	for name, shape := range want {
		tensor, ok := f.Get(name)
		if !ok {
			t.Errorf("no tensor %q", name)
			continue
		}
		if !slicesEqual(tensor.Shape, shape) {
			t.Errorf("%s: shape %v, want %v", name, tensor.Shape, shape)
		}
	}
	if len(f.Tensors) != len(m.Params()) {
		t.Errorf("%d tensors for %d parameters", len(f.Tensors), len(m.Params()))
	}
	if f.Metadata["network"] != "fashion" || f.Metadata["format"] != "alexnetc" || f.Metadata["variant"] != "" {
		t.Errorf("metadata %v", f.Metadata)
	}
	var count int
	for _, w := range m.Params() {
		count += len(w)
	}
	if count != fashion.ParamCount {
		t.Errorf("%d parameters, ParamCount says %d", count, fashion.ParamCount)
	}

	m2 := fashion.New()
	if err := m2.Load(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	for name, w := range m.Params() {
		sameBits(t, name, m2.Weight(name), w)
	}
	var again bytes.Buffer
	if err := m2.Save(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("saving loaded weights gives different bytes")
	}

	// A file with a tensor renamed and one of the wrong shape: Load names
	// both problems and leaves the model as it was.
	for i := range f.Tensors {
		switch f.Tensors[i].Name {
		case "fc6.bias":
			f.Tensors[i].Name = "fc6.b"
		case "fc6.weight":
			f.Tensors[i] = safetensors.FromFloat32("fc6.weight", []int{512, 10}, make([]float32, 5120))
		}
	}
	var bad bytes.Buffer
	if err := safetensors.Write(&bad, f); err != nil {
		t.Fatal(err)
	}
	m3 := fashion.New()
	err = m3.Load(&bad)
	if err == nil {
		t.Fatal("Load accepted a file with a missing tensor")
	}
	for _, want := range []string{`no tensor "fc6.bias"`, `unexpected tensor "fc6.b"`, `"fc6.weight" has shape [512 10], want [10 512]`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load error lacks %q:\n%v", want, err)
		}
	}
	for name, w := range m3.Params() {
		for _, v := range w {
			if v != 0 {
				t.Fatalf("a failed Load changed %s", name)
			}
		}
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGeneratedInit checks Init against examples/fashion.toml: conv2's
// biases are 0.1, conv1's 0, fc5's weights N(0, 0.06²), momenta zero, and
// the same seed gives the same model.
func TestGeneratedInit(t *testing.T) {
	m := fashion.New()
	m.Init(9)
	for _, v := range m.Weight("conv2.gpu1.bias") {
		if v != 0.1 {
			t.Fatalf("conv2 bias %v, want 0.1", v)
		}
	}
	for _, v := range m.Weight("conv1.gpu0.bias") {
		if v != 0 {
			t.Fatalf("conv1 bias %v, want 0", v)
		}
	}
	w := m.Weight("fc5.gpu0.weight")
	var s, s2 float64
	for _, v := range w {
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	mean, std := s/float64(len(w)), math.Sqrt(s2/float64(len(w)))
	if math.Abs(mean) > 2e-3 || math.Abs(std-0.06) > 2e-3 {
		t.Errorf("fc5 weights: mean %g, std %g; want N(0, 0.06²)", mean, std)
	}
	feed(m, nil, plan.Train, 1)
	m.TrainStep(0.01)
	m.Init(9)
	for _, v := range m.Buffer("fc5.gpu0.weight.momentum") {
		if v != 0 {
			t.Fatal("Init left a momentum")
		}
	}
	m2 := fashion.New()
	m2.Init(9)
	for name, w := range m2.Params() {
		sameBits(t, name, m.Weight(name), w)
	}
	if m.Weight("no.such.weight") != nil || m.Buffer("no.such.buffer") != nil {
		t.Error("an unknown name gives a buffer")
	}
}

// failing is a backend whose runs fail.
type failing struct{ engine.CPU }

func (failing) Run(plan.Program) error { return errors.New("the device fell over") }

// TestGeneratedOnBackend runs the generated fashion model twice side by
// side: once with its own calls (New) and once on the CPU engine as a
// device.Backend (NewOn), the way it runs on a GPU. Inference, training
// steps, every buffer read back, a weight changed through its view, Save
// and Load must all agree bit for bit.
func TestGeneratedOnBackend(t *testing.T) {
	const seed = 6
	p := fashionEngine(t, seed).Plan
	mb, err := fashion.NewOn(engine.NewCPU(p, seed))
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	mh := fashion.New()
	if mh.Backend() != nil || mb.Backend() == nil || mb.Backend().Name() != "cpu" {
		t.Fatal("Backend: the wrong backends")
	}
	for _, m := range []*fashion.Model{mh, mb} {
		m.Init(seed)
	}
	both := func(what string, f func(m *fashion.Model) []float32) {
		t.Helper()
		sameBits(t, what, f(mb), f(mh))
	}
	feed(mh, nil, plan.Infer, 1)
	feed(mb, nil, plan.Infer, 1)
	mh.Infer()
	mb.Infer()
	both("inference probabilities", (*fashion.Model).Probabilities)

	train := func(step int) {
		t.Helper()
		feed(mh, nil, plan.Train, uint64(20+step))
		feed(mb, nil, plan.Train, uint64(20+step))
		lh, lb := mh.TrainStep(0.01), mb.TrainStep(0.01)
		if math.Float64bits(lh) != math.Float64bits(lb) || math.IsNaN(lb) {
			t.Fatalf("step %d: loss %v on the backend, %v without (%v)", step, lb, lh, mb.Err())
		}
	}
	for step := range 2 {
		train(step)
		both("training probabilities", (*fashion.Model).Probabilities)
		for _, b := range p.Buffers {
			if b.DType == plan.F32 && b.Offset[plan.Train] >= 0 {
				both(b.Name, func(m *fashion.Model) []float32 { return m.Buffer(b.Name) })
			}
		}
	}

	// A weight changed through its view reaches the backend.
	for _, m := range []*fashion.Model{mh, mb} {
		for i, w := range m.Weight("fc6.weight") {
			m.Weight("fc6.weight")[i] = w * float32(1+i%3)
		}
	}
	feed(mh, nil, plan.Infer, 2)
	feed(mb, nil, plan.Infer, 2)
	mh.Infer()
	mb.Infer()
	both("probabilities after a change of fc6.weight", (*fashion.Model).Probabilities)

	// Save reads the trained weights back; Load sends them to the backend.
	var sh, sb bytes.Buffer
	if err := mh.Save(&sh); err != nil {
		t.Fatal(err)
	}
	train(2)
	if err := mb.Save(&sb); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*fashion.Model{mh, mb} {
		if err := m.Load(bytes.NewReader(sh.Bytes())); err != nil {
			t.Fatal(err)
		}
	}
	mh.Infer()
	mb.Infer()
	both("probabilities after Load", (*fashion.Model).Probabilities)
	var again bytes.Buffer
	if err := mb.Save(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), sh.Bytes()) || bytes.Equal(sb.Bytes(), sh.Bytes()) {
		t.Error("Save on the backend does not give what was loaded, or training changed nothing")
	}
	if err := mb.Err(); err != nil {
		t.Fatal(err)
	}

	// A backend of another plan is refused; one that fails stops the model.
	other := fashionEngine(t, seed).Plan
	other.Batch++
	if _, err := fashion.NewOn(engine.NewCPU(other, seed)); err == nil || !strings.Contains(err.Error(), "runs another plan") {
		t.Errorf("a backend of another plan: error %v", err)
	}
	mf, err := fashion.NewOn(failing{engine.NewCPU(p, seed)})
	if err != nil {
		t.Fatal(err)
	}
	if loss := mf.TrainStep(0.01); !math.IsNaN(loss) || mf.Err() == nil || !strings.Contains(mf.Err().Error(), "the device fell over") {
		t.Errorf("a failing backend: loss %v, error %v", loss, mf.Err())
	}
}
