package planner_test

import (
	"os"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
)

// networks checks a spec file and returns its base network and every
// variant.
func networks(t *testing.T, path string) []*check.Network {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse(path, src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	nets, diags := check.Variants(s)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return nets
}

// network checks a spec file with a variant applied ("" for none).
func network(t *testing.T, path, variant string) *check.Network {
	t.Helper()
	for _, n := range networks(t, path) {
		if n.Variant == variant {
			return n
		}
	}
	t.Fatalf("%s has no variant %q", path, variant)
	return nil
}

// build compiles a network: lowering, memory plan, launch plan and the
// verifier, as compiler.Compile does for the CLI.
func build(t *testing.T, n *check.Network, opt compiler.Options) *plan.Plan {
	t.Helper()
	p, err := compiler.Compile(n, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func messages(probs []plan.Problem) []string {
	var out []string
	for _, p := range probs {
		out = append(out, p.Error())
	}
	return out
}
