package spec

// A field describes one key of a table: its type and constraints, which
// layer kinds take it, its default, and what it means. The decoder, the
// ablation patcher and the documentation test all read these tables, so a
// key is described exactly once.
type field struct {
	key  string
	kind kind
	enum []string // the allowed values of an enum
	ops  []Op     // layer keys: the kinds that take the key (nil: every kind)
	need []Op     // layer keys: the kinds that must write it
	req  bool     // section keys: the key must be written
	def  any      // the default, as TOML would decode it; nil: none
	max  int64    // integers: the largest value allowed; 0: none
	doc  string
	ref  func(table any) any // a pointer to the field in the decoded table
}

// kind is the type of a key's value, including its range, so that zero and
// negative sizes are rejected where they are written.
type kind int

const (
	kString   kind = iota // any string
	kName                 // an identifier: letters, digits and _, not starting with a digit
	kPosInt               // an integer ≥ 1
	kNatInt               // an integer ≥ 0
	kPosFloat             // a number > 0
	kNonNeg               // a number ≥ 0
	kFraction             // a number in [0, 1)
	kBool                 // true or false
	kEnum                 // one of field.enum
	kRef                  // a layer reference: name, name[own], name[all]
	kInit                 // an initialiser: normal(...), uniform(...), constant(...), or a number
	kSchedule             // a learning-rate schedule: plateau(...), steps(...), constant
	kPlace                // a placement: split or gpu(N)
	kPatches              // an array of patch strings
)

func (k kind) String() string {
	return [...]string{
		kString: "a string", kName: "a name", kPosInt: "a positive integer",
		kNatInt: "a non-negative integer", kPosFloat: "a positive number",
		kNonNeg: "a non-negative number", kFraction: "a number in [0, 1)",
		kBool: "true or false", kEnum: "a string", kRef: "a layer reference",
		kInit: "an initialiser", kSchedule: "a schedule", kPlace: "a placement",
		kPatches: "an array of patch strings",
	}[k]
}

// MaxGPUs bounds [network] gpus: far beyond any machine a network of this
// family is split over, and small enough that plans stay small.
const MaxGPUs = 64

// numeric reports whether *= and /= apply to the kind.
func (k kind) numeric() bool {
	switch k {
	case kPosInt, kNatInt, kPosFloat, kNonNeg, kFraction:
		return true
	}
	return false
}

func (k kind) integer() bool { return k == kPosInt || k == kNatInt }

func layerField(t any) *Layer { return t.(*Layer) }

var (
	convFC  = []Op{Conv, FC}
	pools   = []Op{MaxPool, AvgPool}
	windows = []Op{Conv, MaxPool, AvgPool}
)

// layerFields are the keys of a [[layer]] table.
var layerFields = []*field{
	{key: "name", kind: kName, need: Ops, doc: "The layer's name, used by references, patches and weight files.",
		ref: func(t any) any { return &layerField(t).Name }},
	{key: "op", kind: kEnum, enum: opNames(), need: Ops, doc: "The layer kind.",
		ref: func(t any) any { return &layerField(t).Op }},
	{key: "doc", kind: kString, doc: "A free-form description, shown by `alexnetc check`.",
		ref: func(t any) any { return &layerField(t).Doc }},
	{key: "input", kind: kRef, doc: "The layer read: `name` or `name[own]` reads the part on the same GPU, `name[all]` every GPU's part. Default: the previous layer's own part (`data` for the first layer).",
		ref: func(t any) any { return &layerField(t).Input }},
	{key: "place", kind: kPlace, doc: "Where the layer lives: `split` (each of the G GPUs holds 1/G of the filters or units) or `gpu(N)`. Default: `split` for conv and fc; other layers follow their input, each GPU acting on its own part.",
		ref: func(t any) any { return &layerField(t).Place }},

	{key: "filters", kind: kPosInt, ops: []Op{Conv}, need: []Op{Conv}, doc: "Number of kernels (output channels), over all GPUs.",
		ref: func(t any) any { return &layerField(t).Filters }},
	{key: "units", kind: kPosInt, ops: []Op{FC}, need: []Op{FC}, doc: "Number of output units, over all GPUs.",
		ref: func(t any) any { return &layerField(t).Units }},
	{key: "kernel", kind: kPosInt, ops: []Op{Conv}, need: []Op{Conv}, doc: "Kernel side (square kernels).",
		ref: func(t any) any { return &layerField(t).Kernel }},
	{key: "size", kind: kPosInt, ops: []Op{LRN, MaxPool, AvgPool}, need: []Op{LRN, MaxPool, AvgPool}, doc: "LRN: the number n of adjacent channels summed (odd). Pooling: the window side z.",
		ref: func(t any) any { return &layerField(t).Size }},
	{key: "stride", kind: kPosInt, ops: windows, need: pools, def: int64(1), doc: "Step between windows (conv default 1; pooling must write it).",
		ref: func(t any) any { return &layerField(t).Stride }},
	{key: "pad", kind: kNatInt, ops: windows, def: int64(0), doc: "Zero padding on every side.",
		ref: func(t any) any { return &layerField(t).Pad }},
	{key: "groups", kind: kPosInt, ops: []Op{Conv}, def: int64(1), doc: "Filter groups within each GPU's part: each group of filters sees 1/groups of the channels that part reads.",
		ref: func(t any) any { return &layerField(t).Groups }},
	{key: "act", kind: kEnum, enum: []string{string(ReLU), string(Tanh), string(Sigmoid), string(Linear), string(LeakyReLU)}, ops: convFC, def: string(Linear), doc: "Activation applied to the output.",
		ref: func(t any) any { return &layerField(t).Act }},
	{key: "weights", kind: kInit, ops: convFC, doc: "Weight initialiser. Default: `[init] weights`.",
		ref: func(t any) any { return &layerField(t).Weights }},
	{key: "bias", kind: kInit, ops: convFC, doc: "Bias initialiser. Default: `[init] bias`.",
		ref: func(t any) any { return &layerField(t).Bias }},

	{key: "k", kind: kNonNeg, ops: []Op{LRN}, need: []Op{LRN}, doc: "LRN's additive constant k (paper: 2).",
		ref: func(t any) any { return &layerField(t).K }},
	{key: "alpha", kind: kNonNeg, ops: []Op{LRN}, need: []Op{LRN}, doc: "LRN's α (paper: 1e-4).",
		ref: func(t any) any { return &layerField(t).Alpha }},
	{key: "beta", kind: kNonNeg, ops: []Op{LRN}, need: []Op{LRN}, doc: "LRN's exponent β (paper: 0.75).",
		ref: func(t any) any { return &layerField(t).Beta }},
	{key: "alpha_mode", kind: kEnum, enum: []string{string(AlphaSum), string(AlphaMean)}, ops: []Op{LRN}, def: string(AlphaSum),
		doc: "What α multiplies: `sum` is the paper's formula, k + α·Σa²; `mean` is Caffe's, PyTorch's, ONNX's and cuda-convnet's, k + (α/n)·Σa².",
		ref: func(t any) any { return &layerField(t).AlphaMode }},

	{key: "rate", kind: kFraction, ops: []Op{Dropout}, need: []Op{Dropout}, doc: "Probability of zeroing a unit in training (paper: 0.5).",
		ref: func(t any) any { return &layerField(t).Rate }},
}

func opNames() []string {
	var s []string
	for _, op := range Ops {
		s = append(s, string(op))
	}
	return s
}

// A section is one top-level table other than [[layer]] and [[variant]].
type section struct {
	name   string
	req    bool
	doc    string
	fields []*field
	of     func(s *Spec) any // the decoded table in a Spec
}

var sections = []*section{
	{name: "network", req: true, doc: "The network as a whole.", of: func(s *Spec) any { return &s.Network }, fields: []*field{
		{key: "name", kind: kString, req: true, doc: "The network's name; also the default Go package name.",
			ref: func(t any) any { return &t.(*Network).Name }},
		{key: "doc", kind: kString, doc: "A free-form description.",
			ref: func(t any) any { return &t.(*Network).Doc }},
		{key: "gpus", kind: kPosInt, def: int64(1), max: MaxGPUs, doc: "G, the number of GPUs the network is split over (the paper: 2).",
			ref: func(t any) any { return &t.(*Network).GPUs }},
		{key: "rounding", kind: kEnum, enum: []string{string(Floor), string(Ceil)}, def: string(Floor),
			doc: "Output-size rounding of conv and pooling: `floor` is ⌊(S+2p−F)/s⌋+1 and must divide evenly; `ceil` is cuda-convnet's 1+⌈(S+2p−F)/s⌉ (224 → 55).",
			ref: func(t any) any { return &t.(*Network).Rounding }},
	}},
	{name: "input", req: true, doc: "The image the network reads, after cropping. Layers read it as `data`; every GPU holds a whole copy.", of: func(s *Spec) any { return &s.Input }, fields: []*field{
		{key: "channels", kind: kPosInt, req: true, doc: "Colour channels (3 for RGB, 1 for grayscale).",
			ref: func(t any) any { return &t.(*Input).Channels }},
		{key: "height", kind: kPosInt, req: true, doc: "Height in pixels.",
			ref: func(t any) any { return &t.(*Input).Height }},
		{key: "width", kind: kPosInt, req: true, doc: "Width in pixels.",
			ref: func(t any) any { return &t.(*Input).Width }},
	}},
	{name: "init", doc: "Initialisers for the conv and fc layers that name none.", of: func(s *Spec) any { return &s.Init }, fields: []*field{
		{key: "weights", kind: kInit, def: "normal(mean=0, std=0.01)", doc: "Weight initialiser (paper: N(0, 0.01²)).",
			ref: func(t any) any { return &t.(*Init).Weights }},
		{key: "bias", kind: kInit, def: "constant(0)", doc: "Bias initialiser.",
			ref: func(t any) any { return &t.(*Init).Bias }},
	}},
	{name: "train", doc: "Stochastic gradient descent with momentum and weight decay (paper §5).", of: func(s *Spec) any { return &s.Train }, fields: []*field{
		{key: "batch", kind: kPosInt, def: int64(128), doc: "Images per step.",
			ref: func(t any) any { return &t.(*Train).Batch }},
		{key: "epochs", kind: kPosInt, def: int64(90), doc: "Passes over the training set.",
			ref: func(t any) any { return &t.(*Train).Epochs }},
		{key: "lr", kind: kPosFloat, def: 0.01, doc: "Initial learning rate ε.",
			ref: func(t any) any { return &t.(*Train).LR }},
		{key: "momentum", kind: kFraction, def: 0.9, doc: "Momentum m in v ← m·v − wd·ε·w − ε·∂L/∂w.",
			ref: func(t any) any { return &t.(*Train).Momentum }},
		{key: "weight_decay", kind: kNonNeg, def: 0.0005, doc: "Weight decay wd in the same rule.",
			ref: func(t any) any { return &t.(*Train).WeightDecay }},
		{key: "schedule", kind: kSchedule, def: "plateau(factor=0.1, max_drops=3, patience=1)", doc: "How ε changes over training.",
			ref: func(t any) any { return &t.(*Train).Schedule }},
		{key: "seed", kind: kNatInt, def: int64(1), doc: "Seed of every random draw: initialisation, data order, augmentation, dropout.",
			ref: func(t any) any { return &t.(*Train).Seed }},
	}},
	{name: "data", doc: "The data set and its augmentation (paper §4.1).", of: func(s *Spec) any { return &s.Data }, fields: []*field{
		{key: "dataset", kind: kEnum, enum: []string{"fashion-mnist", "cifar10", "folder"}, def: "folder",
			doc: "The reader: `fashion-mnist` (IDX files), `cifar10` (binary batches) or `folder` (root/<class>/<image>, JPEG or PNG).",
			ref: func(t any) any { return &t.(*Data).Dataset }},
		{key: "path", kind: kString, def: "", doc: "Where the data set lies; empty means the reader's default.",
			ref: func(t any) any { return &t.(*Data).Path }},
		{key: "resize", kind: kNatInt, def: int64(0), doc: "Scale the short side to this many pixels, then take the centre square (paper: 256); 0 keeps the size.",
			ref: func(t any) any { return &t.(*Data).Resize }},
		{key: "crop", kind: kNatInt, def: int64(0), doc: "Side of the patch the network sees; 0 means the input size. Must equal the input's height and width when set.",
			ref: func(t any) any { return &t.(*Data).Crop }},
		{key: "random_crop", kind: kBool, def: false, doc: "Train on random patches instead of the centre one (paper: true).",
			ref: func(t any) any { return &t.(*Data).RandomCrop }},
		{key: "flip", kind: kBool, def: false, doc: "Mirror training images horizontally at random (paper: true).",
			ref: func(t any) any { return &t.(*Data).Flip }},
		{key: "pca_lighting", kind: kNonNeg, def: 0.0, doc: "σ of the PCA colour augmentation's αᵢ ~ N(0, σ) (paper: 0.1); 0 turns it off. Needs 3 channels.",
			ref: func(t any) any { return &t.(*Data).PCALighting }},
		{key: "mean", kind: kEnum, enum: []string{string(MeanNone), string(MeanPixel), string(MeanChannel)}, def: string(MeanNone),
			doc: "What is subtracted from each image: `pixel` (the paper: the mean image of the training set), `channel`, or `none`.",
			ref: func(t any) any { return &t.(*Data).Mean }},
	}},
	{name: "eval", doc: "How the network is evaluated.", of: func(s *Spec) any { return &s.Eval }, fields: []*field{
		{key: "views", kind: kPosInt, def: int64(1), doc: "1: the centre crop; 10: the paper's four corners and centre, each mirrored, softmax averaged.",
			ref: func(t any) any { return &t.(*Eval).Views }},
	}},
}

// variantFields are the keys of a [[variant]] table.
var variantFields = []*field{
	{key: "name", kind: kString, req: true, doc: "The variant's name, as given to `--variant`.",
		ref: func(t any) any { return &t.(*Variant).Name }},
	{key: "doc", kind: kString, doc: "What the variant changes.",
		ref: func(t any) any { return &t.(*Variant).Doc }},
	{key: "paper", kind: kString, doc: "The paper's reported effect of the change, quoted in ablation reports.",
		ref: func(t any) any { return &t.(*Variant).Paper }},
	{key: "patch", kind: kPatches, req: true, doc: "Patch statements applied in order (see Patches).",
		ref: func(t any) any { return &t.(*Variant).Patch }},
}

func findSection(name string) *section {
	for _, s := range sections {
		if s.name == name {
			return s
		}
	}
	return nil
}

func findField(fields []*field, key string) *field {
	for _, f := range fields {
		if f.key == key {
			return f
		}
	}
	return nil
}

// takes reports whether a layer of kind op takes the field.
func (f *field) takes(op Op) bool {
	if f.ops == nil {
		return true
	}
	for _, o := range f.ops {
		if o == op {
			return true
		}
	}
	return false
}

// needs reports whether a layer of kind op must write the field.
func (f *field) needs(op Op) bool {
	for _, o := range f.need {
		if o == op {
			return true
		}
	}
	return false
}

// Keys lists every key the decoder accepts as "table.key", for the test that
// keeps docs/spec.md complete.
func Keys() []string {
	var keys []string
	for _, s := range sections {
		for _, f := range s.fields {
			keys = append(keys, s.name+"."+f.key)
		}
	}
	for _, f := range layerFields {
		keys = append(keys, "layer."+f.key)
	}
	for _, f := range variantFields {
		keys = append(keys, "variant."+f.key)
	}
	return keys
}
