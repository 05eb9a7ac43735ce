package cuda

import (
	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// RandomBatch writes images of N(0, 1) pixels and uniformly drawn labels
// into an engine: the input of the device check and the bench, which need
// no data set.
func RandomBatch(e *engine.Engine, seed uint64) {
	rng := cpu.NewRNG(seed, 7)
	x := e.F32(plan.Train, e.Plan.Model.Input)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := e.I32(plan.Train, e.Plan.Model.Labels)
	for i := range labels {
		labels[i] = int32(rng.Uint32() % uint32(e.Plan.Model.Classes))
	}
}

// Load copies the front of every device's arena from a CPU engine of the
// same plan: weights, biases, gradients, momenta, images, labels and
// outputs, which both backends keep at the memory plan's offsets.
func (b *Backend) Load(e *engine.Engine) error {
	for d, dm := range b.plan.Memory.Devices {
		if err := b.WriteArena(d, 0, e.Arenas[d].U8(0, dm.Persistent)); err != nil {
			return err
		}
	}
	return nil
}

// Store copies the same part of every arena back into a CPU engine of the
// same plan.
func (b *Backend) Store(e *engine.Engine) error {
	for d, dm := range b.plan.Memory.Devices {
		if err := b.ReadArena(d, 0, e.Arenas[d].U8(0, dm.Persistent)); err != nil {
			return err
		}
	}
	return nil
}
