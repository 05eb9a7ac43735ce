package engine

import (
	"fmt"

	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Init draws every weight and bias from its initialiser as the plan records
// it (paper §5: N(0, 0.01²) weights, biases 0 or 1), and zeroes the
// momenta. On an engine that has not run yet the momenta are zero already,
// and are left untouched so that a model that only infers never makes
// their pages resident.
func (e *Engine) Init(seed uint64) {
	for i, b := range e.Plan.Params() {
		Fill(e.F32(plan.Train, b.Name), b.Init, cpu.NewRNG(seed, cpu.ParamStream(i)))
		if !e.fresh {
			clear(e.F32(plan.Train, b.Name+".momentum"))
		}
	}
}

// Fill draws a tensor from an initialiser.
func Fill(w []float32, in *plan.Init, rng *cpu.RNG) {
	if in == nil {
		panic("engine: a learned buffer without an initialiser")
	}
	switch in.Kind {
	case plan.NormalInit:
		cpu.FillNormal(w, in.Mean, in.Std, rng)
	case plan.UniformInit:
		cpu.FillUniform(w, in.Low, in.High, rng)
	case plan.ConstantInit:
		cpu.FillConstant(w, in.Value)
	default:
		panic(fmt.Sprintf("engine: unknown initialiser %v", in))
	}
}
