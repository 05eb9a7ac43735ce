package cudagen_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/cudagen"
	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/cuda"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
)

// emuCase is a network at a batch.
type emuCase struct {
	spec, variant string
	batch         int
}

func (c emuCase) String() string {
	s := strings.TrimSuffix(filepath.Base(c.spec), ".toml")
	if c.variant != "" {
		s += "/" + c.variant
	}
	return fmt.Sprintf("%s@%d", s, c.batch)
}

// emuCases are small networks that between them launch every kernel of the
// plan's table, at batches of 2 or 3 so that loops run more than once.
var emuCases = []emuCase{
	{"../../testdata/alexnet-small.toml", "", 3},
	{"../../examples/fashion.toml", "tanh", 2},
	{"../../examples/cifar-4layer.toml", "", 2},
}

// compileCase compiles a case's spec.
func compileCase(t *testing.T, c emuCase) *plan.Plan {
	t.Helper()
	src, err := os.ReadFile(c.spec)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse(filepath.Base(c.spec), src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	p, err := compiler.CompileSpec(s, c.variant, compiler.Options{Batch: c.batch})
	if err != nil {
		t.Fatal(err)
	}
	if probs := plan.Verify(p); len(probs) > 0 {
		t.Fatalf("the plan fails verification: %v", probs[0])
	}
	return p
}

// emuSeed seeds the dropout draws of the emulated runs.
const emuSeed = 11

// TestKernelsOnCPU compiles the generated CUDA C with the host's C++
// compiler (testdata/emu/cuda_on_cpu.h stands in for the CUDA runtime),
// runs two training steps and an inference pass of each plan in it exactly
// as runtime/cuda issues them, and compares the parameters, gradients,
// momenta, loss and probabilities with the CPU engine given the same start
// and the same dropout masks. It checks the kernels' arithmetic and
// indexing, the constants the generator bakes in, and the argument order;
// what only a GPU shows (races, timing, the driver) is for the device check.
func TestKernelsOnCPU(t *testing.T) {
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++: the generated kernels are not run on the CPU")
	}
	emu, err := filepath.Abs("testdata/emu")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range emuCases {
		t.Run(c.String(), func(t *testing.T) {
			p := compileCase(t, c)
			m, err := cudagen.Generate(p)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			bin := filepath.Join(dir, "emu")
			src := filepath.Join(dir, "emu.cc")
			if err := os.WriteFile(src, []byte(emuProgram(emu, m)), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(cxx, "-O1", "-std=c++17", "-U_FORTIFY_SOURCE", "-o", bin, src).CombinedOutput(); err != nil {
				t.Fatalf("g++: %v\n%s", err, out)
			}

			e := engine.New(p, 1)
			e.LR = 0.01
			start(e)
			var script bytes.Buffer
			for d, a := range e.Arenas {
				file := filepath.Join(dir, fmt.Sprintf("arena%d", d))
				if err := os.WriteFile(file, a.U8(0, a.Size()), 0o644); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&script, "arena %d %d %s\n", d, a.Size(), file)
			}
			runs := []plan.Program{plan.Train, plan.Train, plan.Infer}
			count := map[plan.Program]uint64{}
			for _, prog := range runs {
				if err := writeScript(&script, m, p.Launches[prog], count[prog], e.LR); err != nil {
					t.Fatal(err)
				}
				cuda.Reference(e, prog, emuSeed, count[prog])
				count[prog]++
			}
			script.WriteString("end\n")
			scriptFile := filepath.Join(dir, "script")
			if err := os.WriteFile(scriptFile, script.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, scriptFile).CombinedOutput(); err != nil {
				t.Fatalf("emulated run: %v\n%s", err, out)
			}
			got := make([]*cpu.Arena, len(e.Arenas))
			for d, a := range e.Arenas {
				b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("arena%d", d)))
				if err != nil {
					t.Fatal(err)
				}
				got[d] = cpu.NewArena(a.Size())
				copy(got[d].U8(0, a.Size()), b)
			}
			train, infer := cuda.Results(p)
			worst, at := 0.0, ""
			for _, prog := range plan.Programs {
				names := train
				if prog == plan.Infer {
					names = infer
				}
				for _, name := range names {
					b := p.Buffer(name)
					d := cuda.Compare(got[b.Device].F32(b.Offset[prog], b.Elems()), e.F32(prog, name))
					if !d.Within(emuTolerance) {
						t.Errorf("%s %s: %v", prog, name, d)
					}
					if d.Norm >= worst {
						worst, at = d.Norm, name
					}
				}
			}
			t.Logf("%d functions; largest difference from the CPU engine: %s, norm %.2g", len(m.Funcs), at, worst)
		})
	}
}

// emuTolerance bounds the norm-wise difference from the CPU engine: both
// sides compute in float32 and differ only in the order of their sums.
const emuTolerance = 1e-5

// start gives the engine random weights of N(0, 0.1²), large enough that
// every layer's output matters, and random images and labels.
func start(e *engine.Engine) {
	rng := cpu.NewRNG(3, 1)
	for _, b := range e.Plan.Params() {
		w := e.F32(plan.Train, b.Name)
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	cuda.RandomBatch(e, 3)
}

// writeScript appends a program's launches to the emulator's script, loops
// unrolled as the backend issues them.
func writeScript(w *bytes.Buffer, m *cudagen.Module, ls []plan.Launch, run uint64, lr float32) error {
	return plan.Issue(ls, func(l *plan.Launch, it int) error {
		switch l.Kind {
		case plan.CopyLaunch:
			src, dst := l.Args[0], l.Args[1]
			fmt.Fprintf(w, "copy %d %d %d %d %d %d %d %d\n", src.Device, src.Address(it), src.Pitch,
				dst.Device, dst.Address(it), dst.Pitch, src.Rows, src.RowBytes)
		case plan.KernelLaunch:
			fn := m.Func(l)
			if fn == nil || fn.Name != l.Func {
				return fmt.Errorf("launch %d: no function for %s", l.Index, l.Kernel)
			}
			fmt.Fprintf(w, "kernel %s %d %d %d %d %d %d %d", fn.Name, l.Grid[0], l.Grid[1], l.Grid[2],
				l.Block[0], l.Block[1], l.Block[2], len(fn.Params))
			for _, a := range l.Args {
				fmt.Fprintf(w, " p %d %d", a.Device, a.Address(it))
			}
			for _, r := range l.Runtime {
				switch r {
				case "lr":
					fmt.Fprintf(w, " f %d", math.Float32bits(lr))
				case "seed":
					fmt.Fprintf(w, " u %d", cuda.LaunchSeed(emuSeed, run, l.Index))
				default:
					return fmt.Errorf("launch %d: unknown runtime scalar %s", l.Index, r)
				}
			}
			w.WriteString("\n")
		}
		return nil
	})
}

// emuProgram is the C++ translation unit: the shim, the module's source,
// a table of its functions, and the script runner.
func emuProgram(dir string, m *cudagen.Module) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#include %q\n", filepath.Join(dir, "cuda_on_cpu.h"))
	b.WriteString(m.Source)
	b.WriteString("\n#include \"" + filepath.Join(dir, "run.cc") + "\"\n")
	for _, fn := range m.Funcs {
		var args []string
		for i, p := range fn.Params {
			args = append(args, fmt.Sprintf("*(%s*)a[%d]", p.Type, i))
		}
		fmt.Fprintf(&b, "static void emu_%s(void** a) { %s(%s); }\n", fn.Name, fn.Name, strings.Join(args, ", "))
	}
	b.WriteString("EmuKernel emu_kernels[] = {\n")
	for _, fn := range m.Funcs {
		fmt.Fprintf(&b, "\t{%q, emu_%s, %v},\n", fn.Name, fn.Name, fn.Barrier)
	}
	fmt.Fprintf(&b, "};\nint emu_kernel_count = %d;\n", len(m.Funcs))
	return b.String()
}
