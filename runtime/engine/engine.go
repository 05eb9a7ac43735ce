// Package engine runs a plan on the CPU: one arena per device as the memory
// plan lays it out, the steps in order, copies between devices as copies.
// It is the CPU backend of `alexnetc train`, eval, predict and bench; the
// generated Go code makes the same calls with the sizes written out.
//
// The engine knows no kind of step: each step's call is the op table's
// CPUCall (runtime/plan), a runtime/cpu type built from the step's
// attributes and one of its methods, bound once to the arenas' views of the
// step's buffers.
package engine

import (
	"fmt"

	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Engine holds a plan's memory and runs its programs.
type Engine struct {
	Plan   *plan.Plan
	Arenas []*cpu.Arena
	RNGs   []*cpu.RNG // one per device, for dropout
	LR     float32    // the learning rate of the next training step
	Loss   float64    // the loss of the last training step
	fresh  bool       // no program has run: the arenas are still all zero
	// fused[prog]: the LRN and pooling steps of the program that run as
	// one cpu.LRNMaxPool (plan.FusedLRNPool), worked out on its first run.
	fused map[plan.Program][]int
	calls [2][]func() // each program's bound step calls, made on its first run
	pairs map[[2]*plan.Step]func()
}

// New allocates the arenas of a plan. Every buffer starts at zero.
func New(p *plan.Plan, seed uint64) *Engine {
	e := &Engine{Plan: p, fresh: true, fused: map[plan.Program][]int{}}
	for d, dm := range p.Memory.Devices {
		e.Arenas = append(e.Arenas, cpu.NewArena(dm.Arena))
		e.RNGs = append(e.RNGs, cpu.NewRNG(seed, uint64(d)+1))
	}
	return e
}

// F32 returns a float32 buffer by name as the program lays it out.
// Persistent buffers are the same in both programs.
func (e *Engine) F32(prog plan.Program, name string) []float32 {
	b := e.buffer(name)
	return e.Arenas[b.Device].F32(e.offset(prog, b), b.Elems())
}

// I32 returns an int32 buffer by name.
func (e *Engine) I32(prog plan.Program, name string) []int32 {
	b := e.buffer(name)
	return e.Arenas[b.Device].I32(e.offset(prog, b), b.Elems())
}

func (e *Engine) buffer(name string) *plan.Buffer {
	b := e.Plan.Buffer(name)
	if b == nil {
		panic(fmt.Sprintf("engine: no buffer %q", name))
	}
	return b
}

func (e *Engine) offset(prog plan.Program, b *plan.Buffer) int64 {
	off := b.Offset[prog]
	if off < 0 {
		panic(fmt.Sprintf("engine: program %s does not use buffer %s", prog, b.Name))
	}
	return off
}

// Run runs a program once. The images, labels, probabilities and loss keep
// their place in both programs; everything else behind the weights is the
// program's scratch and does not survive a run of the other program.
//
// An LRN and the max pooling after it run as one pass where nothing else
// reads the LRN's output (plan.FusedLRNPool): that output is then not
// written. RunChecked runs every step on its own.
func (e *Engine) Run(prog plan.Program) { e.RunTimed(prog, nil) }

// RunTimed is Run, calling lap (when not nil) after each step. A fused
// LRN and pooling run where the LRN step is; lap sees the LRN step there,
// before the pair runs, and the pooling step right after it: the pair's
// time is the pooling's. At the pooling's own place nothing runs, and lap
// is not called.
func (e *Engine) RunTimed(prog plan.Program, lap func(*plan.Step)) {
	e.fresh = false
	steps := e.Plan.Steps[prog]
	calls := e.bound(prog)
	pair := e.Fused(prog)
	for i, s := range steps {
		switch j := pair[i]; {
		case j > i:
			if lap != nil {
				lap(s)
			}
			e.lrnPool(prog, s, steps[j])
			s = steps[j]
		case j >= 0:
			continue // the pooling of a pair, already done
		default:
			calls[i]()
		}
		if lap != nil {
			lap(s)
		}
	}
}

// bound returns the program's step calls, binding them on first use. A
// plan that passed plan.Verify binds; one that does not is a bug of ours.
func (e *Engine) bound(prog plan.Program) []func() {
	if e.calls[prog] == nil {
		calls, err := e.Bind(prog)
		if err != nil {
			panic(err)
		}
		e.calls[prog] = calls
	}
	return e.calls[prog]
}

// Bind binds every step of a program to its CPU kernel: what Run does on
// its first run. It reports a step the CPU cannot run.
func (e *Engine) Bind(prog plan.Program) ([]func(), error) {
	var calls []func()
	for i, s := range e.Plan.Steps[prog] {
		c, err := e.bind(prog, s)
		if err != nil {
			return nil, fmt.Errorf("%s step %d: %w", prog, i, err)
		}
		calls = append(calls, c)
	}
	return calls, nil
}

// Fused returns plan.FusedLRNPool of a program: the LRN and
// pooling steps Run runs as one.
func (e *Engine) Fused(prog plan.Program) []int {
	f, ok := e.fused[prog]
	if !ok {
		f = e.Plan.FusedLRNPool(prog)
		e.fused[prog] = f
	}
	return f
}

// lrnPool runs an LRN step and the max pooling step after it as one pass.
func (e *Engine) lrnPool(prog plan.Program, lrn, pool *plan.Step) {
	key := [2]*plan.Step{lrn, pool}
	f, ok := e.pairs[key]
	if !ok {
		l, err := CPUKernel(lrn)
		if err != nil {
			panic(err)
		}
		q, err := CPUKernel(pool)
		if err != nil {
			panic(err)
		}
		x, y, arg := lrn.Arg("x"), pool.Arg("y"), pool.Arg("argmax")
		lp := cpu.LRNMaxPool{LRN: l.(cpu.LRN), Pool: q.(cpu.MaxPool)}
		xs := e.Arenas[x.Device].F32(e.offset(prog, x), x.Elems())
		ys := e.Arenas[y.Device].F32(e.offset(prog, y), y.Elems())
		as := e.Arenas[arg.Device].I32(e.offset(prog, arg), arg.Elems())
		f = func() { lp.Forward(xs, ys, as) }
		if e.pairs == nil {
			e.pairs = map[[2]*plan.Step]func(){}
		}
		e.pairs[key] = f
	}
	f()
}

// Uses reports whether the program uses the named buffer.
func (e *Engine) Uses(prog plan.Program, name string) bool {
	b := e.Plan.Buffer(name)
	return b != nil && b.Offset[prog] >= 0
}

// RunChecked runs a program step by step, calling after each step until it
// returns false: to find where values first go wrong. Every step runs on
// its own, fused ones too, so that after sees each step's outputs.
func (e *Engine) RunChecked(prog plan.Program, after func(*plan.Step) bool) {
	e.fresh = false
	calls := e.bound(prog)
	for i, s := range e.Plan.Steps[prog] {
		calls[i]()
		if !after(s) {
			return
		}
	}
}
