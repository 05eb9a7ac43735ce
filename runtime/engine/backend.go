package engine

import (
	"fmt"

	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// CPU is the engine as a device.Backend: the CPU backend of train, eval,
// predict and bench. Copies in and out are copies into the arenas; the
// steps run in order, so events need nothing and Synchronize is at once.
type CPU struct{ *Engine }

var _ device.Backend = CPU{}

// NewCPU makes the CPU backend of a plan.
func NewCPU(p *plan.Plan, seed uint64) CPU { return CPU{New(p, seed)} }

// Name is "cpu".
func (c CPU) Name() string { return "cpu" }

// Plan is the plan it runs.
func (c CPU) Plan() *plan.Plan { return c.Engine.Plan }

func (c CPU) lookup(prog plan.Program, name string, values any) (*plan.Buffer, error) {
	b := c.Engine.Plan.Buffer(name)
	if b == nil {
		return nil, fmt.Errorf("cpu: the plan has no buffer %q", name)
	}
	if b.Offset[prog] < 0 {
		return nil, fmt.Errorf("cpu: program %s has no place for buffer %s", prog, name)
	}
	return b, device.CheckLengths(b, values)
}

// Write copies host values into a buffer.
func (c CPU) Write(prog plan.Program, name string, src any) error {
	b, err := c.lookup(prog, name, src)
	if err != nil {
		return err
	}
	switch v := src.(type) {
	case []float32:
		copy(c.Arenas[b.Device].F32(b.Offset[prog], b.Elems()), v)
	case []int32:
		copy(c.Arenas[b.Device].I32(b.Offset[prog], b.Elems()), v)
	case []uint8:
		copy(c.Arenas[b.Device].U8(b.Offset[prog], b.Elems()), v)
	}
	return nil
}

// Read copies a buffer out.
func (c CPU) Read(prog plan.Program, name string, dst any) error {
	b, err := c.lookup(prog, name, dst)
	if err != nil {
		return err
	}
	switch v := dst.(type) {
	case []float32:
		copy(v, c.Arenas[b.Device].F32(b.Offset[prog], b.Elems()))
	case []int32:
		copy(v, c.Arenas[b.Device].I32(b.Offset[prog], b.Elems()))
	case []uint8:
		copy(v, c.Arenas[b.Device].U8(b.Offset[prog], b.Elems()))
	}
	return nil
}

// SetLR sets the learning rate.
func (c CPU) SetLR(lr float32) { c.LR = lr }

// Run runs a program.
func (c CPU) Run(prog plan.Program) error {
	c.Engine.Run(prog)
	return nil
}

// Loss is the last training step's loss.
func (c CPU) Loss() (float64, error) { return c.Engine.Loss, nil }

// Synchronize returns at once: the steps have run when Run returns.
func (c CPU) Synchronize() error { return nil }

// Close lets the arenas go.
func (c CPU) Close() error {
	c.Arenas = nil
	return nil
}

// Generators returns the dropout generators' states, one per device.
func (c CPU) Generators() ([][]byte, error) {
	var out [][]byte
	for _, r := range c.RNGs {
		b, err := r.MarshalBinary()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// SetGenerators restores the generators' states.
func (c CPU) SetGenerators(states [][]byte) error {
	if len(states) != len(c.RNGs) {
		return fmt.Errorf("%d generator states for %d devices", len(states), len(c.RNGs))
	}
	for i, b := range states {
		if err := c.RNGs[i].UnmarshalBinary(b); err != nil {
			return err
		}
	}
	return nil
}
