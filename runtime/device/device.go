// Package device is the backend contract: what a machine that runs plans
// must do. The CPU engine (runtime/engine) and the CUDA backend
// (runtime/cuda, behind the cuda build tag) implement it; training,
// evaluation, prediction and bench (runtime/train, cmd/alexnetc) use only
// it, so that each runs on either.
//
// A backend owns one arena per device of the plan, laid out as the memory
// plan says, and runs the plan's programs: every step's kernels, the copies
// between devices, and (on a GPU) the events that order its streams. The
// host reaches the arenas only by copies in and out, by buffer name.
package device

import (
	"fmt"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Backend runs one plan.
type Backend interface {
	// Name says what it runs on, for logs: "cpu", "cuda (2 × NVIDIA H100)".
	Name() string
	// Plan is the plan it runs; its arenas were allocated when it was made.
	Plan() *plan.Plan

	// Write copies host values into a buffer as the program lays it out:
	// []float32 for f32 buffers, []int32 for i32, of the buffer's length.
	// Persistent buffers (weights, biases, momenta) are the same in both
	// programs.
	Write(prog plan.Program, name string, src any) error
	// Read copies a buffer out to host values, as Write takes them. It
	// waits for the work that writes the buffer.
	Read(prog plan.Program, name string, dst any) error

	// SetLR sets the learning rate of the training steps that follow.
	SetLR(lr float32)
	// Run runs a program once: each step in order, with its copies between
	// devices and the waits on events it needs. It may return before the
	// work is done; Read and Synchronize wait for it.
	Run(prog plan.Program) error
	// Loss is the loss of the last training step.
	Loss() (float64, error)
	// Synchronize waits until all work issued so far is done, and reports
	// a failure of any of it.
	Synchronize() error
	// Close frees the arenas.
	Close() error
}

// Names lists the backends a command can name with --device.
var Names = []string{"cpu", "cuda"}

// ErrNotBuilt says a backend is not in this binary.
type ErrNotBuilt struct {
	Backend string
	Build   string // how to get a binary that has it
}

func (e ErrNotBuilt) Error() string {
	return fmt.Sprintf("this alexnetc was built without %s support; build one that has it with %s", e.Backend, e.Build)
}

// CheckLengths is what Write and Read check of host values against a
// buffer, for backends to share.
func CheckLengths(b *plan.Buffer, values any) error {
	var n int
	var dt plan.DType
	switch v := values.(type) {
	case []float32:
		n, dt = len(v), plan.F32
	case []int32:
		n, dt = len(v), plan.I32
	case []uint8:
		n, dt = len(v), plan.U8
	default:
		return fmt.Errorf("buffer %s: host values of type %T", b.Name, values)
	}
	if dt != b.DType {
		return fmt.Errorf("buffer %s holds %s, the host values are %s", b.Name, b.DType, dt)
	}
	if int64(n) != b.Elems() {
		return fmt.Errorf("buffer %s holds %d values, the host has %d", b.Name, b.Elems(), n)
	}
	return nil
}

// Generators is what a backend with random generators (dropout's, one per
// device) has to let a checkpoint save and restore them, so that a resumed
// run draws what an uninterrupted one would.
type Generators interface {
	Generators() ([][]byte, error)
	SetGenerators(states [][]byte) error
}
