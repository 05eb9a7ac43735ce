// Package check resolves a spec into a Network: every layer's input, its
// placement on the GPUs, its output shape per GPU, and its parameter,
// neuron, multiply-add and memory counts. Check is the stage's entry point;
// it reports every error of the stage with its position in the spec.
package check

import (
	"fmt"

	"github.com/alexnetc/alexnetc/spec"
	"github.com/alexnetc/alexnetc/spec/expr"
)

// BytesPerValue is the size of one activation or weight: float32.
const BytesPerValue = 4

// Network is a checked network: a chain of layers from the input image to
// the softmax loss, with everything later stages need to know in numbers.
type Network struct {
	Spec     *spec.Spec // the spec it came from, variant applied
	Name     string
	Variant  string // "" for the base network
	GPUs     int
	Rounding spec.Rounding
	Input    *Layer   // the image, named "data"; every GPU holds a whole copy
	Layers   []*Layer // in order from the first layer after the input to the loss

	Params  int64 // learned weights and biases
	Neurons int64 // outputs of the conv and fc layers
	MACs    int64 // multiply-adds of one forward pass over one image (conv and fc)
	PerGPU  []GPU // totals per GPU
}

// GPU totals what one GPU holds and does.
type GPU struct {
	Params          int64
	MACs            int64 // per image, forward
	WeightBytes     int64
	ActivationBytes int64 // per image: every layer's output part on this GPU
}

// Shape is a tensor's shape for one image: channels × height × width.
// Fully connected layers have H = W = 1.
type Shape struct{ C, H, W int }

// Elems is the number of values.
func (s Shape) Elems() int64 { return int64(s.C) * int64(s.H) * int64(s.W) }

func (s Shape) String() string {
	if s.H == 1 && s.W == 1 {
		return fmt.Sprint(s.C)
	}
	return fmt.Sprintf("%d×%d×%d", s.C, s.H, s.W)
}

// Layer is one resolved layer.
type Layer struct {
	Spec *spec.Layer // the layer as written (after patches); nil for the input
	Name string
	Op   spec.Op // "input" for the image

	In      *Layer       // the layer read; nil for the input
	Connect expr.Connect // Own: each part reads the input parts on its GPU; All: every part
	InShape Shape
	Out     Shape

	// Padding of conv and pooling windows. Top and left are the spec's pad;
	// bottom and right add what ceil rounding needs for the last window.
	PadTop, PadLeft, PadBottom, PadRight int
	Overlapping                          bool // pooling with size > stride (paper §3.4)

	Parts      []*Part // one per GPU that holds part of the output, in GPU order
	Replicated bool    // every part holds the whole output (the input image)
	CrossGPU   bool    // some part reads a part that lives on another GPU

	Params  int64
	Neurons int64
	MACs    int64
}

// Part is the piece of a layer on one GPU.
type Part struct {
	GPU    int
	C0, C1 int     // the output channels (or units) it holds: [C0, C1)
	Reads  []Slice // the input parts it reads, in channel order
	InC    int     // channels it reads: the sum of Reads (features for fc: InC×H×W)
	Params int64
	MACs   int64
}

// Channels is the number of output channels the part holds.
func (p *Part) Channels() int { return p.C1 - p.C0 }

// Slice is a part of a layer's output on one GPU: channels [C0, C1).
type Slice struct {
	GPU    int
	C0, C1 int
}

// Layer returns the layer with the given name, or nil.
func (n *Network) Layer(name string) *Layer {
	for _, l := range n.Layers {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// PartOn returns the part of l on the GPU, or nil.
func (l *Layer) PartOn(gpu int) *Part {
	for _, p := range l.Parts {
		if p.GPU == gpu {
			return p
		}
	}
	return nil
}

// Weighted reports whether the layer has learned weights.
func (l *Layer) Weighted() bool { return l.Def() != nil && l.Def().Learned }

// Cross returns the slices the part reads from other GPUs.
func (p *Part) Cross() []Slice {
	var out []Slice
	for _, s := range p.Reads {
		if s.GPU != p.GPU {
			out = append(out, s)
		}
	}
	return out
}
