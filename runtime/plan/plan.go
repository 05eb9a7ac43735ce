// Package plan is the seam between alexnetc's compiler and its runtime: the
// types of a compiled network (buffers, arenas and offsets, programs of
// steps, the CUDA launches with their copies, streams and events, and the
// settings a run needs), the op table that says what every kind of layer
// and step is, the plan's versioned JSON form (plan.json), and its verifier.
//
// It is a leaf: it imports nothing of alexnetc. The compiler produces a
// Plan; every runtime package consumes only a Plan, whether it was built in
// the same process or read back from plan.json.
package plan

import "fmt"

// Plan is a compiled network: everything a backend needs to run it, and
// everything training, evaluation and prediction need besides the data.
type Plan struct {
	Network string // the spec's network name
	Variant string // the variant compiled; "" for the base network
	Source  string // the spec it was compiled from, as the compiler was given it
	Batch   int    // images per step
	Model   Model
	Train   Training
	Data    Data
	Eval    Eval

	Buffers []*Buffer
	// Steps[program] is the program's steps, in order.
	Steps [2][]*Step
	// Launches[program] is the program's CUDA launch plan, in issue order:
	// each step's launches together, the events between them.
	Launches [2][]Launch
	Memory   Memory
	// KeepAll: the memory plan keeps every buffer alive through its whole
	// program, so that every layer's output can be read after a run (for
	// debugging, and the tests that compare each layer with PyTorch). It
	// costs memory, and no LRN and pooling run as one pass.
	KeepAll bool
	// Module names the CUDA module the launches call (cudagen fills it
	// in); the launches name its functions.
	Module Module
}

// Program selects one of a plan's programs.
type Program int

// The programs of a plan.
const (
	Infer Program = iota // forward pass, dropout at test scale, softmax probabilities
	Train                // forward pass, loss, backward pass and SGD update
)

// Programs lists every program.
var Programs = []Program{Infer, Train}

func (p Program) String() string {
	if p == Infer {
		return "infer"
	}
	return "train"
}

// Devices is the number of devices (arenas) the plan runs on.
func (p *Plan) Devices() int { return len(p.Memory.Devices) }

// Model says what the host reads and writes, and what the network is.
type Model struct {
	Input         string  // the images' buffer, N×C×H×W, written by the host
	Labels        string  // the labels' buffer, N int32 class indices
	Probabilities string  // the softmax's output, N×Classes, read by the host
	Loss          string  // the training step's loss, one float32
	InputShape    [3]int  // C, H, W of one image
	Classes       int     // outputs of the softmax
	Params        int64   // learned weights and biases
	Layers        []Layer // every layer after the input, in order
	Rounding      string  // "floor" or "ceil", as the spec says
	GPUs          int     // the spec's GPUs (Devices is 1 when they were folded into one)
	Doc           string  // the spec's [network] doc
}

// Layer is one layer of the network as the plan records it: enough to
// print it, name its tensors and find its parts.
type Layer struct {
	Name string
	Op   string // the op table's name: conv, fc, lrn, ...
	Out  [3]int // C, H, W of one image's output
	GPUs []int  // the GPUs that hold a part of it
}

// Layer returns the layer with the given name, or nil.
func (m *Model) Layer(name string) *Layer {
	for i := range m.Layers {
		if m.Layers[i].Name == name {
			return &m.Layers[i]
		}
	}
	return nil
}

// Training holds the training settings (paper §5).
type Training struct {
	Epochs      int
	LR          float64
	Momentum    float64
	WeightDecay float64
	Schedule    Schedule
	Seed        uint64
}

// Schedule is the learning rate's rule.
type Schedule struct {
	Kind     string  // "plateau", "steps" or "constant"
	Factor   float64 // what the rate is multiplied by at a drop
	MaxDrops int     // plateau: at most this many drops
	Patience int     // plateau: epochs without improvement before a drop
	At       []int   // steps: the epochs after which the rate drops
}

// The schedule kinds.
const (
	Plateau       = "plateau"
	StepSchedule  = "steps"
	ConstantRate  = "constant"
	NormalInit    = "normal"
	UniformInit   = "uniform"
	ConstantInit  = "constant"
	MeanNone      = "none"
	MeanPixel     = "pixel"
	MeanChannel   = "channel"
	RoundingFloor = "floor"
	RoundingCeil  = "ceil"
)

// Data holds where images come from and how they are augmented (§4.1).
type Data struct {
	Dataset     string
	Path        string
	Resize      int
	Crop        int // the side of the patch the network sees; the input's height
	RandomCrop  bool
	Flip        bool
	PCALighting float64
	Mean        string // "none", "pixel" or "channel"
}

// Eval holds the evaluation settings.
type Eval struct {
	Views int // 1 (centre crop) or 10
}

// Init is an initialiser of a weight or bias.
type Init struct {
	Kind  string // "normal", "uniform" or "constant"
	Mean  float64
	Std   float64
	Low   float64
	High  float64
	Value float64
}

func (in *Init) String() string {
	switch in.Kind {
	case NormalInit:
		return fmt.Sprintf("normal(mean=%g, std=%g)", in.Mean, in.Std)
	case UniformInit:
		return fmt.Sprintf("uniform(low=%g, high=%g)", in.Low, in.High)
	}
	return fmt.Sprintf("constant(%g)", in.Value)
}

// DType is the element type of a buffer.
type DType string

// The element types buffers use.
const (
	F32 DType = "f32"
	I32 DType = "i32"
	U8  DType = "u8"
)

// Size is the size of one element in bytes.
func (d DType) Size() int64 {
	if d == U8 {
		return 1
	}
	return 4
}

// Role says what a buffer holds, which decides how long it must live.
type Role string

// Buffer roles. Weights, biases, their gradients and momenta persist across
// steps; the others live only within one run of a program.
const (
	Input      Role = "input"      // the images, written by the host
	Label      Role = "label"      // the class of each image, written by the host
	Weight     Role = "weight"     // learned weights
	Bias       Role = "bias"       // learned biases
	ParamGrad  Role = "param_grad" // gradient of a weight or bias
	Momentum   Role = "momentum"   // SGD momentum of a weight or bias
	Activation Role = "activation" // a layer part's output, or a gathered input
	Grad       Role = "grad"       // gradient of an activation
	Saved      Role = "saved"      // what backward needs besides activations: argmax, dropout mask
	Scratch    Role = "scratch"    // kernel scratch space, one per device
	Output     Role = "output"     // softmax probabilities and the loss, read by the host
)

// Roles lists every role.
var Roles = []Role{Input, Label, Weight, Bias, ParamGrad, Momentum, Activation, Grad, Saved, Scratch, Output}

// Persistent reports whether buffers of the role live across steps.
func (r Role) Persistent() bool {
	return r == Weight || r == Bias || r == ParamGrad || r == Momentum
}

// Pinned reports whether buffers of the role keep one place for every
// program: what persists, and what the host writes and reads (images,
// labels, probabilities, the loss), so that an image written once can be
// both classified and trained on.
func (r Role) Pinned() bool {
	return r.Persistent() || r == Input || r == Label || r == Output
}

// Buffer is a tensor on one device.
type Buffer struct {
	ID     int
	Name   string // e.g. "conv1.gpu0.out"; weights are named as in weight files
	Device int
	Shape  []int // leading dimension is the batch for activations
	DType  DType
	Role   Role
	Layer  string // the spec layer it belongs to; "" for scratch and inputs
	// Offset[program] is the byte offset in its device's arena, or -1 where
	// the program does not use it.
	Offset [2]int64
	// Init is the initialiser of a weight or bias; nil otherwise.
	Init *Init
}

// Elems is the number of elements.
func (b *Buffer) Elems() int64 {
	n := int64(1)
	for _, d := range b.Shape {
		n *= int64(d)
	}
	return n
}

// Bytes is the size in bytes.
func (b *Buffer) Bytes() int64 { return b.Elems() * b.DType.Size() }

func (b *Buffer) String() string { return fmt.Sprintf("%s%v@%d", b.Name, b.Shape, b.Device) }

// Step is one kernel of the op table called with fixed attributes on one
// device.
type Step struct {
	Kernel Kernel // the op table's kernel, e.g. conv.forward
	Device int    // where it runs; for a copy, the destination device
	Layer  string // the spec layer it belongs to; "" for the image's copies
	Attrs  Values // the kernel's attributes (sizes and factors), in the kernel's order
	Args   []Operand
	Note   string // what the step does in the spec's words, for comments
}

// Operand is one buffer a step reads or writes, under the kernel's name for
// it.
type Operand struct {
	Name  string // the kernel's parameter name: x, w, b, y, dy, dx, ...
	Buf   *Buffer
	Write bool
}

// Arg returns the buffer passed under the name, or nil.
func (s *Step) Arg(name string) *Buffer {
	for _, a := range s.Args {
		if a.Name == name {
			return a.Buf
		}
	}
	return nil
}

// Transfer reports whether a copy step moves data between devices, and the
// source device.
func (s *Step) Transfer() (from int, ok bool) {
	if s.Kernel != Copy {
		return 0, false
	}
	src := s.Arg("src")
	return src.Device, src.Device != s.Device
}

// Buffer returns the buffer with the given name, or nil.
func (p *Plan) Buffer(name string) *Buffer {
	for _, b := range p.Buffers {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Params returns the learned buffers (weights and biases) in order.
func (p *Plan) Params() []*Buffer {
	var out []*Buffer
	for _, b := range p.Buffers {
		if b.Role == Weight || b.Role == Bias {
			out = append(out, b)
		}
	}
	return out
}

// Offset returns the byte offset of a buffer in its device's arena for the
// program, or -1.
func (p *Plan) Offset(prog Program, b *Buffer) int64 { return b.Offset[prog] }

// Transfers returns the program's copies between devices, in issue order.
func (p *Plan) Transfers(prog Program) []*Launch {
	var out []*Launch
	for i := range p.Launches[prog] {
		if l := &p.Launches[prog][i]; l.Peer() {
			out = append(out, l)
		}
	}
	return out
}

// Events is the number of events a program records.
func (p *Plan) Events(prog Program) int {
	n := 0
	for _, l := range p.Launches[prog] {
		if l.Kind == RecordEvent {
			n++
		}
	}
	return n
}

// Memory is the memory plan: one arena per device. Weights, biases, their
// gradients and momenta sit at the front and persist, with the images,
// labels and outputs the host writes and reads; behind them each program
// lays out its transient buffers, reusing memory between buffers whose
// lifetimes do not overlap. Programs never run at once, so the transient
// region is as large as the larger program needs. The offsets are the
// buffers'.
type Memory struct {
	Devices []DeviceMemory
}

// DeviceMemory sums up one device's arena.
type DeviceMemory struct {
	Persistent int64    // weights, biases, gradients, momenta, and the host's inputs and outputs
	Transient  [2]int64 // per program, behind the persistent region
	Arena      int64    // Persistent + the larger Transient
	Naive      [2]int64 // what each program would need without reuse, for the report
}

// Align is the alignment of every buffer offset in a memory plan: a cache
// line, which is also enough for AVX-512 loads (runtime/cpu's Align).
const Align = 64

// String summarises the memory plan per device.
func (m Memory) String() string {
	s := ""
	for d, dm := range m.Devices {
		s += fmt.Sprintf("device %d: arena %d bytes = persistent %d + transient (infer %d, train %d)\n",
			d, dm.Arena, dm.Persistent, dm.Transient[Infer], dm.Transient[Train])
	}
	return s
}

// Module names the CUDA module of a plan: the hash of its source, which its
// PTX carries in a marker function (alexnetc_module_HASH), and the number
// of functions in it.
type Module struct {
	Hash      string
	Functions int
}

// Marker is the name of the function that identifies the module.
func (m Module) Marker() string {
	if len(m.Hash) < 16 {
		return ""
	}
	return "alexnetc_module_" + m.Hash[:16]
}
