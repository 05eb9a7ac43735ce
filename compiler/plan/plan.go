package plan

import (
	"github.com/alexnetc/alexnetc/compiler/lower"
)

// Plan is a lowered graph with its memory plan and its CUDA launch plan.
type Plan struct {
	Graph  *lower.Graph
	Memory Memory
}

// Build plans a lowered graph.
func Build(g *lower.Graph) *Plan {
	return &Plan{Graph: g, Memory: layout(g)}
}

// Offset returns the byte offset of a buffer in its device's arena for the
// program, or -1.
func (p *Plan) Offset(prog Program, b *lower.Buffer) int64 { return p.Memory.Offset[prog][b.ID] }
