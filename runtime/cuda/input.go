package cuda

import (
	"github.com/alexnetc/alexnetc/compiler/plan"
	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/engine"
)

// RandomBatch writes images of N(0, 1) pixels and uniformly drawn labels
// into an engine: the input of the device check and the bench, which need
// no data set.
func RandomBatch(e *engine.Engine, seed uint64) {
	rng := cpu.NewRNG(seed, 7)
	x := e.F32(plan.Train, "data")
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	_, outputs := Results(e.Plan)
	classes := uint32(len(e.F32(plan.Infer, outputs[0])) / e.Plan.Graph.Batch)
	labels := e.I32(plan.Train, "labels")
	for i := range labels {
		labels[i] = int32(rng.Uint32() % classes)
	}
}
