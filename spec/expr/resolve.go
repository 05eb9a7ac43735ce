package expr

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/alexnetc/alexnetc/diag"
)

// signature is the parameter list of a function such as normal. Arguments
// bind to parameters by name, or by position in the order given here.
type signature struct {
	name     string
	params   []string
	required []string
}

// usage prints the signature for messages, as in "normal(mean, std)".
func (s signature) usage() string {
	return s.name + "(" + strings.Join(s.params, ", ") + ")"
}

// bind matches the arguments of c to the parameters of sig and reports every
// unknown, duplicate, misplaced, surplus and missing argument. It returns the
// value of each parameter that was bound.
func bind(c *Call, sig signature, loc locator, diags *diag.List) map[string]*Value {
	bound := map[string]*Value{}
	named, misplaced := false, false
	for i, a := range c.Args {
		param := a.Name
		switch {
		case a.Name != "":
			named = true
			if !slices.Contains(sig.params, a.Name) {
				diags.Add(loc.at(a.Pos), "unknown argument %q to %s; expected %s",
					a.Name, c.Name, orList(sig.params))
				continue
			}
		case named:
			diags.Add(loc.at(a.Pos), "positional argument follows named argument in call to %s", c.Name)
			misplaced = true
			continue
		case i >= len(sig.params):
			diags.Add(loc.at(a.Pos), "too many arguments in call to %s; expected %s", c.Name, sig.usage())
			continue
		default:
			param = sig.params[i]
		}
		if _, dup := bound[param]; dup {
			diags.Add(loc.at(a.Pos), "duplicate argument %q to %s", param, c.Name)
			continue
		}
		bound[param] = a.Value
	}
	if misplaced {
		// A misplaced positional argument was probably meant for a
		// missing parameter; saying that it is missing as well would
		// only repeat the error.
		return bound
	}
	for _, p := range sig.required {
		if _, ok := bound[p]; !ok {
			diags.Add(loc.at(c.Pos), "missing argument %q in call to %s; expected %s", p, c.Name, sig.usage())
		}
	}
	return bound
}

// number returns the number bound to param, or def when it is absent. It
// reports an argument of another type; ok is false then, so that the caller
// skips its range checks.
func number(bound map[string]*Value, param, fn string, def float64, loc locator, diags *diag.List) (float64, bool) {
	v, present := bound[param]
	if !present {
		return def, true
	}
	f, ok := v.Number()
	if !ok {
		diags.Add(loc.at(v.Pos), "argument %q to %s must be a number, found %s", param, fn, v.describe())
	}
	return f, ok
}

// integer is number for whole numbers.
func integer(bound map[string]*Value, param, fn string, def int, loc locator, diags *diag.List) (int, bool) {
	v, present := bound[param]
	if !present {
		return def, true
	}
	n, ok := v.Int()
	if !ok {
		diags.Add(loc.at(v.Pos), "argument %q to %s must be an integer, found %s", param, fn, v.describe())
	}
	return n, ok
}

// InitKind is the distribution an initialiser draws weights or biases from.
type InitKind int

const (
	// Normal draws from a Gaussian, as the paper initialises all
	// weights: zero mean, standard deviation 0.01.
	Normal InitKind = iota
	// Uniform draws uniformly from [low, high).
	Uniform
	// Constant sets every element to one value, as the paper sets the
	// biases of some layers to 1 and the others to 0.
	Constant
)

func (k InitKind) String() string {
	switch k {
	case Normal:
		return "normal"
	case Uniform:
		return "uniform"
	case Constant:
		return "constant"
	}
	return "InitKind(" + strconv.Itoa(int(k)) + ")"
}

// Init is a checked weight or bias initialiser:
//
//	normal(std=0.01)           mean defaults to 0; positional: normal(mean, std)
//	uniform(low=-0.05, high=0.05)                   positional: uniform(low, high)
//	constant(1)                const is an alias;   named: constant(value=1)
//
// Only the fields of its Kind are set; std is positive and high exceeds low.
// Pos is the position of the initialiser's name inside the string it was
// parsed from.
type Init struct {
	Pos   lexer.Position
	Kind  InitKind
	Mean  float64
	Std   float64
	Low   float64
	High  float64
	Value float64
}

// String prints the canonical form, which ParseInit reads back to an equal
// Init.
func (in *Init) String() string {
	switch in.Kind {
	case Normal:
		return fmt.Sprintf("normal(mean=%s, std=%s)", formatNumber(in.Mean), formatNumber(in.Std))
	case Uniform:
		return fmt.Sprintf("uniform(low=%s, high=%s)", formatNumber(in.Low), formatNumber(in.High))
	}
	return fmt.Sprintf("constant(%s)", formatNumber(in.Value))
}

var (
	normalSig   = signature{name: "normal", params: []string{"mean", "std"}, required: []string{"std"}}
	uniformSig  = signature{name: "uniform", params: []string{"low", "high"}, required: []string{"low", "high"}}
	constantSig = signature{name: "constant", params: []string{"value"}, required: []string{"value"}}
)

// ResolveInit checks a call as an initialiser. It is what ParseInit does after
// parsing, exported for set values in patches ("set conv*.weights =
// normal(std=0.02)"); posOf maps byte offsets of the text c was parsed from.
func ResolveInit(c *Call, posOf func(int) diag.Pos) (*Init, diag.List) {
	loc := newLocator(diag.Pos{}, posOf)
	var diags diag.List
	checkArgs(c, loc, &diags)
	in := &Init{Pos: c.Pos}
	switch c.Name {
	case "normal":
		in.Kind = Normal
		b := bind(c, normalSig, loc, &diags)
		in.Mean, _ = number(b, "mean", c.Name, 0, loc, &diags)
		var ok bool
		if in.Std, ok = number(b, "std", c.Name, 0, loc, &diags); ok && b["std"] != nil && in.Std <= 0 {
			diags.Add(loc.at(b["std"].Pos), "argument \"std\" to normal must be positive, found %s", b["std"])
		}
	case "uniform":
		in.Kind = Uniform
		b := bind(c, uniformSig, loc, &diags)
		var okLow, okHigh bool
		in.Low, okLow = number(b, "low", c.Name, 0, loc, &diags)
		in.High, okHigh = number(b, "high", c.Name, 0, loc, &diags)
		if okLow && okHigh && b["low"] != nil && b["high"] != nil && in.High <= in.Low {
			diags.Add(loc.at(b["high"].Pos), "argument \"high\" to uniform must be greater than low (%s), found %s",
				formatNumber(in.Low), formatNumber(in.High))
		}
	case "constant", "const":
		in.Kind = Constant
		sig := constantSig
		sig.name = c.Name
		b := bind(c, sig, loc, &diags)
		in.Value, _ = number(b, "value", c.Name, 0, loc, &diags)
	default:
		diags.Add(loc.at(c.Pos), "unknown initialiser %q; expected normal, uniform or constant", c.Name)
	}
	if len(diags) > 0 {
		return nil, diags.Sort()
	}
	return in, nil
}

// ScheduleKind is the rule that changes the learning rate during training.
type ScheduleKind int

const (
	// Plateau is the paper's rule: divide the learning rate when the
	// validation error rate stops improving.
	Plateau ScheduleKind = iota
	// Steps multiplies the learning rate at fixed epochs.
	Steps
	// ConstantRate never changes the learning rate. It is written
	// "constant" in a spec; the Go name differs from the initialiser's
	// Constant because both live in this package.
	ConstantRate
)

func (k ScheduleKind) String() string {
	switch k {
	case Plateau:
		return "plateau"
	case Steps:
		return "steps"
	case ConstantRate:
		return "constant"
	}
	return "ScheduleKind(" + strconv.Itoa(int(k)) + ")"
}

// Defaults of the plateau schedule. The paper divided the learning rate by
// 10 when the validation error rate stopped improving, three times before
// training ended; patience 1 acts on the first epoch without improvement.
const (
	DefaultFactor   = 0.1
	DefaultMaxDrops = 3
	DefaultPatience = 1
)

// Schedule is a checked learning-rate schedule:
//
//	plateau(factor=0.1, max_drops=3, patience=1)
//	    multiply the learning rate by factor when the validation error rate
//	    has not improved for patience epochs, at most max_drops times; all
//	    three arguments are optional and default to the values shown
//	steps(at=[30, 60, 80], factor=0.1)
//	    multiply the learning rate by factor at the start of each listed
//	    epoch; at is required, strictly increasing and positive, and factor
//	    defaults to 0.1
//	constant, or constant()
//	    never change the learning rate
//
// Arguments may also be given by position, in the order shown. Factor lies
// strictly between 0 and 1, MaxDrops is at least 0 and Patience at least 1.
// Only the fields of its Kind are set. Pos is as for Init.
type Schedule struct {
	Pos      lexer.Position
	Kind     ScheduleKind
	Factor   float64
	MaxDrops int
	Patience int
	At       []int
}

// String prints the canonical form, which ParseSchedule reads back to an
// equal Schedule.
func (s *Schedule) String() string {
	switch s.Kind {
	case Plateau:
		return fmt.Sprintf("plateau(factor=%s, max_drops=%d, patience=%d)", formatNumber(s.Factor), s.MaxDrops, s.Patience)
	case Steps:
		at := make([]string, len(s.At))
		for i, e := range s.At {
			at[i] = strconv.Itoa(e)
		}
		return fmt.Sprintf("steps(at=[%s], factor=%s)", strings.Join(at, ", "), formatNumber(s.Factor))
	}
	return "constant"
}

var (
	plateauSig       = signature{name: "plateau", params: []string{"factor", "max_drops", "patience"}}
	stepsSig         = signature{name: "steps", params: []string{"at", "factor"}, required: []string{"at"}}
	constantSchedSig = signature{name: "constant"}
)

// ResolveSchedule checks a call as a learning-rate schedule; see ResolveInit.
func ResolveSchedule(c *Call, posOf func(int) diag.Pos) (*Schedule, diag.List) {
	loc := newLocator(diag.Pos{}, posOf)
	var diags diag.List
	checkArgs(c, loc, &diags)
	s := &Schedule{Pos: c.Pos}
	switch c.Name {
	case "plateau":
		s.Kind = Plateau
		b := bind(c, plateauSig, loc, &diags)
		s.Factor = checkFactor(b, c.Name, loc, &diags)
		var ok bool
		if s.MaxDrops, ok = integer(b, "max_drops", c.Name, DefaultMaxDrops, loc, &diags); ok && s.MaxDrops < 0 {
			diags.Add(loc.at(b["max_drops"].Pos), "argument \"max_drops\" to plateau must be at least 0, found %d", s.MaxDrops)
		}
		if s.Patience, ok = integer(b, "patience", c.Name, DefaultPatience, loc, &diags); ok && s.Patience < 1 {
			diags.Add(loc.at(b["patience"].Pos), "argument \"patience\" to plateau must be at least 1, found %d", s.Patience)
		}
	case "steps":
		s.Kind = Steps
		b := bind(c, stepsSig, loc, &diags)
		s.Factor = checkFactor(b, c.Name, loc, &diags)
		if v := b["at"]; v != nil {
			s.At = epochs(v, loc, &diags)
		}
	case "constant":
		s.Kind = ConstantRate
		bind(c, constantSchedSig, loc, &diags)
	default:
		diags.Add(loc.at(c.Pos), "unknown schedule %q; expected plateau, steps or constant", c.Name)
	}
	if len(diags) > 0 {
		return nil, diags.Sort()
	}
	return s, nil
}

// checkFactor returns the factor argument, which defaults to DefaultFactor
// and must lie strictly between 0 and 1: a factor of 1 or more would not
// lower the learning rate, and 0 would stop training.
func checkFactor(b map[string]*Value, fn string, loc locator, diags *diag.List) float64 {
	f, ok := number(b, "factor", fn, DefaultFactor, loc, diags)
	if ok && (f <= 0 || f >= 1) {
		diags.Add(loc.at(b["factor"].Pos), "argument \"factor\" to %s must be between 0 and 1, found %s", fn, formatNumber(f))
	}
	return f
}

// epochs checks the at list of a steps schedule.
func epochs(v *Value, loc locator, diags *diag.List) []int {
	items, ok := v.List()
	if !ok {
		diags.Add(loc.at(v.Pos), "argument \"at\" to steps must be a list of epochs, found %s", v.describe())
		return nil
	}
	if len(items) == 0 {
		diags.Add(loc.at(v.Pos), "argument \"at\" to steps must list at least one epoch")
		return nil
	}
	at := make([]int, 0, len(items))
	for _, it := range items {
		e, ok := it.Int()
		switch {
		case !ok:
			diags.Add(loc.at(it.Pos), "epochs in \"at\" must be integers, found %s", it.describe())
			continue
		case e < 1:
			diags.Add(loc.at(it.Pos), "epochs in \"at\" must be positive, found %d", e)
			continue
		case len(at) > 0 && e <= at[len(at)-1]:
			diags.Add(loc.at(it.Pos), "epochs in \"at\" must be strictly increasing, found %d after %d", e, at[len(at)-1])
			continue
		}
		at = append(at, e)
	}
	return at
}

// Place is a checked placement of a layer on the GPUs:
//
//	split    the layer is split across all GPUs, each holding 1/G of its
//	         kernels or units, as the paper splits every layer over two
//	gpu(n)   the whole layer lives on GPU n, counting from 0
//
// "split()" is accepted as well. Whether n names an existing GPU is for the
// caller to check, since the number of GPUs is set elsewhere in the spec.
// Pos is as for Init.
type Place struct {
	Pos   lexer.Position
	Split bool
	GPU   int
}

// String prints the canonical form, which ParsePlace reads back to an equal
// Place.
func (p *Place) String() string {
	if p.Split {
		return "split"
	}
	return "gpu(" + strconv.Itoa(p.GPU) + ")"
}

var (
	splitSig = signature{name: "split"}
	gpuSig   = signature{name: "gpu", params: []string{"n"}, required: []string{"n"}}
)

// ResolvePlace checks a call as a placement; see ResolveInit.
func ResolvePlace(c *Call, posOf func(int) diag.Pos) (*Place, diag.List) {
	loc := newLocator(diag.Pos{}, posOf)
	var diags diag.List
	checkArgs(c, loc, &diags)
	p := &Place{Pos: c.Pos}
	switch c.Name {
	case "split":
		p.Split = true
		bind(c, splitSig, loc, &diags)
	case "gpu":
		b := bind(c, gpuSig, loc, &diags)
		var ok bool
		if p.GPU, ok = integer(b, "n", c.Name, 0, loc, &diags); ok && p.GPU < 0 {
			diags.Add(loc.at(b["n"].Pos), "argument \"n\" to gpu must be at least 0, found %d", p.GPU)
		}
	default:
		diags.Add(loc.at(c.Pos), "unknown placement %q; expected split or gpu(n)", c.Name)
	}
	if len(diags) > 0 {
		return nil, diags.Sort()
	}
	return p, nil
}
