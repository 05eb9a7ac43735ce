package plan

import (
	"github.com/alexnetc/alexnetc/compiler/lower"
)

// Plan is a lowered graph with its memory plan and its CUDA launch plan.
type Plan struct {
	Graph   *lower.Graph
	Options Options // what it was built with
	Memory  Memory
	// Launches[program] is the program's launch plan, in issue order.
	Launches [2][]Launch
}

// Options change how a graph is planned.
type Options struct {
	// KeepAll keeps every buffer alive through its whole program, so that
	// every layer's output can be read after a run: for debugging and for
	// the tests that compare each layer with PyTorch. It costs memory, and
	// it turns off FusedLRNPool, which leaves an LRN's output unwritten.
	KeepAll bool
}

// Build plans a lowered graph.
func Build(g *lower.Graph) *Plan { return BuildWith(g, Options{}) }

// BuildWith plans a lowered graph with options.
func BuildWith(g *lower.Graph, opt Options) *Plan {
	p := &Plan{Graph: g, Options: opt, Memory: layout(g, opt)}
	for _, prog := range Programs {
		p.Launches[prog] = schedule(g, p.Memory, prog)
	}
	return p
}

// Offset returns the byte offset of a buffer in its device's arena for the
// program, or -1.
func (p *Plan) Offset(prog Program, b *lower.Buffer) int64 { return p.Memory.Offset[prog][b.ID] }

// Transfers returns the program's copies between devices, in issue order.
func (p *Plan) Transfers(prog Program) []*Launch {
	var out []*Launch
	for i := range p.Launches[prog] {
		if l := &p.Launches[prog][i]; l.Peer() {
			out = append(out, l)
		}
	}
	return out
}
