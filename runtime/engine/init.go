package engine

import (
	"fmt"

	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/compiler/plan"
	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/spec/expr"
)

// Init draws every weight and bias from its layer's initialiser (paper §5:
// N(0, 0.01²) weights, biases 0 or 1), and zeroes the momenta. On an engine
// that has not run yet the momenta are zero already, and are left untouched
// so that a model that only infers never makes their pages resident.
func (e *Engine) Init(seed uint64) {
	g := e.Plan.Graph
	for i, b := range g.Params() {
		l := g.Net.Layer(b.Layer)
		in := l.Spec.Weights
		if b.Role == lower.Bias {
			in = l.Spec.Bias
		}
		Fill(e.F32(plan.Train, b.Name), in, cpu.NewRNG(seed, cpu.ParamStream(i)))
		if !e.fresh {
			clear(e.F32(plan.Train, b.Name+".momentum"))
		}
	}
}

// Fill draws a tensor from an initialiser.
func Fill(w []float32, in *expr.Init, rng *cpu.RNG) {
	switch in.Kind {
	case expr.Normal:
		cpu.FillNormal(w, in.Mean, in.Std, rng)
	case expr.Uniform:
		cpu.FillUniform(w, in.Low, in.High, rng)
	case expr.Constant:
		cpu.FillConstant(w, in.Value)
	default:
		panic(fmt.Sprintf("engine: unknown initialiser %v", in))
	}
}
