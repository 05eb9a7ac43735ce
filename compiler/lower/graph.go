// Package lower turns a checked network into a flat program per mode:
// inference (forward with dropout at test scale), and a training step
// (forward, softmax loss, backward, SGD update). Every step names one
// kernel of the op table (runtime/plan) with all its attributes fixed, the
// device it runs on, and the buffers it reads and writes. Where a layer
// reads another GPU's part, the program has an explicit copy between
// devices: those copies are what the two GPUs of the paper's network
// exchange. Lower is the stage's entry point; it fills in a plan's buffers
// and steps, and the planner the rest.
//
// Lowering reads only the op table: which kernel a layer's pass calls, the
// parameters it takes, the attributes and the shape of its weights. It
// never switches on the kind of a layer.
package lower

import (
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Options change how a network is lowered.
type Options struct {
	// Batch is the number of images per step; 0 takes [train] batch.
	Batch int
	// SingleDevice puts every GPU's part on device 0: the same computation
	// with the same weights, and no transfers. Tests compare it with the
	// two-device program.
	SingleDevice bool
}

// Shorthands for the plan's types.
type (
	buffer = plan.Buffer
	step   = plan.Step
)
