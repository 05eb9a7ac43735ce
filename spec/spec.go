// Package spec reads a network spec: TOML with string values in alexnetc's
// expression language (package spec/expr), decoded strictly into a Spec whose
// every value remembers where it was written. Parse is the stage's entry point;
// Variant applies a declared ablation to a Spec and returns the patched copy.
//
// The Spec is what the user wrote, with the documented defaults filled in;
// shapes, placement and counts are the checker's business (compiler/check).
package spec

import (
	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/spec/expr"
)

// Op is the kind of a layer.
type Op string

// The layer kinds of the AlexNet family.
const (
	Conv    Op = "conv"    // convolution (kernel, stride, pad, filters, groups) with an activation
	FC      Op = "fc"      // fully connected layer with an activation
	LRN     Op = "lrn"     // local response normalisation across adjacent channels (paper §3.3)
	MaxPool Op = "maxpool" // max pooling, overlapping when size > stride (paper §3.4)
	AvgPool Op = "avgpool" // average pooling
	Dropout Op = "dropout" // dropout (paper §4.2)
	Softmax Op = "softmax" // softmax with multinomial logistic loss; the network's output
)

// Ops lists every layer kind, in the order the documentation gives them.
var Ops = []Op{Conv, FC, LRN, MaxPool, AvgPool, Dropout, Softmax}

// InputName is the name layers use to read the network's input image.
const InputName = "data"

// Spec is a decoded network spec.
type Spec struct {
	File     string // the file name diagnostics print
	Network  Network
	Input    Input
	Init     Init
	Layers   []*Layer
	Train    Train
	Data     Data
	Eval     Eval
	Variants []*Variant

	// Variant is the name of the variant this spec was patched into; empty for
	// the base network.
	Variant string
}

// Where records the position of every key of a table, so later stages can
// point at the value they object to. A key that was not written (a default)
// maps to the table's header, or has no entry at all.
type Where struct {
	At   diag.Pos            // the table header ([network], [[layer]], ...)
	Keys map[string]diag.Pos // key → position of its value
}

// Of returns the position of key's value, or the table header's position when
// the key took its default.
func (w *Where) Of(key string) diag.Pos {
	if p, ok := w.Keys[key]; ok {
		return p
	}
	return w.At
}

func (w *Where) set(key string, p diag.Pos) {
	if w.Keys == nil {
		w.Keys = map[string]diag.Pos{}
	}
	w.Keys[key] = p
}

// Network holds the [network] table.
type Network struct {
	Where
	Name     string
	Doc      string
	GPUs     int      // G: layers placed "split" hold 1/G of their filters or units on each GPU
	Rounding Rounding // how output sizes are rounded (DESIGN.md §3)
}

// Rounding selects the output-size formula of convolution and pooling.
type Rounding string

const (
	// Floor is Caffe's and PyTorch's ⌊(S+2p−F)/s⌋+1. alexnetc is strict about
	// it: a size that does not divide evenly is an error, since the rows it
	// would silently drop are almost always a mistake in the spec.
	Floor Rounding = "floor"
	// Ceil is cuda-convnet's 1+⌈(S+2p−F)/s⌉, which is why the paper's 224
	// input gives 55. The last window may run past the input; the missing
	// pixels count as zero padding on the bottom and right.
	Ceil Rounding = "ceil"
)

// Input holds the [input] table: the image the first layer reads.
type Input struct {
	Where
	Channels, Height, Width int
}

// Init holds the [init] table: the initialisers of layers that name none.
type Init struct {
	Where
	Weights *expr.Init
	Bias    *expr.Init
}

// Layer is one [[layer]] table. Fields that its Op does not take stay zero.
type Layer struct {
	Where
	Name  string
	Op    Op
	Doc   string
	Input *expr.Ref   // never nil after Parse: an omitted input reads the previous layer's own part
	Place *expr.Place // nil: conv and fc are split; other layers follow their input

	// conv and fc
	Filters int // conv
	Units   int // fc
	Kernel  int
	Stride  int
	Pad     int
	Groups  int
	Act     Activation
	Weights *expr.Init
	Bias    *expr.Init

	// lrn
	Size      int // also the pooling window
	K         float64
	Alpha     float64
	Beta      float64
	AlphaMode AlphaMode

	// dropout
	Rate float64
}

// Activation is the nonlinearity applied to a conv or fc layer's output.
type Activation string

// The activations a conv or fc layer can apply.
const (
	ReLU    Activation = "relu"
	Tanh    Activation = "tanh"
	Sigmoid Activation = "sigmoid"
	Linear  Activation = "none"
	// LeakyReLU is max(v, 0.01·v), for comparisons beside ReLU.
	LeakyReLU Activation = "leaky_relu"
)

// AlphaMode says what LRN's α multiplies.
type AlphaMode string

const (
	// AlphaSum is the paper's formula: b = a / (k + α Σ a²)^β.
	AlphaSum AlphaMode = "sum"
	// AlphaMean is Caffe's, PyTorch's, ONNX's and cuda-convnet's:
	// b = a / (k + (α/n) Σ a²)^β.
	AlphaMean AlphaMode = "mean"
)

// Train holds the [train] table: the optimiser and its schedule (paper §5).
type Train struct {
	Where
	Batch       int
	Epochs      int
	LR          float64
	Momentum    float64
	WeightDecay float64
	Schedule    *expr.Schedule
	Seed        int
}

// Data holds the [data] table: where images come from and how they are
// augmented (paper §4.1).
type Data struct {
	Where
	Dataset     string
	Path        string
	Resize      int // short side is scaled to this before cropping; 0 keeps the size
	Crop        int // side of the square patch the network sees; 0 means the input size
	RandomCrop  bool
	Flip        bool
	PCALighting float64 // σ of the αᵢ in the paper's PCA colour augmentation; 0 turns it off
	Mean        MeanMode
}

// MeanMode says what is subtracted from every input image.
type MeanMode string

// The mean subtraction modes.
const (
	MeanNone    MeanMode = "none"
	MeanPixel   MeanMode = "pixel"   // the paper: the mean image over the training set
	MeanChannel MeanMode = "channel" // one mean per colour channel
)

// Eval holds the [eval] table.
type Eval struct {
	Where
	Views int // 1 (centre crop) or 10 (four corners and centre, each mirrored)
}

// Variant is one [[variant]]: an ablation written as a patch over the base.
type Variant struct {
	Where
	Name  string
	Doc   string
	Paper string // the paper's reported effect, quoted in ablation reports
	Patch []*Patch
}

// Patch is one parsed patch string together with the map from offsets in
// that string to the file, so that patch errors found later (a glob that
// matches nothing) still point into the spec.
type Patch struct {
	*expr.Patch
	Text  string
	posOf func(int) diag.Pos
}

// At returns the file position of an offset inside the patch string.
func (p *Patch) At(offset int) diag.Pos { return p.posOf(offset) }

// Layer returns the layer with the given name, or nil.
func (s *Spec) Layer(name string) *Layer {
	for _, l := range s.Layers {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// FindVariant returns the variant with the given name, or nil.
func (s *Spec) FindVariant(name string) *Variant {
	for _, v := range s.Variants {
		if v.Name == name {
			return v
		}
	}
	return nil
}
