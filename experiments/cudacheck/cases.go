// Package cudacheck holds the networks the CUDA device check and bench
// run, and compiles them with their kernels: the part of the check that
// needs the compiler, kept out of runtime/cuda.
package cudacheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/cudagen"
	"github.com/alexnetc/alexnetc/examples"
	"github.com/alexnetc/alexnetc/runtime/cuda"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
)

// Case is one network at one batch size, as the device check runs it.
type Case struct {
	Spec    string // path from the repository root, e.g. examples/alexnet.toml
	Variant string // "" for the base network
	Batch   int
}

func (c Case) String() string {
	s := strings.TrimSuffix(filepath.Base(c.Spec), ".toml")
	if c.Variant != "" {
		s += "/" + c.Variant
	}
	return fmt.Sprintf("%s@%d", s, c.Batch)
}

// CheckCases are the networks whose GPU results the device check compares
// with the CPU engine: the paper's two-GPU network at a reduced batch, the
// one-GPU net of §3.2, and the small nets, which between them launch every
// kernel of the plan's table (average pooling in cifar-4layer, tanh in
// fashion's variant).
var CheckCases = []Case{
	{"examples/alexnet.toml", "", 8},
	{"examples/alexnet-1gpu.toml", "", 8},
	{"examples/fashion.toml", "", 32},
	{"examples/fashion.toml", "tanh", 16},
	{"examples/cifar-4layer.toml", "", 16},
	{"testdata/alexnet-small.toml", "", 8},
}

// BenchCases are the networks the bench times, at the paper's batch.
var BenchCases = []Case{
	{"examples/alexnet.toml", "", 128},
	{"examples/alexnet-1gpu.toml", "", 128},
}

// LoadPlan reads a case's spec from under root (an example missing there
// comes from the copies embedded in the examples package), compiles its
// variant at its batch, and generates its kernels (Kernels).
func LoadPlan(root string, c Case) (*plan.Plan, *cudagen.Module, error) {
	src, err := os.ReadFile(filepath.Join(root, c.Spec))
	if errors.Is(err, fs.ErrNotExist) && strings.HasPrefix(c.Spec, "examples/") {
		src, err = examples.FS.ReadFile(strings.TrimPrefix(c.Spec, "examples/"))
	}
	if err != nil {
		return nil, nil, err
	}
	s, diags := spec.Parse(c.Spec, src)
	if len(diags) > 0 {
		return nil, nil, diags
	}
	p, err := compiler.CompileSpec(s, c.Variant, compiler.Options{Batch: c.Batch})
	if err != nil {
		return nil, nil, err
	}
	m, err := Kernels(p)
	return p, m, err
}

// Kernels generates a plan's CUDA module; cudagen.Generate records it in
// the plan (the module's hash, each kernel launch's function).
func Kernels(p *plan.Plan) (*cudagen.Module, error) { return cudagen.Generate(p) }

// FindPTX reads a module's PTX from dir. When dir lacks it and a CUDA
// toolkit is on PATH, it compiles the module's source instead and reports
// that it did.
func FindPTX(dir string, m *cudagen.Module) (ptx []byte, compiled bool, err error) {
	ptx, err = os.ReadFile(filepath.Join(dir, cuda.PTXName(m.Hash)))
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ptx, false, err
	}
	tk, terr := cudagen.FindToolkit("")
	if terr != nil {
		return nil, false, fmt.Errorf("no %s in %s, and no CUDA toolkit on PATH to compile it: %v", cuda.PTXName(m.Hash), dir, terr)
	}
	ptx, err = tk.PTX(m.Source, cuda.PTXArch)
	return ptx, err == nil, err
}

// WritePTX compiles a module with a toolkit and writes its source and PTX
// into dir under cuda.PTXName.
func WritePTX(tk *cudagen.Toolkit, dir string, m *cudagen.Module) error {
	ptx, err := tk.PTX(m.Source, cuda.PTXArch)
	if err != nil {
		return err
	}
	base := filepath.Join(dir, cuda.PTXName(m.Hash))
	if err := os.WriteFile(base[:len(base)-len(".ptx")]+".cu", []byte(m.Source), 0o644); err != nil {
		return err
	}
	return os.WriteFile(base, ptx, 0o644)
}
