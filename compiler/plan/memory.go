// Package plan fixes where everything lives and runs: the memory plan (one
// arena per device, every buffer at a byte offset) and the launch plan
// (every kernel launch, copy and event of the CUDA backend). Build is the
// stage's entry point and Verify its checker, run in the tests on every
// example.
package plan

import (
	"fmt"
	"sort"

	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/runtime/cpu"
)

// Program selects one of a graph's step lists.
type Program int

// The programs of a graph.
const (
	Infer Program = iota
	Train
)

// Programs lists every program.
var Programs = []Program{Infer, Train}

func (p Program) String() string { return [...]string{"infer", "train"}[p] }

// Steps returns the program's steps.
func (p Program) Steps(g *lower.Graph) []*lower.Step {
	if p == Infer {
		return g.Infer
	}
	return g.Train
}

// Memory is the memory plan: one arena per device. Weights, biases, their
// gradients and momenta sit at the front and persist, with the images,
// labels and outputs the host writes and reads; behind them each
// program lays out its transient buffers, reusing memory between buffers
// whose lifetimes do not overlap. Programs never run at once, so the
// transient region is as large as the larger program needs.
type Memory struct {
	Devices []DeviceMemory
	// Offset[program][buffer ID] is the buffer's byte offset in its device's
	// arena, or -1 when the program does not use it.
	Offset [2][]int64
}

// DeviceMemory sums up one device's arena.
type DeviceMemory struct {
	Persistent int64    // weights, biases, gradients, momenta, and the host's inputs and outputs
	Transient  [2]int64 // per program, behind the persistent region
	Arena      int64    // Persistent + the larger Transient
	Naive      [2]int64 // what each program would need without reuse, for the report
}

func alignUp(n int64) int64 { return (n + cpu.Align - 1) / cpu.Align * cpu.Align }

// layout builds the memory plan of a graph.
func layout(g *lower.Graph, opt Options) Memory {
	m := Memory{Devices: make([]DeviceMemory, g.Devices)}
	for _, p := range Programs {
		m.Offset[p] = make([]int64, len(g.Buffers))
		for i := range m.Offset[p] {
			m.Offset[p][i] = -1
		}
	}
	// Pinned buffers: in order, one after the other, the same in every
	// program.
	for _, b := range g.Buffers {
		if !b.Role.Pinned() {
			continue
		}
		dm := &m.Devices[b.Device]
		for _, p := range Programs {
			m.Offset[p][b.ID] = dm.Persistent
		}
		dm.Persistent += alignUp(b.Bytes())
	}
	for _, p := range Programs {
		live := lifetimes(g, p)
		if opt.KeepAll {
			for b := range live {
				live[b] = span{0, len(p.Steps(g))}
			}
		}
		for d := range m.Devices {
			dm := &m.Devices[d]
			var bufs []*lower.Buffer
			for _, b := range g.Buffers {
				if _, used := live[b]; used && b.Device == d && !b.Role.Pinned() {
					bufs = append(bufs, b)
					dm.Naive[p] += alignUp(b.Bytes())
				}
			}
			end := place(bufs, live, dm.Persistent, m.Offset[p])
			dm.Transient[p] = end - dm.Persistent
		}
	}
	for d := range m.Devices {
		dm := &m.Devices[d]
		dm.Arena = dm.Persistent + max(dm.Transient[Infer], dm.Transient[Train])
	}
	return m
}

// span is the range of steps over which a buffer must keep its contents.
type span struct{ first, last int }

func (s span) overlaps(o span) bool { return s.first <= o.last && o.first <= s.last }

// lifetimes returns, for every buffer a program uses, the steps from its
// first to its last use. What the host writes or reads (images, labels,
// probabilities, the loss) lives through the whole program. In the
// inference program, of an LRN and the max pooling of its output, which a
// CPU may run as one pass at the LRN's step (FusedLRNPool), the LRN's input
// lives until the pooling and the pooling's outputs from the LRN on.
func lifetimes(g *lower.Graph, prog Program) map[*lower.Buffer]span {
	steps := prog.Steps(g)
	live := map[*lower.Buffer]span{}
	for i, s := range steps {
		for _, a := range s.Args {
			sp, ok := live[a.Buf]
			if !ok {
				sp = span{i, i}
			}
			sp.last = i
			live[a.Buf] = sp
		}
	}
	for _, c := range lrnPoolCandidates(steps) {
		if prog != Infer {
			break
		}
		i, j := c[0], c[1]
		x := steps[i].Arg("x")
		sp := live[x]
		sp.last = max(sp.last, j)
		live[x] = sp
		for _, name := range []string{"y", "argmax"} {
			o := steps[j].Arg(name)
			sp := live[o]
			sp.first = min(sp.first, i)
			live[o] = sp
		}
	}
	for b, sp := range live {
		switch b.Role {
		case lower.Input, lower.Label, lower.Output:
			live[b] = span{0, len(steps)}
		default:
			live[b] = sp
		}
	}
	return live
}

// place assigns offsets from base, largest buffer first, each at the lowest
// offset where it overlaps no placed buffer that is alive at the same time.
// It returns the end of the region.
func place(bufs []*lower.Buffer, live map[*lower.Buffer]span, base int64, offset []int64) int64 {
	sort.SliceStable(bufs, func(i, j int) bool {
		if a, b := bufs[i].Bytes(), bufs[j].Bytes(); a != b {
			return a > b
		}
		return bufs[i].ID < bufs[j].ID
	})
	type placed struct {
		off, end int64
		sp       span
	}
	var done []placed
	end := base
	for _, b := range bufs {
		size := alignUp(b.Bytes())
		var clash []placed
		for _, p := range done {
			if p.sp.overlaps(live[b]) {
				clash = append(clash, p)
			}
		}
		sort.Slice(clash, func(i, j int) bool { return clash[i].off < clash[j].off })
		off := base
		for _, c := range clash {
			if off+size <= c.off {
				break
			}
			off = max(off, c.end)
		}
		offset[b.ID] = off
		done = append(done, placed{off, off + size, live[b]})
		end = max(end, off+size)
	}
	return end
}

// String summarises the memory plan per device.
func (m Memory) String() string {
	s := ""
	for d, dm := range m.Devices {
		s += fmt.Sprintf("device %d: arena %d bytes = persistent %d + transient (infer %d, train %d)\n",
			d, dm.Arena, dm.Persistent, dm.Transient[Infer], dm.Transient[Train])
	}
	return s
}
