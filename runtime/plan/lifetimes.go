package plan

// Span is the range of steps over which a buffer must keep its contents.
type Span struct{ First, Last int }

// Overlaps reports whether two spans share a step.
func (s Span) Overlaps(o Span) bool { return s.First <= o.Last && o.First <= s.Last }

// Lifetimes returns, for every buffer a program uses, the steps from its
// first to its last use. What the host writes or reads (images, labels,
// probabilities, the loss) lives through the whole program. In the
// inference program, of an LRN and the max pooling of its output, which a
// CPU may run as one pass at the LRN's step (FusedLRNPool), the LRN's input
// lives until the pooling and the pooling's outputs from the LRN on.
func (p *Plan) Lifetimes(prog Program) map[*Buffer]Span {
	steps := p.Steps[prog]
	live := map[*Buffer]Span{}
	for i, s := range steps {
		for _, a := range s.Args {
			sp, ok := live[a.Buf]
			if !ok {
				sp = Span{i, i}
			}
			sp.Last = i
			live[a.Buf] = sp
		}
	}
	if prog == Infer {
		for _, c := range lrnPoolCandidates(steps) {
			i, j := c[0], c[1]
			x := steps[i].Arg("x")
			sp := live[x]
			sp.Last = max(sp.Last, j)
			live[x] = sp
			for _, name := range []string{"y", "argmax"} {
				o := steps[j].Arg(name)
				sp := live[o]
				sp.First = min(sp.First, i)
				live[o] = sp
			}
		}
	}
	for b := range live {
		switch b.Role {
		case Input, Label, Output:
			live[b] = Span{0, len(steps)}
		}
	}
	return live
}

// FusedLRNPool pairs the LRN steps of a program that a CPU runs together
// with the max pooling of their output, as one pass (cpu.LRNMaxPool):
// pair[i] = j and pair[j] = i for such an LRN step i and pooling step
// j > i, and −1 for every other step. The pair runs at i, and step j is
// skipped. A pair must
//
//   - fit one pass: the pooling reads exactly the buffer the LRN writes,
//     the LRN over all of its channels;
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
// to the last two points: Lifetimes keeps the LRN's input, and the
// pooling's outputs, alive over both steps of every candidate pair. The
// training program keeps the LRN's input for its backward pass anyway, and
// its plan is left as it was; there, as everywhere, the check here decides.
// A plan built to keep every buffer (KeepAll) fuses nothing: its point is
// that every layer's output can be read.
//
// The plan itself keeps the two steps and their buffer: the CUDA launches
// run them apart, and a step-by-step run sees the LRN's output.
func (p *Plan) FusedLRNPool(prog Program) (pair []int) {
	steps := p.Steps[prog]
	pair = make([]int, len(steps))
	for i := range pair {
		pair[i] = -1
	}
	if p.KeepAll {
		return pair // every layer's output is to be read after the run
	}
	apart := func(a, b *Buffer) bool {
		if a.Device != b.Device {
			return true
		}
		oa, ob := a.Offset[prog], b.Offset[prog]
		return oa+a.Bytes() <= ob || ob+b.Bytes() <= oa
	}
	for _, c := range lrnPoolCandidates(steps) {
		i, j := c[0], c[1]
		s, t := steps[i], steps[j]
		outs := []*Buffer{t.Arg("y"), t.Arg("argmax")}
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
// pooling step j that fit one pass, where the pooling is the only other
// step that touches the LRN's output.
func lrnPoolCandidates(steps []*Step) [][2]int {
	var pairs [][2]int
	for i, s := range steps {
		mid := s.Arg("y")
		if s.Kernel != LRNForward || mid == nil {
			continue
		}
		readers := users(steps, mid, i)
		if len(readers) != 1 {
			continue
		}
		j := readers[0]
		t := steps[j]
		if j > i && t.Kernel == MaxPoolForward && t.Arg("x") == mid && fitsLRNPool(s.Attrs, t.Attrs) {
			pairs = append(pairs, [2]int{i, j})
		}
	}
	return pairs
}

// users returns the steps other than step i that have buf as an argument.
func users(steps []*Step, buf *Buffer, i int) []int {
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

// fitsLRNPool reports whether an LRN and a pooling make one pass: the LRN
// over all channels of the tensor the pooling reads.
func fitsLRNPool(l, q Values) bool {
	return l.Int("C0") == 0 && l.Int("C1") == l.Int("C") && l.Int("Size")%2 == 1 && l.Int("Size") > 0 &&
		l.Int("N") == q.Int("N") && l.Int("C") == q.Int("C") && l.Int("H") == q.Int("H") && l.Int("W") == q.Int("W")
}
