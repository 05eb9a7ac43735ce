package cudagen_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

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
	tol           float64 // the bound on norm-wise differences; 0: emuTolerance
}

func (c emuCase) String() string {
	s := strings.TrimSuffix(filepath.Base(c.spec), ".toml")
	if c.variant != "" {
		s += "/" + c.variant
	}
	return fmt.Sprintf("%s@%d", s, c.batch)
}

// emuCases are small networks that between them launch every kernel of the
// plan's table, at batches of 2 or 3 so that loops run more than once, and
// the two-GPU Fashion-MNIST net with its copies between devices and
// dropout.
var emuCases = []emuCase{
	{"../../testdata/alexnet-small.toml", "", 3, 0},
	// Its ReLUs and dropout at batch 2 carry the sums' rounding through two
	// steps into the loss a little more than the tanh variant does.
	{"../../examples/fashion.toml", "", 2, 1e-4},
	{"../../examples/fashion.toml", "tanh", 2, 0},
	{"../../examples/cifar-4layer.toml", "", 2, 0},
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

// emuTolerance bounds the norm-wise difference from the CPU engine: both
// sides compute in float32 and differ only in the order of their sums.
const emuTolerance = 1e-5

// TestKernelsOnCPU runs the CUDA backend (runtime/cuda) on its emulated
// device with the generated CUDA C compiled for the host by g++
// (testdata/emu/cuda_on_cpu.h stands in for the CUDA runtime) as the
// device's kernels: two training steps and an inference pass of each plan,
// issued by the backend on its streams, with its events and copies between
// devices, and compared with the CPU engine given the same start and the
// same dropout masks (parameters, gradients, momenta, loss and
// probabilities). It checks the kernels' arithmetic and indexing, the
// constants the generator bakes in and the argument order, with the
// launches the backend makes; what only a GPU shows (races within a block,
// timing, the driver) is for the device check.
func TestKernelsOnCPU(t *testing.T) {
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++: the generated kernels are not run on the CPU")
	}
	emu, err := filepath.Abs("testdata/emu")
	if err != nil {
		t.Fatal(err)
	}
	launched := map[string]bool{}
	for _, c := range emuCases {
		t.Run(c.String(), func(t *testing.T) {
			p := compileCase(t, c)
			m, err := cudagen.Generate(p)
			if err != nil {
				t.Fatal(err)
			}
			hk, err := startHostKernels(cxx, emu, t.TempDir(), m)
			if err != nil {
				t.Fatal(err)
			}
			defer hk.close()
			em := cuda.NewEmulator(p.Devices())
			em.Kernels = hk
			b, err := cuda.New(p, []byte(m.Source), em, cuda.Options{Seed: emuSeed})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()

			e := engine.New(p, 1)
			start(e)
			e.LR = 0.01
			b.SetLR(e.LR)
			if err := b.Load(e); err != nil {
				t.Fatal(err)
			}
			count := map[plan.Program]uint64{}
			for _, prog := range []plan.Program{plan.Train, plan.Train, plan.Infer} {
				if err := b.Run(prog); err != nil {
					t.Fatal(err)
				}
				cuda.Reference(e, prog, emuSeed, count[prog])
				count[prog]++
			}
			got := engine.New(p, 1)
			if err := b.Store(got); err != nil {
				t.Fatal(err)
			}
			train, infer := cuda.Results(p)
			tol := c.tol
			if tol == 0 {
				tol = emuTolerance
			}
			worst, at, absMax := 0.0, "", 0.0
			for _, prog := range plan.Programs {
				names := train
				if prog == plan.Infer {
					names = infer
				}
				for _, name := range names {
					g, w := got.F32(prog, name), e.F32(prog, name)
					for i := range w {
						absMax = max(absMax, math.Abs(float64(g[i])-float64(w[i])))
					}
					d := cuda.Compare(g, w)
					if !d.Within(tol) {
						t.Errorf("%s %s: %v", prog, name, d)
					}
					if d.Norm >= worst {
						worst, at = d.Norm, name
					}
				}
			}
			hk.mu.Lock()
			for k := range hk.launched {
				launched[k] = true
			}
			n := hk.launches
			hk.mu.Unlock()
			t.Logf("%d functions, %d launches; largest difference from the CPU engine: %s, norm %.2g (tolerance %g); largest absolute difference %.3g", len(m.Funcs), n, at, worst, tol, absMax)
		})
	}
	if t.Failed() {
		return
	}
	for _, k := range plan.CUDAKernels {
		if k.Name != "fill" && !launched[k.Name] {
			t.Errorf("no case launched %s", k.Name)
		}
	}
}

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

// hostKernels runs a module's functions, compiled for the host, in a
// server process (testdata/emu/serve.cc) for the emulated device
// (cuda.KernelRunner). The two share a file mapped into both: each launch
// copies the buffers it points into there, runs, and copies back the ones
// it writes.
type hostKernels struct {
	mu       sync.Mutex
	funcs    map[string]*cudagen.Func
	cmd      *exec.Cmd
	in       io.WriteCloser
	out      *bufio.Reader
	stderr   bytes.Buffer
	file     *os.File
	mem      []byte
	launched map[string]bool // kernels of the plan's table run
	launches int
}

// startHostKernels compiles the module with the shim and the server and
// starts it.
func startHostKernels(cxx, emu, dir string, m *cudagen.Module) (*hostKernels, error) {
	src, bin := filepath.Join(dir, "emu.cc"), filepath.Join(dir, "emu")
	if err := os.WriteFile(src, []byte(emuProgram(emu, m)), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.Command(cxx, "-O1", "-std=c++17", "-U_FORTIFY_SOURCE", "-o", bin, src).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("g++: %v\n%s", err, out)
	}
	h := &hostKernels{funcs: map[string]*cudagen.Func{}, launched: map[string]bool{}}
	for _, fn := range m.Funcs {
		h.funcs[fn.Name] = fn
	}
	var err error
	if h.file, err = os.Create(filepath.Join(dir, "memory")); err != nil {
		return nil, err
	}
	h.cmd = exec.Command(bin)
	h.cmd.Stderr = &h.stderr
	if h.in, err = h.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	h.out = bufio.NewReader(out)
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	return h, nil
}

// grow makes the shared file at least n bytes, and has the server map it
// again.
func (h *hostKernels) grow(n int64) error {
	if n <= int64(len(h.mem)) {
		return nil
	}
	n = max(n, 2*int64(len(h.mem)), 1<<20)
	if h.mem != nil {
		if err := syscall.Munmap(h.mem); err != nil {
			return err
		}
		h.mem = nil
	}
	if err := h.file.Truncate(n); err != nil {
		return err
	}
	mem, err := syscall.Mmap(int(h.file.Fd()), 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return err
	}
	h.mem = mem
	_, err = fmt.Fprintf(h.in, "map %d %s\n", n, h.file.Name())
	return err
}

// Run runs one launch in the server.
func (h *hostKernels) Run(name string, l *plan.Launch, params []uint64, arg func(int) ([]byte, int64, error)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn := h.funcs[name]
	if fn == nil {
		return fmt.Errorf("the module has no function %s", name)
	}
	if len(params) != len(fn.Params) || len(l.Args) > len(params) {
		return fmt.Errorf("%s takes %d parameters, the launch passes %d", name, len(fn.Params), len(params))
	}
	// Lay out the buffers the launch points into, each once.
	type placed struct {
		buf   []byte
		off   int64
		write bool
	}
	var bufs []*placed
	where := map[*byte]*placed{}
	ptrs := make([]int64, len(l.Args))
	size := int64(0)
	for i, a := range l.Args {
		buf, at, err := arg(i)
		if err != nil {
			return err
		}
		pl := where[unsafe.SliceData(buf)]
		if pl == nil {
			pl = &placed{buf: buf, off: size}
			size += (int64(len(buf)) + 63) / 64 * 64
			where[unsafe.SliceData(buf)] = pl
			bufs = append(bufs, pl)
		}
		pl.write = pl.write || a.Access.Writes()
		ptrs[i] = pl.off + at
	}
	if err := h.grow(size); err != nil {
		return err
	}
	for _, pl := range bufs {
		copy(h.mem[pl.off:], pl.buf)
	}
	var line strings.Builder
	fmt.Fprintf(&line, "kernel %s %d %d %d %d %d %d %d", name, l.Grid[0], l.Grid[1], l.Grid[2], l.Block[0], l.Block[1], l.Block[2], len(params))
	for i, p := range fn.Params {
		switch {
		case i < len(l.Args):
			fmt.Fprintf(&line, " p %d", ptrs[i])
		case p.Type == "float":
			fmt.Fprintf(&line, " f %d", uint32(params[i]))
		default:
			fmt.Fprintf(&line, " u %d", params[i])
		}
	}
	line.WriteString("\n")
	if _, err := io.WriteString(h.in, line.String()); err != nil {
		return h.failed(err)
	}
	reply, err := h.out.ReadString('\n')
	if err != nil || reply != "ok\n" {
		return h.failed(fmt.Errorf("%s: %q, %v", name, reply, err))
	}
	for _, pl := range bufs {
		if pl.write {
			copy(pl.buf, h.mem[pl.off:pl.off+int64(len(pl.buf))])
		}
	}
	h.launched[fn.Kernel] = true
	h.launches++
	return nil
}

func (h *hostKernels) failed(err error) error {
	return fmt.Errorf("the host kernels' server: %v\n%s", err, h.stderr.String())
}

func (h *hostKernels) close() {
	h.in.Close()
	h.cmd.Wait()
	if h.mem != nil {
		syscall.Munmap(h.mem)
	}
	h.file.Close()
}

// emuProgram is the C++ translation unit: the shim, the module's source,
// the server, and a table of the module's functions.
func emuProgram(dir string, m *cudagen.Module) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#include %q\n", filepath.Join(dir, "cuda_on_cpu.h"))
	b.WriteString(m.Source)
	b.WriteString("\n#include \"" + filepath.Join(dir, "serve.cc") + "\"\n")
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
