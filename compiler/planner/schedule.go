package planner

import (
	"fmt"
	"slices"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// scheduler lays out launches and the events that order them. It keeps a
// vector clock per stream: for every stream, the position of its last
// entry known to be complete before the stream's next entry starts. A unit
// that touches bytes another stream wrote, or writes bytes another stream
// touched, and is not yet ordered after that access waits for an event
// recorded right after it.
type scheduler struct {
	out     []plan.Launch // kernels, copies and waits; finish adds the records
	loops   int           // loops so far
	events  int           // events so far
	streams []streamState // by plan.StreamID
	access  [][]access    // per device: every access so far to its arena
	marks   map[[2]int]int
	after   map[int][]int // out index → events recorded right after it
}

type streamState struct {
	vc      []int   // the clock of the stream's next entry
	clocks  [][]int // clocks[pos]: the clock of entry pos, which an event recorded after it carries
	index   []int   // index[pos]: the entry's place in out
	unitEnd []int   // unitEnd[pos]: the last entry of the loop it belongs to, where an event may go
}

// access is one launch's use of some bytes of an arena.
type access struct {
	stream, pos int
	r           plan.Region
	write       bool
}

func (s *scheduler) emit(u plan.Unit) {
	if u[0].Count <= 1 && len(u) > 1 {
		// Not a loop (a batch of one): each launch on its own, once.
		for _, l := range u {
			l.Args = slices.Clone(l.Args)
			for i := range l.Args {
				l.Args[i].Advance = 0
			}
			s.emit(plan.Unit{l})
		}
		return
	}
	id := plan.StreamID(u[0].Device, u[0].Stream)
	st := &s.streams[id]
	// need[stream] is the latest access on another stream that conflicts
	// with one of the unit's own.
	need := slices.Repeat([]int{-1}, len(s.streams))
	for i := range u {
		l := &u[i]
		for _, a := range l.Args {
			r := plan.Footprint(l, a)
			for _, prev := range s.access[a.Device] {
				if prev.stream != id && (prev.write || a.Access.Writes()) && prev.pos > need[prev.stream] && prev.r.Overlaps(r) {
					need[prev.stream] = prev.pos
				}
			}
		}
	}
	// Wait first for the access whose clock covers most of the others: one
	// event often orders the rest too, through waits made before it.
	for {
		best, covers := -1, -1
		for q, pos := range need {
			if pos < 0 || st.vc[q] >= pos {
				continue
			}
			clock := s.streams[q].clocks[s.streams[q].unitEnd[pos]]
			n := 0
			for r, rpos := range need {
				if rpos >= 0 && clock[r] >= rpos {
					n++
				}
			}
			if n > covers {
				best, covers = q, n
			}
		}
		if best < 0 {
			break
		}
		s.wait(best, need[best], id)
	}
	loop := u[0].Count > 1
	if loop {
		s.loops++
	}
	first := len(st.index)
	for _, l := range u {
		if loop {
			l.Loop = s.loops
		}
		pos := s.append(id, l)
		for _, a := range l.Args {
			s.access[a.Device] = append(s.access[a.Device], access{id, pos, plan.Footprint(&l, a), a.Access.Writes()})
		}
	}
	for pos := first; pos < len(st.index); pos++ {
		st.unitEnd[pos] = len(st.index) - 1
	}
}

// append adds an entry to the program and to its stream, and returns its
// position in the stream.
func (s *scheduler) append(id int, l plan.Launch) int {
	st := &s.streams[id]
	if l.Count == 0 {
		l.Count = 1
	}
	pos := len(st.index)
	st.vc[id] = pos
	st.clocks = append(st.clocks, slices.Clone(st.vc))
	st.index = append(st.index, len(s.out))
	st.unitEnd = append(st.unitEnd, pos)
	s.out = append(s.out, l)
	return pos
}

// wait makes stream `to` wait until entry pos of stream `from` (and the
// rest of its loop) is done, through an event recorded right after it.
func (s *scheduler) wait(from, pos, to int) {
	src := &s.streams[from]
	pos = src.unitEnd[pos]
	e, ok := s.marks[[2]int{from, pos}]
	if !ok {
		e = s.events
		s.events++
		s.marks[[2]int{from, pos}] = e
		s.after[src.index[pos]] = append(s.after[src.index[pos]], e)
	}
	s.append(to, plan.Launch{Kind: plan.WaitEvent, Device: to / 2, Stream: plan.Streams[to%2], Event: e, Step: -1})
	dst := &s.streams[to]
	for i, c := range src.clocks[pos] {
		dst.vc[i] = max(dst.vc[i], c)
	}
}

// finish puts the records after the entries they mark, numbers the events
// in the order they are recorded, and numbers the launches.
func (s *scheduler) finish() []plan.Launch {
	var out []plan.Launch
	number := map[int]int{}
	where := map[int]string{} // event → the stream that records it and what it marks
	for i, l := range s.out {
		if l.Kind == plan.WaitEvent {
			l.Note = fmt.Sprintf("wait for event %d (%s)", number[l.Event], where[l.Event])
			l.Event = number[l.Event]
		}
		out = append(out, l)
		for _, e := range s.after[i] {
			number[e] = len(number)
			where[e] = fmt.Sprintf("%d/%s after launch %d", l.Device, l.Stream, len(out)-1)
			note := fmt.Sprintf("event %d: launch %d done", number[e], len(out)-1)
			if l.Layer != "" {
				note += " (" + l.Layer + ")"
			}
			out = append(out, plan.Launch{Kind: plan.RecordEvent, Device: l.Device, Stream: l.Stream, Event: number[e], Count: 1, Step: -1, Note: note})
		}
	}
	for i := range out {
		out[i].Index = i
	}
	return out
}
