package plan

import "fmt"

// The op table. Every kind of layer is one Op and every kind of step one
// KernelDef, each defined here once: the spec keys an op carries, how the
// checker places it and sizes its output, its weights and multiply-adds,
// the kernels of its forward and backward passes with their attributes,
// parameters and scratch space, the runtime/cpu call that runs each kernel
// on the CPU and the CUDA launches that run it on a GPU (cuda.go). The
// checker, the lowering, the planner, the CPU engine, the CUDA backend, the
// Go generator and bench all read these tables; none of them switches on
// the kind of a layer.
//
// Adding an op means: an Op and its KernelDefs here, the CPU kernels in
// runtime/cpu (and the type in runtime/engine's list of them), the CUDA
// kernel bodies in compiler/cudagen/kernels.cuh with their entries in
// CUDAKernels, and the op's keys in the spec's schema.

// Op is one kind of layer.
type Op struct {
	Name string // as the spec's op key writes it
	Doc  string

	// Learned: each part holds a weight and a bias, and the layer's
	// filters or units (Width) are split evenly over the GPUs.
	Learned bool
	// Width is the spec key with a learned layer's output channels or
	// units, over all GPUs.
	Width string
	// Window is the spec key of the side of a sliding window; an op with a
	// window also takes stride and pad, and its output's height and width
	// come from the window under the network's rounding.
	Window string
	// Flat: the output has no spatial extent. A learned flat op has Width
	// units; any other flat op has one output per input value.
	Flat bool
	// Output: the network's output, the probabilities the host reads. It
	// needs every class on one GPU, and ends the network.
	Output bool

	// Keys are the spec keys the op's steps need, besides its window's.
	Keys []Key
	// Rule checks what the keys' own ranges cannot: it returns the key at
	// fault and what is wrong, or "" when all is well.
	Rule func(k Values) (key, msg string)

	// Weight is the shape of a part's weight tensor (learned ops).
	Weight func(g Geometry) []int
	// MACs counts one image's multiply-adds of a part's forward pass.
	MACs func(g Geometry) int64
	// Attrs gives the attributes of the op's steps for a part.
	Attrs func(g Geometry) Values
	// Note says what a part's forward step does, for comments.
	Note func(g Geometry, train bool) string

	Infer    Kernel // the kernel of the inference pass
	Train    Kernel // the kernel of the training pass; "" means Infer's
	Backward Kernel // the kernel of the backward pass; "" for none
}

// Key is a spec key an op carries into its attributes.
type Key struct {
	Name  string
	Float bool     // a number; otherwise an integer
	Enum  []string // the values of an enum, in the order of their codes
}

// Shape is one image's tensor: channels × height × width.
type Shape struct{ C, H, W int }

// Elems is the number of values.
func (s Shape) Elems() int { return s.C * s.H * s.W }

// Geometry is what the op table's rules see of one part of a layer.
type Geometry struct {
	N   int   // images per step (1 where the checker counts per image)
	In  Shape // what the part reads: its input channels, the input's height and width
	Out Shape // what the part holds: its output channels, the output's height and width
	// The window of conv and pooling layers: kernel side, stride and
	// padding per edge (bottom and right include what ceil rounding adds).
	KH, KW, Stride         int
	PadT, PadL, PadB, PadR int
	Keys                   Values // the layer's Keys, by name
}

// Kernel names a kind of step: an entry of Kernels.
type Kernel string

// The kernels.
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

// KernelDef is one kind of step.
type KernelDef struct {
	Name Kernel
	Doc  string
	// Params are what the kernel takes, in the order its CPU call takes
	// them: buffers, and the runtime scalars seed and lr.
	Params []Param
	// Attrs names its attributes, in order; they are the fields of its
	// runtime/cpu type, in the type's order.
	Attrs []string
	// Scratch is the float32 scratch space it needs; nil for none.
	Scratch func(a Values) int64
	// FLOPs counts the floating-point operations of its products (2 per
	// multiply-add), for bench; nil counts 0.
	FLOPs func(s *Step) int64
	// Backward: the kernel belongs to the backward pass (or is the update).
	Backward bool
	CPU      CPUCall
	// CUDA gives its launches on a GPU.
	CUDA func(c *cudaStep) []Unit
}

// Param is one parameter of a kernel.
type Param struct {
	Name     string
	Role     ParamRole
	Access   Access // for buffers
	DType    DType  // for buffers; "" is f32
	Optional bool   // may be left out (dx of the first layer)
}

// ParamRole says what the lowering passes for a parameter.
type ParamRole int

// The roles.
const (
	InArg         ParamRole = iota // the part's input: its input part's output, or a gather of several
	OutArg                         // the part's output
	WeightArg                      // the part's weight
	BiasArg                        // the part's bias
	OutGradArg                     // the gradient of the output
	InGradArg                      // the gradient of the input (left out for the first layer)
	WeightGradArg                  // the gradient of the weight
	BiasGradArg                    // the gradient of the bias
	SavedArg                       // a buffer of the output's shape that the forward pass keeps for the backward pass, named PART.NAME
	ScratchArg                     // the device's scratch space
	LabelsArg                      // the labels
	LossArg                        // the loss, one float32 the host reads
	SeedArg                        // scalar: the step's dropout seed
	LRArg                          // scalar: the learning rate
	SrcArg                         // copies: the source
	DstArg                         // copies: the destination
	MomentumArg                    // sgd: the momentum
)

// Scalar reports whether the parameter is a runtime scalar, not a buffer.
func (p Param) Scalar() bool { return p.Role == SeedArg || p.Role == LRArg }

// CPUCall is how the CPU runs a kernel: the runtime/cpu type, built with
// the step's attributes as its fields, and its method, called with the
// step's parameters in order.
type CPUCall struct {
	Type   string
	Method string
	// Enums lists, for an attribute whose field has a named type, the
	// runtime/cpu constants by value.
	Enums map[string][]string
	// Result names the operand that takes the method's result (the loss,
	// stored as a float32); "" when it returns nothing.
	Result string
}

// Activation codes, shared by the act key of conv and fc, the CPU's
// cpu.Activation and the CUDA kernels.
var (
	activations   = []string{"none", "relu", "tanh", "sigmoid", "leaky_relu"}
	cpuActs       = []string{"Identity", "ReLU", "Tanh", "Sigmoid", "LeakyReLU"}
	alphaModes    = []string{"sum", "mean"}
	cpuAlphaModes = []string{"AlphaSum", "AlphaMean"}
)

var (
	convAttrs    = []string{"N", "C", "H", "W", "F", "KH", "KW", "Stride", "PadT", "PadL", "PadB", "PadR", "Groups", "OH", "OW", "Act"}
	fcAttrs      = []string{"N", "In", "Out", "Act"}
	lrnAttrs     = []string{"N", "C", "H", "W", "C0", "C1", "Size", "K", "Alpha", "Beta", "Convention"}
	poolAttrs    = []string{"N", "C", "H", "W", "Size", "Stride", "PadT", "PadL", "PadB", "PadR", "OH", "OW"}
	dropoutAttrs = []string{"Len", "Rate"}
	softmaxAttrs = []string{"N", "Classes"}
	channelAttrs = []string{"N", "HW", "SrcC", "C0", "C1", "DstC", "D"}
	sgdAttrs     = []string{"Momentum", "WeightDecay"}
)

// Ops is the table of layer kinds, in the order the documentation gives
// them.
var Ops = []*Op{
	{
		Name: "conv", Doc: "convolution with a bias and an activation",
		Learned: true, Width: "filters", Window: "kernel",
		Keys:   []Key{{Name: "groups"}, {Name: "act", Enum: activations}},
		Weight: func(g Geometry) []int { return []int{g.Out.C, g.In.C / g.Keys.Int("groups"), g.KH, g.KW} },
		MACs: func(g Geometry) int64 {
			return int64(g.Out.H*g.Out.W) * int64(g.Out.C) * int64(g.In.C/g.Keys.Int("groups")*g.KH*g.KW)
		},
		Attrs: func(g Geometry) Values {
			return Values{Int("N", g.N), Int("C", g.In.C), Int("H", g.In.H), Int("W", g.In.W), Int("F", g.Out.C),
				Int("KH", g.KH), Int("KW", g.KW), Int("Stride", g.Stride),
				Int("PadT", g.PadT), Int("PadL", g.PadL), Int("PadB", g.PadB), Int("PadR", g.PadR),
				Int("Groups", g.Keys.Int("groups")), Int("OH", g.Out.H), Int("OW", g.Out.W), Int("Act", g.Keys.Int("act"))}
		},
		Note: func(g Geometry, _ bool) string {
			return fmt.Sprintf("conv %d×%d/%d%s, %d×%d×%d → %d×%d×%d", g.KH, g.KW, g.Stride, actNote(g.Keys.Int("act")),
				g.In.C, g.In.H, g.In.W, g.Out.C, g.Out.H, g.Out.W)
		},
		Infer: ConvForward, Backward: ConvBackward,
	},
	{
		Name: "fc", Doc: "fully connected layer with a bias and an activation",
		Learned: true, Width: "units", Flat: true,
		Keys:   []Key{{Name: "act", Enum: activations}},
		Weight: func(g Geometry) []int { return []int{g.Out.C, g.In.Elems()} },
		MACs:   func(g Geometry) int64 { return int64(g.Out.C) * int64(g.In.Elems()) },
		Attrs: func(g Geometry) Values {
			return Values{Int("N", g.N), Int("In", g.In.Elems()), Int("Out", g.Out.C), Int("Act", g.Keys.Int("act"))}
		},
		Note: func(g Geometry, _ bool) string {
			return fmt.Sprintf("fc%s, %d → %d", actNote(g.Keys.Int("act")), g.In.Elems(), g.Out.C)
		},
		Infer: FCForward, Backward: FCBackward,
	},
	{
		Name: "lrn", Doc: "local response normalisation across adjacent channels (§3.3)",
		Keys: []Key{{Name: "size"}, {Name: "k", Float: true}, {Name: "alpha", Float: true}, {Name: "beta", Float: true},
			{Name: "alpha_mode", Enum: alphaModes}},
		Rule: func(k Values) (string, string) {
			if k.Int("size")%2 == 0 {
				return "size", fmt.Sprintf("size = %d: LRN sums over n channels centred on each channel, so n must be odd", k.Int("size"))
			}
			return "", ""
		},
		Attrs: func(g Geometry) Values {
			return Values{Int("N", g.N), Int("C", g.Out.C), Int("H", g.Out.H), Int("W", g.Out.W), Int("C0", 0), Int("C1", g.Out.C),
				Int("Size", g.Keys.Int("size")), Float("K", g.Keys.F32("k")), Float("Alpha", g.Keys.F32("alpha")),
				Float("Beta", g.Keys.F32("beta")), Int("Convention", g.Keys.Int("alpha_mode"))}
		},
		Note: func(g Geometry, _ bool) string {
			return fmt.Sprintf("LRN n=%d over its own %d channels, %d×%d", g.Keys.Int("size"), g.Out.C, g.Out.H, g.Out.W)
		},
		Infer: LRNForward, Backward: LRNBackward,
	},
	{
		Name: "maxpool", Doc: "max pooling, overlapping when size > stride (§3.4)",
		Window: "size", Attrs: poolAttrsOf,
		Note: func(g Geometry, _ bool) string {
			return fmt.Sprintf("max pool %d/%d, %d×%d×%d → %d×%d×%d", g.KH, g.Stride, g.In.C, g.In.H, g.In.W, g.Out.C, g.Out.H, g.Out.W)
		},
		Infer: MaxPoolForward, Backward: MaxPoolBackward,
	},
	{
		Name: "avgpool", Doc: "average pooling over the in-bounds elements of each window",
		Window: "size", Attrs: poolAttrsOf,
		Note: func(g Geometry, _ bool) string {
			return fmt.Sprintf("average pool %d/%d, %d×%d×%d → %d×%d×%d", g.KH, g.Stride, g.In.C, g.In.H, g.In.W, g.Out.C, g.Out.H, g.Out.W)
		},
		Infer: AvgPoolForward, Backward: AvgPoolBackward,
	},
	{
		Name: "dropout", Doc: "dropout (§4.2): units zeroed with probability rate in training, outputs × (1 − rate) at test time",
		Keys: []Key{{Name: "rate", Float: true}},
		Attrs: func(g Geometry) Values {
			return Values{Int("Len", g.N*g.Out.Elems()), Float("Rate", g.Keys.F32("rate"))}
		},
		Note: func(g Geometry, train bool) string {
			if train {
				return fmt.Sprintf("dropout, each unit zeroed with probability %g", g.Keys.F32("rate"))
			}
			return fmt.Sprintf("dropout at test time, outputs × %g", 1-g.Keys.F32("rate"))
		},
		Infer: DropoutTest, Train: DropoutTrain, Backward: DropoutBackward,
	},
	{
		Name: "softmax", Doc: "softmax with multinomial logistic loss; the network's output",
		Flat: true, Output: true,
		Attrs: func(g Geometry) Values { return Values{Int("N", g.N), Int("Classes", g.Out.C)} },
		Note: func(g Geometry, train bool) string {
			if train {
				return fmt.Sprintf("softmax over %d classes and the mean negative log-probability of the labels", g.Out.C)
			}
			return fmt.Sprintf("softmax over %d classes", g.Out.C)
		},
		Infer: Softmax, Train: SoftmaxLoss, Backward: SoftmaxBackward,
	},
}

func poolAttrsOf(g Geometry) Values {
	return Values{Int("N", g.N), Int("C", g.Out.C), Int("H", g.In.H), Int("W", g.In.W), Int("Size", g.KH), Int("Stride", g.Stride),
		Int("PadT", g.PadT), Int("PadL", g.PadL), Int("PadB", g.PadB), Int("PadR", g.PadR), Int("OH", g.Out.H), Int("OW", g.Out.W)}
}

func actNote(act int) string {
	if act <= 0 || act >= len(activations) {
		return ""
	}
	return " + " + activations[act]
}

// Parameters that several kernels share.
var (
	xIn      = Param{Name: "x", Role: InArg, Access: Read}
	yOut     = Param{Name: "y", Role: OutArg, Access: Write}
	yRead    = Param{Name: "y", Role: OutArg, Access: Read}
	wRead    = Param{Name: "w", Role: WeightArg, Access: Read}
	bRead    = Param{Name: "b", Role: BiasArg, Access: Read}
	dyRead   = Param{Name: "dy", Role: OutGradArg, Access: Read}
	dxWrite  = Param{Name: "dx", Role: InGradArg, Access: Write, Optional: true}
	dwWrite  = Param{Name: "dw", Role: WeightGradArg, Access: Write}
	dbWrite  = Param{Name: "db", Role: BiasGradArg, Access: Write}
	scratch  = Param{Name: "scratch", Role: ScratchArg, Access: Write}
	labels   = Param{Name: "labels", Role: LabelsArg, Access: Read, DType: I32}
	argmaxW  = Param{Name: "argmax", Role: SavedArg, Access: Write, DType: I32}
	argmaxR  = Param{Name: "argmax", Role: SavedArg, Access: Read, DType: I32}
	maskW    = Param{Name: "mask", Role: SavedArg, Access: Write, DType: U8}
	maskR    = Param{Name: "mask", Role: SavedArg, Access: Read, DType: U8}
	srcRead  = Param{Name: "src", Role: SrcArg, Access: Read}
	seedArg  = Param{Name: "seed", Role: SeedArg}
	lrArg    = Param{Name: "lr", Role: LRArg}
	cpuActOf = map[string][]string{"Act": cpuActs}
)

// Kernels is the table of step kinds.
var Kernels = []*KernelDef{
	{Name: ConvForward, Doc: "y ← act(conv(x, w) + b)",
		Params: []Param{xIn, wRead, bRead, yOut, scratch}, Attrs: convAttrs,
		Scratch: func(a Values) int64 { return convCol(a) },
		FLOPs:   func(s *Step) int64 { return convFLOPs(s.Attrs) },
		CPU:     CPUCall{Type: "Conv", Method: "Forward", Enums: cpuActOf},
		CUDA:    convForwardLaunches},
	{Name: ConvBackward, Doc: "dx, dw, db from dy through the activation (its output y)", Backward: true,
		Params: []Param{xIn, wRead, yRead, dyRead, dxWrite, dwWrite, dbWrite, scratch}, Attrs: convAttrs,
		Scratch: func(a Values) int64 {
			if a.Int("Act") == 0 {
				return convCol(a)
			}
			return convCol(a) + int64(a.Int("F")*a.Int("OH")*a.Int("OW"))
		},
		FLOPs: func(s *Step) int64 { return convFLOPs(s.Attrs) * gradFactor(s) },
		CPU:   CPUCall{Type: "Conv", Method: "Backward", Enums: cpuActOf},
		CUDA:  convBackwardLaunches},
	{Name: FCForward, Doc: "y ← act(x·wᵀ + b)",
		Params: []Param{xIn, wRead, bRead, yOut}, Attrs: fcAttrs,
		FLOPs: func(s *Step) int64 { return fcFLOPs(s.Attrs) },
		CPU:   CPUCall{Type: "FC", Method: "Forward", Enums: cpuActOf},
		CUDA:  fcForwardLaunches},
	{Name: FCBackward, Doc: "dx, dw, db from dy through the activation", Backward: true,
		Params: []Param{xIn, wRead, yRead, dyRead, dxWrite, dwWrite, dbWrite, scratch}, Attrs: fcAttrs,
		Scratch: func(a Values) int64 {
			if a.Int("Act") == 0 {
				return 0
			}
			return int64(a.Int("N") * a.Int("Out"))
		},
		FLOPs: func(s *Step) int64 { return fcFLOPs(s.Attrs) * gradFactor(s) },
		CPU:   CPUCall{Type: "FC", Method: "Backward", Enums: cpuActOf},
		CUDA:  fcBackwardLaunches},
	{Name: LRNForward, Doc: "y ← x / (k + α′·Σ x²)^β over the window of adjacent channels",
		Params: []Param{xIn, yOut}, Attrs: lrnAttrs,
		CPU:  CPUCall{Type: "LRN", Method: "Forward", Enums: map[string][]string{"Convention": cpuAlphaModes}},
		CUDA: lrnLaunches("lrn_forward", "x", "y")},
	{Name: LRNBackward, Doc: "dx from dy, the normaliser recomputed from x", Backward: true,
		Params: []Param{xIn, dyRead, dxWrite, scratch}, Attrs: lrnAttrs,
		Scratch: func(a Values) int64 { return int64((a.Int("C1") - a.Int("C0")) * a.Int("H") * a.Int("W")) },
		CPU:     CPUCall{Type: "LRN", Method: "Backward", Enums: map[string][]string{"Convention": cpuAlphaModes}},
		CUDA:    lrnLaunches("lrn_backward", "x", "dy", "dx")},
	{Name: MaxPoolForward, Doc: "the largest in-bounds element of each window, and its index",
		Params: []Param{xIn, yOut, argmaxW}, Attrs: poolAttrs,
		CPU:  CPUCall{Type: "MaxPool", Method: "Forward"},
		CUDA: poolLaunches("maxpool_forward")},
	{Name: MaxPoolBackward, Doc: "dx gathers dy of the windows whose argmax it is", Backward: true,
		Params: []Param{argmaxR, dyRead, dxWrite}, Attrs: poolAttrs,
		CPU:  CPUCall{Type: "MaxPool", Method: "Backward"},
		CUDA: poolLaunches("maxpool_backward")},
	{Name: AvgPoolForward, Doc: "the mean of the in-bounds elements of each window",
		Params: []Param{xIn, yOut}, Attrs: poolAttrs,
		CPU:  CPUCall{Type: "AvgPool", Method: "Forward"},
		CUDA: poolLaunches("avgpool_forward")},
	{Name: AvgPoolBackward, Doc: "dx gathers dy/count of the windows that cover it", Backward: true,
		Params: []Param{dyRead, dxWrite}, Attrs: poolAttrs,
		CPU:  CPUCall{Type: "AvgPool", Method: "Backward"},
		CUDA: poolLaunches("avgpool_backward")},
	{Name: DropoutTrain, Doc: "each unit kept (mask 1, y ← x) or dropped (mask 0, y ← 0) by a counter-based draw from the step's seed",
		Params: []Param{seedArg, xIn, yOut, maskW}, Attrs: dropoutAttrs,
		CPU:  CPUCall{Type: "Dropout", Method: "Train"},
		CUDA: dropoutTrainLaunches},
	{Name: DropoutTest, Doc: "y ← (1 − rate)·x",
		Params: []Param{xIn, yOut}, Attrs: dropoutAttrs,
		CPU:  CPUCall{Type: "Dropout", Method: "Test"},
		CUDA: dropoutTestLaunches},
	{Name: DropoutBackward, Doc: "dx ← dy·mask", Backward: true,
		Params: []Param{maskR, dyRead, dxWrite}, Attrs: dropoutAttrs,
		CPU:  CPUCall{Type: "Dropout", Method: "Backward"},
		CUDA: dropoutBackwardLaunches},
	{Name: Softmax, Doc: "prob ← softmax(logits) per row",
		Params: []Param{{Name: "logits", Role: InArg, Access: Read}, {Name: "prob", Role: OutArg, Access: Write}}, Attrs: softmaxAttrs,
		CPU:  CPUCall{Type: "SoftmaxLoss", Method: "Softmax"},
		CUDA: softmaxLaunches},
	{Name: SoftmaxLoss, Doc: "prob ← softmax(logits); loss ← the mean negative log-probability of the labels",
		Params: []Param{{Name: "logits", Role: InArg, Access: Read}, labels, {Name: "prob", Role: OutArg, Access: Write},
			{Name: "loss", Role: LossArg, Access: Write}}, Attrs: softmaxAttrs,
		CPU:  CPUCall{Type: "SoftmaxLoss", Method: "Loss", Result: "loss"},
		CUDA: softmaxLossLaunches},
	{Name: SoftmaxBackward, Doc: "dlogits ← (prob − onehot(labels)) / N", Backward: true,
		Params: []Param{{Name: "prob", Role: OutArg, Access: Read}, labels, {Name: "dlogits", Role: InGradArg, Access: Write}}, Attrs: softmaxAttrs,
		CPU:  CPUCall{Type: "SoftmaxLoss", Method: "Backward"},
		CUDA: softmaxBackwardLaunches},
	{Name: Copy, Doc: "channels [C0, C1) of src to channels [D, D+C1−C0) of dst, possibly between devices",
		Params: []Param{srcRead, {Name: "dst", Role: DstArg, Access: Write}}, Attrs: channelAttrs,
		CPU:  CPUCall{Type: "ChannelCopy", Method: "Copy"},
		CUDA: copyLaunches},
	{Name: Add, Doc: "dst's channels [D, D+C1−C0) += src's channels [C0, C1)",
		Params: []Param{srcRead, {Name: "dst", Role: DstArg, Access: ReadWrite}}, Attrs: channelAttrs,
		CPU:  CPUCall{Type: "ChannelCopy", Method: "Add"},
		CUDA: addLaunches},
	{Name: SGDUpdate, Doc: "v ← momentum·v − weight_decay·lr·w − lr·g; w ← w + v (§5)", Backward: true,
		Params: []Param{lrArg, {Name: "w", Role: WeightArg, Access: ReadWrite}, {Name: "g", Role: WeightGradArg, Access: Read},
			{Name: "v", Role: MomentumArg, Access: ReadWrite}}, Attrs: sgdAttrs,
		CPU:  CPUCall{Type: "SGD", Method: "Update"},
		CUDA: sgdLaunches},
}

func convCol(a Values) int64 {
	return int64(a.Int("C")/a.Int("Groups")*a.Int("KH")*a.Int("KW")) * int64(a.Int("OH")*a.Int("OW"))
}

func convFLOPs(a Values) int64 {
	return 2 * int64(a.Int("N")) * int64(a.Int("F")*a.Int("OH")*a.Int("OW")) * int64(a.Int("C")/a.Int("Groups")*a.Int("KH")*a.Int("KW"))
}

func fcFLOPs(a Values) int64 { return 2 * int64(a.Int("N")) * int64(a.Int("In")) * int64(a.Int("Out")) }

// gradFactor is 2 for a backward step that computes dx as well as dw, 1
// for one that computes dw only.
func gradFactor(s *Step) int64 {
	if s.Arg("dx") == nil {
		return 1
	}
	return 2
}

// OpNamed returns the op of that name, or nil.
func OpNamed(name string) *Op {
	for _, o := range Ops {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// Def returns the kernel's definition, or nil.
func (k Kernel) Def() *KernelDef {
	for _, d := range Kernels {
		if d.Name == k {
			return d
		}
	}
	return nil
}

// TrainKernel is the op's kernel in the training pass.
func (o *Op) TrainKernel() Kernel {
	if o.Train != "" {
		return o.Train
	}
	return o.Infer
}

// KeyValue turns a spec value of one of the op's keys into its attribute
// value: an enum's code, a number as it is.
func (k Key) KeyValue(v any) (Value, error) {
	switch x := v.(type) {
	case string:
		for i, e := range k.Enum {
			if e == x {
				return Int(k.Name, i), nil
			}
		}
		return Value{}, fmt.Errorf("%s = %q is not one of %v", k.Name, x, k.Enum)
	case int:
		return Value{Name: k.Name, V: float64(x), Float: k.Float}, nil
	case int64:
		return Value{Name: k.Name, V: float64(x), Float: k.Float}, nil
	case float64:
		if !k.Float {
			return Value{}, fmt.Errorf("%s = %g must be an integer", k.Name, x)
		}
		return Value{Name: k.Name, V: x, Float: true}, nil
	}
	return Value{}, fmt.Errorf("%s has a value of type %T", k.Name, v)
}

// StepFLOPs counts a step's floating-point operations of products.
func StepFLOPs(s *Step) int64 {
	if d := s.Kernel.Def(); d != nil && d.FLOPs != nil {
		return d.FLOPs(s)
	}
	return 0
}

// StepScratch is the scratch space a step needs, in float32 values.
func StepScratch(s *Step) int64 {
	if d := s.Kernel.Def(); d != nil && d.Scratch != nil {
		return d.Scratch(s.Attrs)
	}
	return 0
}
