package cuda

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/compiler/plan"
	"github.com/alexnetc/alexnetc/examples"
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
// comes from the copies embedded in the examples package), applies its
// variant, and plans it at its batch.
func LoadPlan(root string, c Case) (*plan.Plan, error) {
	src, err := os.ReadFile(filepath.Join(root, c.Spec))
	if errors.Is(err, fs.ErrNotExist) && strings.HasPrefix(c.Spec, "examples/") {
		src, err = examples.FS.ReadFile(strings.TrimPrefix(c.Spec, "examples/"))
	}
	if err != nil {
		return nil, err
	}
	s, diags := spec.Parse(c.Spec, src)
	if len(diags) == 0 && c.Variant != "" {
		s, diags = s.ApplyVariant(c.Variant)
	}
	if len(diags) > 0 {
		return nil, diags
	}
	n, diags := check.Check(s)
	if len(diags) > 0 {
		return nil, diags
	}
	g, err := lower.Lower(n, lower.Options{Batch: c.Batch})
	if err != nil {
		return nil, err
	}
	p := plan.Build(g)
	if probs := plan.Verify(p); len(probs) > 0 {
		return nil, fmt.Errorf("%s: the plan fails verification: %v", c, probs[0])
	}
	return p, nil
}
