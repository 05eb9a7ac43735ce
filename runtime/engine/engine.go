// Package engine runs a plan on the CPU: one arena per device as the memory
// plan lays it out, the steps in order, copies between devices as copies.
// It is what `alexnetc train` runs when it has no generated package; the
// generated Go code makes the same calls with the sizes written out.
package engine

import (
	"fmt"

	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/compiler/plan"
	"github.com/alexnetc/alexnetc/runtime/cpu"
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

func (e *Engine) buffer(name string) *lower.Buffer {
	b := e.Plan.Graph.Buffer(name)
	if b == nil {
		panic(fmt.Sprintf("engine: no buffer %q", name))
	}
	return b
}

func (e *Engine) offset(prog plan.Program, b *lower.Buffer) int64 {
	off := e.Plan.Offset(prog, b)
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
func (e *Engine) RunTimed(prog plan.Program, lap func(*lower.Step)) {
	e.fresh = false
	steps := prog.Steps(e.Plan.Graph)
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
			e.step(prog, s)
		}
		if lap != nil {
			lap(s)
		}
	}
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
func (e *Engine) lrnPool(prog plan.Program, lrn, pool *lower.Step) {
	x, y, arg := lrn.Arg("x"), pool.Arg("y"), pool.Arg("argmax")
	f := cpu.LRNMaxPool{LRN: lrn.Params.(cpu.LRN), Pool: pool.Params.(cpu.MaxPool)}
	f.Forward(e.Arenas[x.Device].F32(e.Plan.Offset(prog, x), x.Elems()),
		e.Arenas[y.Device].F32(e.Plan.Offset(prog, y), y.Elems()),
		e.Arenas[arg.Device].I32(e.Plan.Offset(prog, arg), arg.Elems()))
}

func (e *Engine) step(prog plan.Program, s *lower.Step) {
	f := func(name string) []float32 {
		b := s.Arg(name)
		if b == nil {
			return nil
		}
		return e.Arenas[b.Device].F32(e.Plan.Offset(prog, b), b.Elems())
	}
	i32 := func(name string) []int32 {
		b := s.Arg(name)
		return e.Arenas[b.Device].I32(e.Plan.Offset(prog, b), b.Elems())
	}
	u8 := func(name string) []uint8 {
		b := s.Arg(name)
		return e.Arenas[b.Device].U8(e.Plan.Offset(prog, b), b.Elems())
	}
	switch s.Kernel {
	case lower.ConvForward:
		s.Params.(cpu.Conv).Forward(f("x"), f("w"), f("b"), f("y"), f("scratch"))
	case lower.ConvBackward:
		s.Params.(cpu.Conv).Backward(f("x"), f("w"), f("y"), f("dy"), f("dx"), f("dw"), f("db"), f("scratch"))
	case lower.FCForward:
		s.Params.(cpu.FC).Forward(f("x"), f("w"), f("b"), f("y"))
	case lower.FCBackward:
		s.Params.(cpu.FC).Backward(f("x"), f("w"), f("y"), f("dy"), f("dx"), f("dw"), f("db"), f("scratch"))
	case lower.LRNForward:
		s.Params.(cpu.LRN).Forward(f("x"), f("y"))
	case lower.LRNBackward:
		s.Params.(cpu.LRN).Backward(f("x"), f("dy"), f("dx"), f("scratch"))
	case lower.MaxPoolForward:
		s.Params.(cpu.MaxPool).Forward(f("x"), f("y"), i32("argmax"))
	case lower.MaxPoolBackward:
		s.Params.(cpu.MaxPool).Backward(i32("argmax"), f("dy"), f("dx"))
	case lower.AvgPoolForward:
		s.Params.(cpu.AvgPool).Forward(f("x"), f("y"))
	case lower.AvgPoolBackward:
		s.Params.(cpu.AvgPool).Backward(f("dy"), f("dx"))
	case lower.DropoutTrain:
		s.Params.(cpu.Dropout).Train(e.RNGs[s.Device], f("x"), f("y"), u8("mask"))
	case lower.DropoutTest:
		s.Params.(cpu.Dropout).Test(f("x"), f("y"))
	case lower.DropoutBackward:
		s.Params.(cpu.Dropout).Backward(u8("mask"), f("dy"), f("dx"))
	case lower.Softmax:
		s.Params.(cpu.SoftmaxLoss).Softmax(f("logits"), f("prob"))
	case lower.SoftmaxLoss:
		e.Loss = s.Params.(cpu.SoftmaxLoss).Loss(f("logits"), i32("labels"), f("prob"))
		f("loss")[0] = float32(e.Loss)
	case lower.SoftmaxBackward:
		s.Params.(cpu.SoftmaxLoss).Backward(f("prob"), i32("labels"), f("dlogits"))
	case lower.Copy:
		s.Params.(cpu.ChannelCopy).Copy(f("src"), f("dst"))
	case lower.Add:
		s.Params.(cpu.ChannelCopy).Add(f("src"), f("dst"))
	case lower.SGDUpdate:
		sgd := s.Params.(cpu.SGD)
		sgd.LR = e.LR
		sgd.Step(f("w"), f("g"), f("v"))
	default:
		panic(fmt.Sprintf("engine: no CPU kernel for %s", s.Kernel))
	}
}

// Uses reports whether the program uses the named buffer.
func (e *Engine) Uses(prog plan.Program, name string) bool {
	b := e.Plan.Graph.Buffer(name)
	return b != nil && e.Plan.Offset(prog, b) >= 0
}

// RunChecked runs a program step by step, calling after each step until it
// returns false: to find where values first go wrong. Every step runs on
// its own, fused ones too, so that after sees each step's outputs.
func (e *Engine) RunChecked(prog plan.Program, after func(*lower.Step) bool) {
	e.fresh = false
	for _, s := range prog.Steps(e.Plan.Graph) {
		e.step(prog, s)
		if !after(s) {
			return
		}
	}
}
