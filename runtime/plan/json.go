package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Format names the version of the plan.json schema (docs/plan.md). A plan
// of another version is refused: its fields may mean other things.
const Format = "alexnetc-plan/2"

// JSON returns the plan as plan.json: a fixed field order, one layer,
// buffer, step and launch per line, and the same bytes for the same plan.
func (p *Plan) JSON() ([]byte, error) {
	var b bytes.Buffer
	var err error
	enc := func(v any) []byte {
		out, e := encode(v)
		if e != nil && err == nil {
			err = e
		}
		return out
	}
	field := func(name string, v any) {
		b.WriteString("  " + strconv.Quote(name) + ": ")
		b.Write(enc(v))
		b.WriteString(",\n")
	}
	list := func(indent string, n int, item func(i int) any) {
		for i := range n {
			b.WriteString(indent)
			b.Write(enc(item(i)))
			if i < n-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString("{\n")
	field("format", Format)
	field("network", p.Network)
	field("variant", p.Variant)
	field("source", p.Source)
	field("batch", p.Batch)
	field("keep_all", p.KeepAll)
	var targets []string
	for _, t := range Targets {
		targets = append(targets, t.Name)
	}
	field("targets", targets)
	m := p.Model
	field("model", modelJSON{m.Input, m.Labels, m.Probabilities, m.Loss, m.InputShape, m.Classes, m.Params, m.Rounding, m.GPUs, m.Doc})
	b.WriteString("  \"layers\": [\n")
	list("    ", len(m.Layers), func(i int) any { l := m.Layers[i]; return layerJSON{l.Name, l.Op, l.Out, nonNilInts(l.GPUs)} })
	b.WriteString("  ],\n")
	t := p.Train
	field("train", trainJSON{t.Epochs, t.LR, t.Momentum, t.WeightDecay,
		scheduleJSON{t.Schedule.Kind, t.Schedule.Factor, t.Schedule.MaxDrops, t.Schedule.Patience, nonNilInts(t.Schedule.At)}, t.Seed})
	d := p.Data
	field("data", dataJSON{d.Dataset, d.Path, d.Resize, d.Crop, d.RandomCrop, d.Flip, d.PCALighting, d.Mean})
	field("eval", evalJSON{p.Eval.Views})
	field("module", moduleJSON{p.Module.Hash, p.Module.Functions})
	b.WriteString("  \"devices\": [\n")
	list("    ", len(p.Memory.Devices), func(i int) any {
		dm := p.Memory.Devices[i]
		return deviceJSON{i, dm.Arena, dm.Persistent, perProgram{dm.Transient[Infer], dm.Transient[Train]},
			perProgram{dm.Naive[Infer], dm.Naive[Train]}, Streams}
	})
	b.WriteString("  ],\n  \"kernels\": [\n")
	used := p.cudaKernelsUsed()
	list("    ", len(used), func(i int) any {
		k := used[i]
		return kernelJSON{k.Name, k.Block, k.Shared, k.Consts, k.Args, nonNil(k.Runtime), k.Doc}
	})
	b.WriteString("  ],\n  \"buffers\": [\n")
	list("    ", len(p.Buffers), func(i int) any {
		buf := p.Buffers[i]
		return bufferJSON{buf.ID, buf.Name, buf.Device, string(buf.DType), buf.Shape, string(buf.Role), buf.Layer, buf.Bytes(),
			offsetsOf(buf.Offset), initJSONOf(buf.Init)}
	})
	b.WriteString("  ],\n  \"programs\": [\n")
	for _, prog := range Programs {
		b.WriteString("    {\"name\": " + strconv.Quote(prog.String()) + ", \"events\": " + strconv.Itoa(p.Events(prog)) + ",\n")
		b.WriteString("     \"steps\": [\n")
		steps := p.Steps[prog]
		list("      ", len(steps), func(i int) any { return stepJSONOf(i, steps[i]) })
		b.WriteString("     ],\n     \"launches\": [\n")
		ls := p.Launches[prog]
		list("      ", len(ls), func(i int) any { return launchJSONOf(&ls[i]) })
		b.WriteString("    ]}")
		if prog != Programs[len(Programs)-1] {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("  ]\n}\n")
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return b.Bytes(), nil
}

// cudaKernelsUsed lists the CUDA kernels the plan launches, in the table's
// order.
func (p *Plan) cudaKernelsUsed() []CUDAKernel {
	seen := map[string]bool{}
	for _, ls := range p.Launches {
		for _, l := range ls {
			seen[l.Kernel] = true
		}
	}
	var out []CUDAKernel
	for _, k := range CUDAKernels {
		if seen[k.Name] {
			out = append(out, k)
		}
	}
	return out
}

// encode writes one value as compact JSON, leaving <, > and & as they are
// (notes hold arrows and inequalities).
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilInts(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

type modelJSON struct {
	Input         string `json:"input"`
	Labels        string `json:"labels"`
	Probabilities string `json:"probabilities"`
	Loss          string `json:"loss"`
	InputShape    [3]int `json:"input_shape"`
	Classes       int    `json:"classes"`
	Params        int64  `json:"params"`
	Rounding      string `json:"rounding"`
	GPUs          int    `json:"gpus"`
	Doc           string `json:"doc"`
}

type layerJSON struct {
	Name string `json:"name"`
	Op   string `json:"op"`
	Out  [3]int `json:"out"`
	GPUs []int  `json:"gpus"`
}

type scheduleJSON struct {
	Kind     string  `json:"kind"`
	Factor   float64 `json:"factor"`
	MaxDrops int     `json:"max_drops"`
	Patience int     `json:"patience"`
	At       []int   `json:"at"`
}

type trainJSON struct {
	Epochs      int          `json:"epochs"`
	LR          float64      `json:"lr"`
	Momentum    float64      `json:"momentum"`
	WeightDecay float64      `json:"weight_decay"`
	Schedule    scheduleJSON `json:"schedule"`
	Seed        uint64       `json:"seed"`
}

type dataJSON struct {
	Dataset     string  `json:"dataset"`
	Path        string  `json:"path"`
	Resize      int     `json:"resize"`
	Crop        int     `json:"crop"`
	RandomCrop  bool    `json:"random_crop"`
	Flip        bool    `json:"flip"`
	PCALighting float64 `json:"pca_lighting"`
	Mean        string  `json:"mean"`
}

type evalJSON struct {
	Views int `json:"views"`
}

type moduleJSON struct {
	Hash      string `json:"hash"`
	Functions int    `json:"functions"`
}

type perProgram struct {
	Infer int64 `json:"infer"`
	Train int64 `json:"train"`
}

// offsets holds a buffer's offset per program; null where the program does
// not use it.
type offsets struct {
	Infer *int64 `json:"infer"`
	Train *int64 `json:"train"`
}

func offsetsOf(o [2]int64) offsets {
	var out offsets
	if o[Infer] >= 0 {
		v := o[Infer]
		out.Infer = &v
	}
	if o[Train] >= 0 {
		v := o[Train]
		out.Train = &v
	}
	return out
}

func (o offsets) values() [2]int64 {
	out := [2]int64{-1, -1}
	if o.Infer != nil {
		out[Infer] = *o.Infer
	}
	if o.Train != nil {
		out[Train] = *o.Train
	}
	return out
}

type deviceJSON struct {
	Device         int        `json:"device"`
	Arena          int64      `json:"arena_bytes"`
	Persistent     int64      `json:"persistent_bytes"`
	Transient      perProgram `json:"transient_bytes"`
	NaiveTransient perProgram `json:"transient_bytes_without_reuse"`
	Streams        []Stream   `json:"streams"`
}

type kernelJSON struct {
	Name      string   `json:"name"`
	Block     [3]int   `json:"block"`
	Shared    int      `json:"shared_bytes"`
	Constants []string `json:"constants"`
	Args      []string `json:"args"`
	Runtime   []string `json:"runtime"`
	Doc       string   `json:"doc"`
}

type initJSON struct {
	Kind  string   `json:"kind"`
	Mean  *float64 `json:"mean,omitempty"`
	Std   *float64 `json:"std,omitempty"`
	Low   *float64 `json:"low,omitempty"`
	High  *float64 `json:"high,omitempty"`
	Value *float64 `json:"value,omitempty"`
}

func initJSONOf(in *Init) *initJSON {
	if in == nil {
		return nil
	}
	f := func(v float64) *float64 { return &v }
	switch in.Kind {
	case NormalInit:
		return &initJSON{Kind: in.Kind, Mean: f(in.Mean), Std: f(in.Std)}
	case UniformInit:
		return &initJSON{Kind: in.Kind, Low: f(in.Low), High: f(in.High)}
	}
	return &initJSON{Kind: in.Kind, Value: f(in.Value)}
}

func (j *initJSON) init() (*Init, error) {
	if j == nil {
		return nil, nil
	}
	v := func(p *float64, name string) (float64, error) {
		if p == nil {
			return 0, fmt.Errorf("a %s initialiser needs %s", j.Kind, name)
		}
		return *p, nil
	}
	in := &Init{Kind: j.Kind}
	var errs []error
	get := func(dst *float64, p *float64, name string) {
		x, err := v(p, name)
		*dst = x
		errs = append(errs, err)
	}
	switch j.Kind {
	case NormalInit:
		get(&in.Mean, j.Mean, "mean")
		get(&in.Std, j.Std, "std")
	case UniformInit:
		get(&in.Low, j.Low, "low")
		get(&in.High, j.High, "high")
	case ConstantInit:
		get(&in.Value, j.Value, "value")
	default:
		return nil, fmt.Errorf("unknown initialiser %q (want normal, uniform or constant)", j.Kind)
	}
	return in, errors.Join(errs...)
}

type bufferJSON struct {
	ID     int       `json:"id"`
	Name   string    `json:"name"`
	Device int       `json:"device"`
	DType  string    `json:"dtype"`
	Shape  []int     `json:"shape"`
	Role   string    `json:"role"`
	Layer  string    `json:"layer"`
	Bytes  int64     `json:"bytes"`
	Offset offsets   `json:"offset"`
	Init   *initJSON `json:"init,omitempty"`
}

type operandJSON struct {
	Name   string `json:"name"`
	Buffer string `json:"buffer"`
	Write  bool   `json:"write,omitempty"`
}

type stepJSON struct {
	Index  int           `json:"index"`
	Kernel Kernel        `json:"kernel"`
	Device int           `json:"device"`
	Layer  string        `json:"layer"`
	Attrs  orderedValues `json:"attrs"`
	Args   []operandJSON `json:"args"`
	Note   string        `json:"note"`
}

func stepJSONOf(i int, s *Step) stepJSON {
	j := stepJSON{Index: i, Kernel: s.Kernel, Device: s.Device, Layer: s.Layer, Attrs: orderedValues(s.Attrs), Note: s.Note}
	for _, a := range s.Args {
		j.Args = append(j.Args, operandJSON{a.Name, a.Buf.Name, a.Write})
	}
	return j
}

type launchJSON struct {
	Index     int           `json:"index"`
	Kind      Kind          `json:"kind"`
	Kernel    string        `json:"kernel,omitempty"`
	Func      string        `json:"func,omitempty"`
	Device    int           `json:"device"`
	Stream    Stream        `json:"stream"`
	Grid      *[3]int       `json:"grid,omitempty"`
	Block     *[3]int       `json:"block,omitempty"`
	Shared    *int          `json:"shared_bytes,omitempty"`
	Constants orderedValues `json:"constants,omitempty"`
	Runtime   []string      `json:"runtime,omitempty"`
	Args      []argJSON     `json:"args,omitempty"`
	Event     *int          `json:"event,omitempty"`
	Loop      int           `json:"loop,omitempty"`
	Count     int           `json:"count,omitempty"`
	Step      int           `json:"step"`
	Layer     string        `json:"layer,omitempty"`
	Note      string        `json:"note"`
}

type argJSON struct {
	Name    string      `json:"name"`
	Buffer  string      `json:"buffer"`
	Device  int         `json:"device"`
	Offset  int64       `json:"offset"`
	Bytes   int64       `json:"bytes"`
	Access  Access      `json:"access"`
	Region  *regionJSON `json:"region,omitempty"`
	Advance int64       `json:"advance,omitempty"`
}

type regionJSON struct {
	Start    int64 `json:"start"`
	Rows     int64 `json:"rows"`
	RowBytes int64 `json:"row_bytes"`
	Pitch    int64 `json:"pitch"`
}

func launchJSONOf(l *Launch) launchJSON {
	o := launchJSON{Index: l.Index, Kind: l.Kind, Kernel: l.Kernel, Func: l.Func, Device: l.Device, Stream: l.Stream,
		Constants: orderedValues(l.Constants), Runtime: l.Runtime, Step: l.Step, Layer: l.Layer, Note: l.Note}
	switch l.Kind {
	case KernelLaunch:
		o.Grid, o.Block, o.Shared = &l.Grid, &l.Block, &l.SharedBytes
	case RecordEvent, WaitEvent:
		o.Event = &l.Event
	}
	if l.Loop > 0 {
		o.Loop, o.Count = l.Loop, l.Count
	}
	for _, a := range l.Args {
		ao := argJSON{Name: a.Name, Buffer: a.Buffer, Device: a.Device, Offset: a.Offset, Bytes: a.Bytes, Access: a.Access, Advance: a.Advance}
		if a.Start != 0 || a.Rows != 1 || a.RowBytes != a.Bytes {
			ao.Region = &regionJSON{a.Start, a.Rows, a.RowBytes, a.Pitch}
		}
		o.Args = append(o.Args, ao)
	}
	return o
}

// orderedValues encode as one object in order. Floats always show a point
// or an exponent, so that a reader tells them from integers (Value.Text).
type orderedValues Values

func (vs orderedValues) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range vs {
		if math.IsNaN(v.V) || math.IsInf(v.V, 0) {
			return nil, fmt.Errorf("%s = %v has no JSON form", v.Name, v.V)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(v.Name) + ":" + v.Text())
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

func (vs *orderedValues) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("want an object of numbers")
	}
	*vs = nil
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		t, err = dec.Token()
		if err != nil {
			return err
		}
		n, ok := t.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want a number, found %v", name, t)
		}
		s := string(n)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		isFloat := strings.ContainsAny(s, ".eE")
		if isFloat {
			// Attributes are float32s, written as the shortest decimal
			// that reads back as the same float32.
			if f, err = strconv.ParseFloat(s, 32); err != nil {
				return fmt.Errorf("%s = %s is not a float32: %v", name, s, err)
			}
		}
		switch {
		case !isFloat && math.Abs(f) > 1<<53:
			return fmt.Errorf("%s = %s is too large", name, s)
		}
		*vs = append(*vs, Value{Name: name, V: f, Float: isFloat})
	}
	_, err := dec.Token()
	return err
}

// planJSON is plan.json as it is read.
type planJSON struct {
	Format   string        `json:"format"`
	Network  string        `json:"network"`
	Variant  string        `json:"variant"`
	Source   string        `json:"source"`
	Batch    int           `json:"batch"`
	KeepAll  bool          `json:"keep_all"`
	Targets  []string      `json:"targets"`
	Model    modelJSON     `json:"model"`
	Layers   []layerJSON   `json:"layers"`
	Train    trainJSON     `json:"train"`
	Data     dataJSON      `json:"data"`
	Eval     evalJSON      `json:"eval"`
	Module   moduleJSON    `json:"module"`
	Devices  []deviceJSON  `json:"devices"`
	Kernels  []kernelJSON  `json:"kernels"`
	Buffers  []bufferJSON  `json:"buffers"`
	Programs []programJSON `json:"programs"`
}

type programJSON struct {
	Name     string       `json:"name"`
	Events   int          `json:"events"`
	Steps    []stepJSON   `json:"steps"`
	Launches []launchJSON `json:"launches"`
}

// Decode reads plan.json. It refuses another format version, unknown
// fields, references to buffers that do not exist, and a plan that fails
// Verify: a plan read back is either the plan that was written or an
// error, never something in between.
func Decode(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var head struct {
		Format *string `json:"format"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field == "":
			return nil, fmt.Errorf("not a plan.json: it holds a JSON %s, not an object", te.Value)
		case errors.As(err, &te):
			return nil, fmt.Errorf("not a plan.json: its %q field is a JSON %s, not a string", te.Field, te.Value)
		}
		return nil, fmt.Errorf("not a plan.json: %v", syntaxError(data, err))
	}
	switch {
	case head.Format == nil:
		return nil, errors.New("not a plan.json: it has no \"format\" field")
	case *head.Format != Format:
		return nil, fmt.Errorf("plan format %q, but this alexnetc reads %q; compile the spec again with this alexnetc (alexnetc compile SPEC -o DIR)",
			*head.Format, Format)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j planJSON
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("malformed plan: %v", syntaxError(data, err))
	}
	p, err := j.plan()
	if err != nil {
		return nil, fmt.Errorf("malformed plan: %v", err)
	}
	if probs := Verify(p); len(probs) > 0 {
		more := ""
		if len(probs) > 1 {
			more = fmt.Sprintf(" (and %d more problems)", len(probs)-1)
		}
		return nil, fmt.Errorf("the plan fails verification: %v%s", probs[0], more)
	}
	return p, nil
}

// syntaxError adds the line of a JSON syntax error.
func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	return fmt.Errorf("line %d: %v", bytes.Count(data[:off], []byte("\n"))+1, err)
}

func (j *planJSON) plan() (*Plan, error) {
	if j.Batch <= 0 {
		return nil, fmt.Errorf("batch %d", j.Batch)
	}
	p := &Plan{Network: j.Network, Variant: j.Variant, Source: j.Source, Batch: j.Batch, KeepAll: j.KeepAll,
		Module: Module{j.Module.Hash, j.Module.Functions}}
	m := j.Model
	p.Model = Model{Input: m.Input, Labels: m.Labels, Probabilities: m.Probabilities, Loss: m.Loss, InputShape: m.InputShape,
		Classes: m.Classes, Params: m.Params, Rounding: m.Rounding, GPUs: m.GPUs, Doc: m.Doc}
	for _, l := range j.Layers {
		if OpNamed(l.Op) == nil {
			return nil, fmt.Errorf("layer %q has op %q, which is not in this alexnetc's op table", l.Name, l.Op)
		}
		p.Model.Layers = append(p.Model.Layers, Layer{l.Name, l.Op, l.Out, l.GPUs})
	}
	t := j.Train
	p.Train = Training{Epochs: t.Epochs, LR: t.LR, Momentum: t.Momentum, WeightDecay: t.WeightDecay, Seed: t.Seed,
		Schedule: Schedule{t.Schedule.Kind, t.Schedule.Factor, t.Schedule.MaxDrops, t.Schedule.Patience, t.Schedule.At}}
	if len(p.Train.Schedule.At) == 0 {
		p.Train.Schedule.At = nil
	}
	switch p.Train.Schedule.Kind {
	case Plateau, StepSchedule, ConstantRate:
	default:
		return nil, fmt.Errorf("schedule %q (want plateau, steps or constant)", p.Train.Schedule.Kind)
	}
	d := j.Data
	p.Data = Data{d.Dataset, d.Path, d.Resize, d.Crop, d.RandomCrop, d.Flip, d.PCALighting, d.Mean}
	p.Eval = Eval{j.Eval.Views}
	for i, dj := range j.Devices {
		if dj.Device != i {
			return nil, fmt.Errorf("device %d at position %d", dj.Device, i)
		}
		p.Memory.Devices = append(p.Memory.Devices, DeviceMemory{Persistent: dj.Persistent, Arena: dj.Arena,
			Transient: [2]int64{dj.Transient.Infer, dj.Transient.Train}, Naive: [2]int64{dj.NaiveTransient.Infer, dj.NaiveTransient.Train}})
	}
	byName := map[string]*Buffer{}
	for i, bj := range j.Buffers {
		b := &Buffer{ID: bj.ID, Name: bj.Name, Device: bj.Device, Shape: bj.Shape, DType: DType(bj.DType), Role: Role(bj.Role),
			Layer: bj.Layer, Offset: bj.Offset.values()}
		switch {
		case bj.ID != i:
			return nil, fmt.Errorf("buffer %q has id %d at position %d", bj.Name, bj.ID, i)
		case byName[bj.Name] != nil:
			return nil, fmt.Errorf("two buffers are named %q", bj.Name)
		case b.DType != F32 && b.DType != I32 && b.DType != U8:
			return nil, fmt.Errorf("buffer %q has element type %q", bj.Name, bj.DType)
		case !knownRole(b.Role):
			return nil, fmt.Errorf("buffer %q has role %q", bj.Name, bj.Role)
		case b.Device < 0 || b.Device >= len(p.Memory.Devices):
			return nil, fmt.Errorf("buffer %q is on device %d, which the plan does not have", bj.Name, bj.Device)
		}
		for _, n := range b.Shape {
			if n <= 0 {
				return nil, fmt.Errorf("buffer %q has shape %v", bj.Name, b.Shape)
			}
		}
		if b.Bytes() != bj.Bytes {
			return nil, fmt.Errorf("buffer %q of shape %v has %d bytes, not %d", bj.Name, b.Shape, b.Bytes(), bj.Bytes)
		}
		var err error
		if b.Init, err = bj.Init.init(); err != nil {
			return nil, fmt.Errorf("buffer %q: %v", bj.Name, err)
		}
		byName[b.Name] = b
		p.Buffers = append(p.Buffers, b)
	}
	if len(j.Programs) != len(Programs) {
		return nil, fmt.Errorf("%d programs; a plan has %d", len(j.Programs), len(Programs))
	}
	for _, prog := range Programs {
		pj := j.Programs[prog]
		if pj.Name != prog.String() {
			return nil, fmt.Errorf("program %d is %q, not %q", prog, pj.Name, prog)
		}
		for i, sj := range pj.Steps {
			if sj.Index != i {
				return nil, fmt.Errorf("%s: step %d at position %d", prog, sj.Index, i)
			}
			s := &Step{Kernel: sj.Kernel, Device: sj.Device, Layer: sj.Layer, Attrs: Values(sj.Attrs), Note: sj.Note}
			for _, a := range sj.Args {
				b := byName[a.Buffer]
				if b == nil {
					return nil, fmt.Errorf("%s: step %d passes %q, which is no buffer of the plan", prog, i, a.Buffer)
				}
				s.Args = append(s.Args, Operand{a.Name, b, a.Write})
			}
			p.Steps[prog] = append(p.Steps[prog], s)
		}
		for i, lj := range pj.Launches {
			l, err := lj.launch(i)
			if err != nil {
				return nil, fmt.Errorf("%s: launch %d: %v", prog, i, err)
			}
			if isWork(l.Kind) && (l.Step < 0 || l.Step >= len(p.Steps[prog])) {
				return nil, fmt.Errorf("%s: launch %d belongs to step %d, which the program does not have", prog, i, l.Step)
			}
			p.Launches[prog] = append(p.Launches[prog], l)
		}
		if p.Events(prog) != pj.Events {
			return nil, fmt.Errorf("%s: %d events recorded, the program says %d", prog, p.Events(prog), pj.Events)
		}
	}
	return p, nil
}

func knownRole(r Role) bool {
	for _, k := range Roles {
		if k == r {
			return true
		}
	}
	return false
}

func (lj *launchJSON) launch(i int) (Launch, error) {
	if lj.Index != i {
		return Launch{}, fmt.Errorf("has index %d", lj.Index)
	}
	l := Launch{Index: lj.Index, Kind: lj.Kind, Kernel: lj.Kernel, Func: lj.Func, Device: lj.Device, Stream: lj.Stream,
		Constants: Values(lj.Constants), Runtime: lj.Runtime, Loop: lj.Loop, Count: max(lj.Count, 1), Step: lj.Step,
		Layer: lj.Layer, Note: lj.Note}
	switch l.Kind {
	case KernelLaunch:
		if lj.Grid == nil || lj.Block == nil || lj.Shared == nil {
			return l, errors.New("a kernel launch needs grid, block and shared_bytes")
		}
		l.Grid, l.Block, l.SharedBytes = *lj.Grid, *lj.Block, *lj.Shared
	case RecordEvent, WaitEvent:
		if lj.Event == nil {
			return l, errors.New("an event launch needs its event")
		}
		l.Event = *lj.Event
	case CopyLaunch:
	default:
		return l, fmt.Errorf("unknown kind %q", l.Kind)
	}
	for _, a := range lj.Args {
		arg := Arg{Name: a.Name, Buffer: a.Buffer, Device: a.Device, Offset: a.Offset, Bytes: a.Bytes, Access: a.Access,
			Start: 0, Rows: 1, RowBytes: a.Bytes, Pitch: a.Bytes, Advance: a.Advance}
		if a.Region != nil {
			arg.Start, arg.Rows, arg.RowBytes, arg.Pitch = a.Region.Start, a.Region.Rows, a.Region.RowBytes, a.Region.Pitch
		}
		l.Args = append(l.Args, arg)
	}
	return l, nil
}
