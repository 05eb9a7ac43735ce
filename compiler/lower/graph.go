// Package lower turns a checked network into a flat program per mode:
// inference (forward with dropout at test scale), and a training step
// (forward, softmax loss, backward, SGD update). Every step names one CPU
// kernel with all its sizes fixed, the device it runs on, and the buffers it
// reads and writes. Where a layer reads another GPU's part, the program has
// an explicit copy between devices: those copies are what the two GPUs of the
// paper's network exchange. Lower is the stage's entry point.
package lower

import (
	"fmt"

	"github.com/alexnetc/alexnetc/compiler/check"
)

// Graph is a lowered network: its buffers and its programs.
type Graph struct {
	Net     *check.Network
	Batch   int
	Devices int
	Buffers []*Buffer
	Infer   []*Step // forward pass, dropout at test scale, softmax probabilities
	Train   []*Step // forward pass, loss, backward pass and update
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
	Saved      Role = "saved"      // what backward needs besides activations: argmax, LRN scale, dropout mask
	Scratch    Role = "scratch"    // kernel scratch space, one per device
	Output     Role = "output"     // softmax probabilities and the loss, read by the host
)

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

// Step is one kernel call.
type Step struct {
	Kernel Kernel
	Device int    // where it runs; for a copy, the destination device
	Layer  string // the spec layer it belongs to
	// Params holds the kernel's sizes: a runtime/cpu parameter struct
	// (cpu.Conv, cpu.LRN, cpu.MaxPool, cpu.AvgPool, cpu.FC, cpu.Dropout,
	// cpu.SoftmaxLoss, cpu.ChannelCopy, cpu.SGD with LR left at 0 for the
	// schedule to fill in).
	Params any
	Args   []Arg
	Note   string // what the step does in the spec's words, for comments
}

// Arg is one buffer a step reads or writes, under the kernel's name for it.
type Arg struct {
	Name  string // the kernel's parameter name: x, w, b, y, dy, dx, ...
	Buf   *Buffer
	Write bool
}

// Kernel names the operation of a step.
type Kernel string

// The kernels steps call.
const (
	ConvForward     Kernel = "conv.forward"
	ConvBackward    Kernel = "conv.backward"
	FCForward       Kernel = "fc.forward"
	FCBackward      Kernel = "fc.backward"
	LRNForward      Kernel = "lrn.forward"
	LRNBackward     Kernel = "lrn.backward"
	MaxPoolForward  Kernel = "maxpool.forward"
	MaxPoolBackward Kernel = "maxpool.backward"
	AvgPoolForward  Kernel = "avgpool.forward"
	AvgPoolBackward Kernel = "avgpool.backward"
	DropoutTrain    Kernel = "dropout.train"
	DropoutTest     Kernel = "dropout.test"
	DropoutBackward Kernel = "dropout.backward"
	Softmax         Kernel = "softmax.forward"
	SoftmaxLoss     Kernel = "softmax.loss"
	SoftmaxBackward Kernel = "softmax.backward"
	Copy            Kernel = "copy" // channel slice copy, possibly between devices
	Add             Kernel = "add"  // channel slice add, on one device
	SGDUpdate       Kernel = "sgd"
)

// Transfer reports whether a copy step moves data between devices, and the
// source device.
func (s *Step) Transfer() (from int, ok bool) {
	if s.Kernel != Copy {
		return 0, false
	}
	src := s.Arg("src")
	return src.Device, src.Device != s.Device
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

// Buffer returns the buffer with the given name, or nil.
func (g *Graph) Buffer(name string) *Buffer {
	for _, b := range g.Buffers {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Params returns the learned buffers (weights and biases) in order.
func (g *Graph) Params() []*Buffer {
	var out []*Buffer
	for _, b := range g.Buffers {
		if b.Role == Weight || b.Role == Bias {
			out = append(out, b)
		}
	}
	return out
}

// Signature is how a kernel is called: the method of its Params and the
// order of the buffers passed to it. The CPU engine and the Go generator both
// follow it. "rng" is the device's random number generator, not a buffer.
type Signature struct {
	Method string
	Args   []string
}

// Signatures lists the call of every kernel.
var Signatures = map[Kernel]Signature{
	ConvForward:     {"Forward", []string{"x", "w", "b", "y", "scratch"}},
	ConvBackward:    {"Backward", []string{"x", "w", "y", "dy", "dx", "dw", "db", "scratch"}},
	FCForward:       {"Forward", []string{"x", "w", "b", "y"}},
	FCBackward:      {"Backward", []string{"x", "w", "y", "dy", "dx", "dw", "db", "scratch"}},
	LRNForward:      {"Forward", []string{"x", "y"}},
	LRNBackward:     {"Backward", []string{"x", "dy", "dx", "scratch"}},
	MaxPoolForward:  {"Forward", []string{"x", "y", "argmax"}},
	MaxPoolBackward: {"Backward", []string{"argmax", "dy", "dx"}},
	AvgPoolForward:  {"Forward", []string{"x", "y"}},
	AvgPoolBackward: {"Backward", []string{"dy", "dx"}},
	DropoutTrain:    {"Train", []string{"rng", "x", "y", "mask"}},
	DropoutTest:     {"Test", []string{"x", "y"}},
	DropoutBackward: {"Backward", []string{"mask", "dy", "dx"}},
	Softmax:         {"Softmax", []string{"logits", "prob"}},
	SoftmaxLoss:     {"Loss", []string{"logits", "labels", "prob"}}, // returns the loss, stored in "loss"
	SoftmaxBackward: {"Backward", []string{"prob", "labels", "dlogits"}},
	Copy:            {"Copy", []string{"src", "dst"}},
	Add:             {"Add", []string{"src", "dst"}},
	SGDUpdate:       {"Step", []string{"w", "g", "v"}}, // LR is the schedule's
}
