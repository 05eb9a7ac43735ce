package cpu

import "fmt"

// LRNMaxPool is an LRN over whole tensors followed by max pooling of its
// output, in one pass: each channel of each image is normalised into a
// plane of scratch, which stays in the L1 cache, and pooled from there, so
// the LRN's output is never written to memory and read back. The results,
// pooled values and argmax alike, are those of LRN.Forward followed by
// MaxPool.Forward, bit for bit. The engine and the generated code run it
// in place of the two steps when nothing else reads the LRN's output (see
// plan.FusedLRNPool), which is the paper's norm1/pool1 and norm2/pool2.
type LRNMaxPool struct {
	LRN  LRN
	Pool MaxPool
}

// Validate reports whether the two fit together: the LRN over all channels
// and the pooling over the tensor the LRN writes.
func (f LRNMaxPool) Validate() error {
	l, q := f.LRN, f.Pool
	if err := l.Validate(); err != nil {
		return err
	}
	if err := q.Validate(); err != nil {
		return err
	}
	if l.C0 != 0 || l.C1 != l.C {
		return fmt.Errorf("lrn+pool: the LRN covers channels [%d, %d) of %d, not all", l.C0, l.C1, l.C)
	}
	if l.N != q.N || l.C != q.C || l.H != q.H || l.W != q.W {
		return fmt.Errorf("lrn+pool: the LRN writes %d×%d×%d×%d, the pooling reads %d×%d×%d×%d", l.N, l.C, l.H, l.W, q.N, q.C, q.H, q.W)
	}
	return nil
}

// lrnPoolJob is LRNMaxPool.Forward's parallel region.
type lrnPoolJob struct {
	f      LRNMaxPool
	x, y   []float32
	argmax []int32
}

var lrnPool lrnPoolJob

func (j *lrnPoolJob) do(i, n int) {
	l, q := j.f.LRN, j.f.Pool
	hw, ohw := l.H*l.W, q.OH*q.OW
	s := partScratch(i, 2*hw)
	normed, plane := s[:hw], s[hw:]
	lo, hi := share(i, n, l.N)
	for im := lo; im < hi; im++ {
		xn := j.x[im*l.C*hw : (im+1)*l.C*hw]
		for c := 0; c < l.C; c++ {
			l.forwardChannel(xn, c, normed, plane)
			o := (im*l.C + c) * ohw
			q.forwardPlanes(0, 1, normed, j.y[o:o+ohw], j.argmax[o:o+ohw])
		}
	}
}

// Forward computes y and argmax from x as LRN.Forward into a tensor t and
// MaxPool.Forward(t, y, argmax) would, without t.
func (f LRNMaxPool) Forward(x, y []float32, argmax []int32) {
	checkLen("LRNMaxPool.Forward", "x", f.LRN.TensorSize(), x)
	checkLen("LRNMaxPool.Forward", "y", f.Pool.OutSize(), y)
	checkLen32("LRNMaxPool.Forward", "argmax", f.Pool.OutSize(), argmax)
	if err := f.Validate(); err != nil {
		panic("LRNMaxPool.Forward: " + err.Error())
	}
	par.mu.Lock()
	defer par.mu.Unlock()
	lrnPool = lrnPoolJob{f, x, y, argmax}
	runParts(&lrnPool, f.LRN.parts())
	lrnPool = lrnPoolJob{}
}
