// Package planner fixes where everything of a lowered plan lives and runs:
// the memory plan (one arena per device, every buffer at a byte offset) and
// the launch plan (every kernel launch, copy and event of the CUDA
// backend, ordered by events between its streams). Place is the stage's
// entry point; runtime/plan's Verify checks what it produced.
package planner

import (
	"fmt"
	"slices"
	"sort"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Place lays out a lowered plan's memory and schedules its launches.
// keepAll keeps every buffer alive through its whole program (plan.KeepAll).
func Place(p *plan.Plan, keepAll bool) error {
	p.KeepAll = keepAll
	layout(p)
	for _, prog := range plan.Programs {
		ls, err := schedule(p, prog)
		if err != nil {
			return err
		}
		p.Launches[prog] = ls
	}
	if probs := plan.Verify(p); len(probs) > 0 {
		return fmt.Errorf("planner: the plan fails its verifier: %v", probs[0])
	}
	return nil
}

func alignUp(n int64) int64 { return (n + plan.Align - 1) / plan.Align * plan.Align }

// layout builds the memory plan: pinned buffers in order at the front of
// each arena, then each program's transient buffers, reusing memory between
// buffers whose lifetimes do not overlap.
func layout(p *plan.Plan) {
	devs := make([]plan.DeviceMemory, len(p.Memory.Devices))
	for _, b := range p.Buffers {
		b.Offset = [2]int64{-1, -1}
	}
	for _, b := range p.Buffers {
		if !b.Role.Pinned() {
			continue
		}
		dm := &devs[b.Device]
		b.Offset = [2]int64{dm.Persistent, dm.Persistent}
		dm.Persistent += alignUp(b.Bytes())
	}
	for _, prog := range plan.Programs {
		live := p.Lifetimes(prog)
		if p.KeepAll {
			for b := range live {
				live[b] = plan.Span{First: 0, Last: len(p.Steps[prog])}
			}
		}
		for d := range devs {
			dm := &devs[d]
			var bufs []*plan.Buffer
			for _, b := range p.Buffers {
				if _, used := live[b]; used && b.Device == d && !b.Role.Pinned() {
					bufs = append(bufs, b)
					dm.Naive[prog] += alignUp(b.Bytes())
				}
			}
			end := place(bufs, live, dm.Persistent, prog)
			dm.Transient[prog] = end - dm.Persistent
		}
	}
	for d := range devs {
		dm := &devs[d]
		dm.Arena = dm.Persistent + max(dm.Transient[plan.Infer], dm.Transient[plan.Train])
	}
	p.Memory.Devices = devs
}

// place assigns offsets from base, largest buffer first, each at the lowest
// offset where it overlaps no placed buffer that is alive at the same time.
// It returns the end of the region.
func place(bufs []*plan.Buffer, live map[*plan.Buffer]plan.Span, base int64, prog plan.Program) int64 {
	sort.SliceStable(bufs, func(i, j int) bool {
		if a, b := bufs[i].Bytes(), bufs[j].Bytes(); a != b {
			return a > b
		}
		return bufs[i].ID < bufs[j].ID
	})
	type placed struct {
		off, end int64
		sp       plan.Span
	}
	var done []placed
	end := base
	for _, b := range bufs {
		size := alignUp(b.Bytes())
		var clash []placed
		for _, q := range done {
			if q.sp.Overlaps(live[b]) {
				clash = append(clash, q)
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
		b.Offset[prog] = off
		done = append(done, placed{off, off + size, live[b]})
		end = max(end, off+size)
	}
	return end
}

// schedule builds the launch plan of one program.
func schedule(p *plan.Plan, prog plan.Program) ([]plan.Launch, error) {
	n := 2 * len(p.Memory.Devices)
	s := &scheduler{streams: make([]streamState, n), access: make([][]access, len(p.Memory.Devices)),
		marks: map[[2]int]int{}, after: map[int][]int{}}
	for i := range s.streams {
		s.streams[i].vc = slices.Repeat([]int{-1}, n)
	}
	for i := range p.Steps[prog] {
		us, err := p.Expand(prog, i)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			s.emit(u)
		}
	}
	return s.finish(), nil
}
