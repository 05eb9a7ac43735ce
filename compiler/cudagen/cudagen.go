// Package cudagen writes the CUDA C source of the kernels that launch plans
// name: for every kernel of the plan's table and every set of constants a
// launch gives it, one extern "C" __global__ function that calls the
// kernel's body (kernels.cuh) with the constants written out, so that each
// is compiled for exactly the sizes it runs at. Generate is the stage's
// entry point; PTX compiles the source with nvcc when a toolkit is at hand.
//
// The module's functions are named KERNEL_N, N counting that kernel's
// specialisations in order of first use; Module.Func finds the function of
// a launch. A function with no parameters named alexnetc_module_HASH marks
// the module, so that the runtime can tell that the PTX it loads was
// compiled from the source it expects.
package cudagen

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

//go:embed kernels.cuh
var kernelBodies string

// Param is one parameter of a generated function.
type Param struct {
	Name string // the plan's argument or runtime scalar name
	Type string // its C type
}

// Func is one generated __global__ function: a kernel of the plan's table
// specialised for one set of constants.
type Func struct {
	Name      string // in the module, e.g. "sgemm_3"
	Kernel    string // the plan's kernel, e.g. "sgemm"
	Constants plan.Values
	// Params are the buffers, in the plan's order, then the runtime scalars.
	Params []Param
	// Restrict marks the pointers __restrict__: no launch of the function
	// passes a buffer it writes overlapping another of its arguments.
	Restrict bool
	Block    [3]int
	Shared   int      // static shared memory the kernel declares, in bytes
	Barrier  bool     // the kernel synchronises its block (__syncthreads)
	Layers   []string // the spec layers that launch it, in order of first use
	Note     string   // the note of its first launch
}

// Module is the generated source of one or more plans.
type Module struct {
	Source string // CUDA C, a translation unit of its own
	Hash   string // hex SHA-256 of Source up to the marker function
	Funcs  []*Func
	byKey  map[string]*Func
}

// Marker is the name of the function that identifies the module.
func (m *Module) Marker() string { return "alexnetc_module_" + m.Hash[:16] }

// Func returns the function a kernel launch calls, or nil when the module
// was not generated from the launch's plan.
func (m *Module) Func(l *plan.Launch) *Func {
	if l.Kind != plan.KernelLaunch {
		return nil
	}
	return m.byKey[key(l)]
}

// maxWork bounds the work of one launch: the kernels index in int.
const maxWork = math.MaxInt32 - 1024

// Generate writes the module of the given plans: one function per distinct
// (kernel, constants) over all their launches, in order of first use. It
// records the module in each plan: Plan.Module names it, and each kernel
// launch's Func names the function it calls, so that a backend given the
// plan and the module's PTX (or, emulated, its source) needs nothing else.
func Generate(plans ...*plan.Plan) (*Module, error) {
	m := &Module{byKey: map[string]*Func{}}
	count := map[string]int{}
	var errs []string
	for _, p := range plans {
		for _, prog := range plan.Programs {
			for i := range p.Launches[prog] {
				l := &p.Launches[prog][i]
				if l.Kind != plan.KernelLaunch {
					continue
				}
				k := key(l)
				if fn := m.byKey[k]; fn != nil {
					if l.Layer != "" && !slices.Contains(fn.Layers, l.Layer) {
						fn.Layers = append(fn.Layers, l.Layer)
					}
					continue
				}
				fn, err := newFunc(l, count[l.Kernel])
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s %s: launch %d: %v", p.Network, prog, l.Index, err))
					continue
				}
				count[l.Kernel]++
				m.byKey[k] = fn
				m.Funcs = append(m.Funcs, fn)
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("cudagen: %s", strings.Join(errs, "\n"))
	}
	m.Source, m.Hash = source(plans, m.Funcs)
	for _, p := range plans {
		p.Module = plan.Module{Hash: m.Hash, Functions: len(m.Funcs)}
		for _, prog := range plan.Programs {
			for i := range p.Launches[prog] {
				if l := &p.Launches[prog][i]; l.Kind == plan.KernelLaunch {
					l.Func = m.byKey[key(l)].Name
				}
			}
		}
	}
	return m, nil
}

// key identifies a specialisation: the kernel, its constants, and whether
// its pointers may be restrict.
func key(l *plan.Launch) string {
	var b strings.Builder
	b.WriteString(l.Kernel)
	for _, c := range l.Constants {
		b.WriteString(" " + c.Name + "=" + literal(c))
	}
	if restrictable(l) {
		b.WriteString(" restrict")
	}
	return b.String()
}

// restrictable reports whether no argument a launch writes shares a byte
// with another of its arguments, over all iterations of its loop.
func restrictable(l *plan.Launch) bool {
	span := func(a plan.Arg) (lo, hi int64) {
		lo = a.Offset + a.Start
		hi = lo + (a.Rows-1)*a.Pitch + a.RowBytes + int64(max(l.Count, 1)-1)*a.Advance
		return
	}
	for i, a := range l.Args {
		for _, b := range l.Args[i+1:] {
			if a.Device != b.Device || !(a.Access != plan.Read || b.Access != plan.Read) {
				continue
			}
			alo, ahi := span(a)
			blo, bhi := span(b)
			if alo < bhi && blo < ahi {
				return false
			}
		}
	}
	return true
}

func newFunc(l *plan.Launch, n int) (*Func, error) {
	spec := plan.CUDAKernelNamed(l.Kernel)
	if spec == nil {
		return nil, fmt.Errorf("no CUDA kernel %q", l.Kernel)
	}
	if len(l.Args) != len(spec.Args) {
		return nil, fmt.Errorf("%s takes %d buffers, the launch passes %d", l.Kernel, len(spec.Args), len(l.Args))
	}
	fn := &Func{Name: fmt.Sprintf("%s_%d", l.Kernel, n), Kernel: l.Kernel, Constants: l.Constants,
		Restrict: restrictable(l), Block: spec.Block, Shared: spec.Shared, Barrier: spec.Barrier, Note: l.Note}
	if l.Layer != "" {
		fn.Layers = []string{l.Layer}
	}
	for i, a := range l.Args {
		if a.Name != spec.Args[i] {
			return nil, fmt.Errorf("%s's buffer %d is %s, the launch passes %s", l.Kernel, i, spec.Args[i], a.Name)
		}
		fn.Params = append(fn.Params, Param{a.Name, spec.Types[a.Name]})
	}
	for _, r := range spec.Runtime {
		fn.Params = append(fn.Params, Param{r, spec.Types[r]})
	}
	for _, p := range fn.Params {
		if p.Type == "" {
			return nil, fmt.Errorf("%s: no C type for %s", l.Kernel, p.Name)
		}
	}
	if l.Block != spec.Block {
		return nil, fmt.Errorf("%s is written for blocks of %v, the launch has %v", l.Kernel, spec.Block, l.Block)
	}
	if work := int64(l.Grid[0]) * int64(l.Grid[1]) * int64(l.Grid[2]) * int64(l.Block[0]*l.Block[1]*l.Block[2]); work > maxWork {
		return nil, fmt.Errorf("%s launches %d threads, more than int indices allow", l.Kernel, work)
	}
	return fn, nil
}

// literal writes a constant as C: integers plainly, float32 values as the
// shortest decimal that reads back as the same float32, with an f suffix.
func literal(c plan.Value) string {
	if !c.Float {
		return strconv.FormatInt(int64(c.V), 10)
	}
	v := float32(c.V)
	switch {
	case math.IsInf(float64(v), 1):
		return "INFINITY"
	case math.IsInf(float64(v), -1):
		return "(-INFINITY)"
	case v != v:
		return "NAN"
	}
	s := strconv.FormatFloat(float64(v), 'g', -1, 32)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s + "f"
}

// source writes the translation unit: a header naming the plans, the
// kernel bodies, the specialised functions and the marker.
func source(plans []*plan.Plan, funcs []*Func) (src, hash string) {
	var b strings.Builder
	var names []string
	for _, p := range plans {
		name := p.Network
		if p.Variant != "" {
			name += " (variant " + p.Variant + ")"
		}
		names = append(names, fmt.Sprintf("%s at batch %d", name, p.Batch))
	}
	from := "a launch plan"
	if len(plans) > 0 && plans[0].Source != "" {
		from = plans[0].Source
	}
	fmt.Fprintf(&b, "// Code generated by alexnetc from %s. DO NOT EDIT.\n", from)
	fmt.Fprintf(&b, "//\n// The CUDA kernels of %s: %d functions.\n", strings.Join(names, ", "), len(funcs))
	b.WriteString("// Each calls one kernel body with the constants of its launches.\n\n")
	b.WriteString(kernelBodies)
	for _, fn := range funcs {
		b.WriteString("\n")
		writeFunc(&b, fn)
	}
	sum := sha256.Sum256([]byte(b.String()))
	hash = hex.EncodeToString(sum[:])
	fmt.Fprintf(&b, "\n// The module's mark: runtime/cuda checks that the PTX it loads has it.\nextern \"C\" __global__ void alexnetc_module_%s(void) {}\n", hash[:16])
	return b.String(), hash
}

func writeFunc(b *strings.Builder, fn *Func) {
	var consts []string
	for _, c := range fn.Constants {
		consts = append(consts, c.Name+"="+literal(c))
	}
	fmt.Fprintf(b, "// %s: %s\n", fn.Name, strings.Join(consts, " "))
	if len(fn.Layers) > 0 {
		fmt.Fprintf(b, "// for %s", strings.Join(fn.Layers, ", "))
		if fn.Note != "" {
			fmt.Fprintf(b, "; first %s", fn.Note)
		}
		b.WriteString("\n")
	}
	restrict := ""
	if fn.Restrict {
		restrict = " __restrict__"
	}
	var params, args []string
	for _, p := range fn.Params {
		t := p.Type
		if strings.HasSuffix(t, "*") {
			t += restrict
		}
		params = append(params, t+" "+p.Name)
		args = append(args, p.Name)
	}
	for _, c := range fn.Constants {
		args = append(args, literal(c))
	}
	threads := fn.Block[0] * fn.Block[1] * fn.Block[2]
	fmt.Fprintf(b, "extern \"C\" __global__ void __launch_bounds__(%d) %s(%s) {\n\t%s(%s);\n}\n",
		threads, fn.Name, strings.Join(params, ", "), fn.Kernel, strings.Join(args, ", "))
}
