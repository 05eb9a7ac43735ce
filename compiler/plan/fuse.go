package plan

import (
	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/runtime/cpu"
)

// FusedLRNPool pairs the LRN steps of a program that a CPU runs together
// with the max pooling of their output, as one cpu.LRNMaxPool pass:
// pair[i] = j and pair[j] = i for such an LRN step i and pooling step
// j > i, and −1 for every other step. The pair runs at i, and step j is
// skipped. A pair must
//
//   - fit cpu.LRNMaxPool: the pooling reads exactly the buffer the LRN
//     writes, the LRN over all of its channels;
//   - leave that buffer to the two of them: no other step of the program
//     touches it, so that it need never be written;
//   - keep the LRN's input apart in memory from the pooling's outputs, which
//     the pass writes while it reads the input, although the memory plan
//     may have given them the same bytes at different times;
//   - and keep the pooling's outputs apart from everything the steps
//     between i and j touch, since the pooling now writes them earlier.
//
// In the paper's network that is norm1/pool1 and norm2/pool2 of each tower,
// in training (LRN's backward pass reads its input, max pooling's its
// argmax) and in inference. In the inference program the memory plan sees
// to the last two points: lifetimes keeps the LRN's input, and the
// pooling's outputs, alive over both steps of every candidate pair
// (lrnPoolCandidates). The training program keeps the LRN's input for its
// backward pass anyway, and its plan is left as it was; there, as
// everywhere, the check here decides. A plan built with KeepAll fuses
// nothing: its point is that every layer's output can be read.
//
// The plan itself keeps the two steps and their buffer: the CUDA launches
// run them apart, and a step-by-step run (engine.RunChecked) sees the
// LRN's output.
func (p *Plan) FusedLRNPool(prog Program) (pair []int) {
	steps := prog.Steps(p.Graph)
	pair = make([]int, len(steps))
	for i := range pair {
		pair[i] = -1
	}
	if p.Options.KeepAll {
		return pair // every layer's output is to be read after the run
	}
	apart := func(a, b *lower.Buffer) bool {
		if a.Device != b.Device {
			return true
		}
		oa, ob := p.Offset(prog, a), p.Offset(prog, b)
		return oa+a.Bytes() <= ob || ob+b.Bytes() <= oa
	}
	for _, c := range lrnPoolCandidates(steps) {
		i, j := c[0], c[1]
		s, t := steps[i], steps[j]
		outs := []*lower.Buffer{t.Arg("y"), t.Arg("argmax")}
		ok := true
		for _, o := range outs {
			ok = ok && apart(s.Arg("x"), o)
			for k := i + 1; k < j && ok; k++ {
				for _, a := range steps[k].Args {
					ok = ok && apart(a.Buf, o)
				}
			}
		}
		if ok {
			pair[i], pair[j] = j, i
		}
	}
	return pair
}

// lrnPoolCandidates returns the pairs (i, j) of an LRN step i and a max
// pooling step j that fit cpu.LRNMaxPool, where the pooling is the only
// other step that touches the LRN's output.
func lrnPoolCandidates(steps []*lower.Step) [][2]int {
	var pairs [][2]int
	for i, s := range steps {
		mid := s.Arg("y")
		if s.Kernel != lower.LRNForward || mid == nil {
			continue
		}
		readers := users(steps, mid, i)
		if len(readers) != 1 {
			continue
		}
		j := readers[0]
		t := steps[j]
		if j > i && t.Kernel == lower.MaxPoolForward && t.Arg("x") == mid && fitsLRNPool(s, t) {
			pairs = append(pairs, [2]int{i, j})
		}
	}
	return pairs
}

// users returns the steps other than step i that have buf as an argument.
func users(steps []*lower.Step, buf *lower.Buffer, i int) []int {
	var js []int
	for j, s := range steps {
		if j == i {
			continue
		}
		for _, a := range s.Args {
			if a.Buf == buf {
				js = append(js, j)
				break
			}
		}
	}
	return js
}

// fitsLRNPool reports whether an LRN step and a pooling step make a
// cpu.LRNMaxPool.
func fitsLRNPool(lrn, pool *lower.Step) bool {
	l, lok := lrn.Params.(cpu.LRN)
	q, qok := pool.Params.(cpu.MaxPool)
	return lok && qok && (cpu.LRNMaxPool{LRN: l, Pool: q}).Validate() == nil
}
