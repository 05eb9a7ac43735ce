package planner_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// TestFusedLRNPool: in the paper network, norm1/pool1 and norm2/pool2 of
// each tower run as one pass in both programs, and the memory plan makes
// that safe; a plan that keeps every buffer fuses nothing.
func TestFusedLRNPool(t *testing.T) {
	n := network(t, "../../examples/alexnet.toml", "")
	p := build(t, n, compiler.Options{Batch: 2})
	want := []string{"norm1/pool1@0", "norm2/pool2@0", "norm1/pool1@1", "norm2/pool2@1"}
	for _, prog := range plan.Programs {
		pair := p.FusedLRNPool(prog)
		steps := p.Steps[prog]
		var got []string
		for i, j := range pair {
			if j < 0 {
				continue
			}
			if pair[j] != i {
				t.Fatalf("%s: step %d pairs with %d, which pairs with %d", prog, i, j, pair[j])
			}
			if j < i {
				continue
			}
			s, q := steps[i], steps[j]
			if s.Kernel != plan.LRNForward || q.Kernel != plan.MaxPoolForward || q.Arg("x") != s.Arg("y") {
				t.Fatalf("%s: steps %d (%s) and %d (%s) are no LRN and the pooling of its output", prog, i, s.Kernel, j, q.Kernel)
			}
			// The pass writes the pooling's outputs while it reads the
			// LRN's input: they must not share bytes.
			x := s.Arg("x")
			for _, o := range []*plan.Buffer{q.Arg("y"), q.Arg("argmax")} {
				ox, oo := x.Offset[prog], o.Offset[prog]
				if ox < oo+o.Bytes() && oo < ox+x.Bytes() {
					t.Errorf("%s: %s and %s share bytes", prog, x.Name, o.Name)
				}
			}
			got = append(got, fmt.Sprintf("%s/%s@%d", s.Layer, q.Layer, s.Device))
		}
		slices.SortStableFunc(got, func(a, b string) int { return int(a[len(a)-1]) - int(b[len(b)-1]) })
		if !slices.Equal(got, want) {
			t.Errorf("%s: fused %v, want %v", prog, got, want)
		}
	}
	keep := build(t, n, compiler.Options{Batch: 2, KeepAll: true})
	for _, prog := range plan.Programs {
		for i, j := range keep.FusedLRNPool(prog) {
			if j >= 0 {
				t.Errorf("%s: the keep-all plan fuses steps %d and %d", prog, i, j)
			}
		}
	}
}
