package cpu

import "fmt"

// ChannelCopy moves channels [C0, C1) of a source tensor [N][SrcC][HW] to
// channels [D, D+C1−C0) of a destination tensor [N][DstC][HW]. The two-tower
// plan uses it for what crosses between GPUs and for concatenation: a
// cross-tower layer reads both towers' halves of the previous layer, which
// this copies side by side into one input tensor; the same copy reversed
// (Reverse) hands each tower its part of the gradient. For fully connected
// layers HW is 1 and the "channels" are units.
type ChannelCopy struct {
	N, HW  int
	SrcC   int
	C0, C1 int
	DstC   int
	D      int
}

// Validate reports whether both channel ranges fit their tensors.
func (p ChannelCopy) Validate() error {
	switch {
	case p.N <= 0 || p.HW <= 0:
		return fmt.Errorf("channel copy: sizes must be positive (N=%d HW=%d)", p.N, p.HW)
	case p.C0 < 0 || p.C1 > p.SrcC || p.C0 >= p.C1:
		return fmt.Errorf("channel copy: source channels [%d, %d) are not inside [0, %d)", p.C0, p.C1, p.SrcC)
	case p.D < 0 || p.D+p.C1-p.C0 > p.DstC:
		return fmt.Errorf("channel copy: destination channels [%d, %d) are not inside [0, %d)", p.D, p.D+p.C1-p.C0, p.DstC)
	}
	return nil
}

// Reverse returns the copy in the other direction, from the destination's
// channels back to the source's, which is the backward pass of Copy.
func (p ChannelCopy) Reverse() ChannelCopy {
	return ChannelCopy{N: p.N, HW: p.HW, SrcC: p.DstC, C0: p.D, C1: p.D + p.C1 - p.C0, DstC: p.SrcC, D: p.C0}
}

// Copy and Add split the images among the worker pool's parts when there is
// enough to move (see tryParts); each image's channels are one contiguous
// run in both tensors.

// channelJob is the parallel region of Copy and Add.
type channelJob struct {
	p        ChannelCopy
	add      bool
	src, dst []float32
}

var channelRun channelJob

func (j *channelJob) do(i, n int) {
	lo, hi := share(i, n, j.p.N)
	j.p.images(lo, hi, j.add, j.src, j.dst)
}

// Copy overwrites the destination channels with the source channels; other
// channels of dst are untouched.
func (p ChannelCopy) Copy(src, dst []float32) {
	p.check("ChannelCopy.Copy", src, dst)
	p.run(false, src, dst)
}

// Add adds the source channels into the destination channels. The backward
// pass uses it where one tensor feeds layers on both towers and its gradient
// is the sum of what each sends back.
func (p ChannelCopy) Add(src, dst []float32) {
	p.check("ChannelCopy.Add", src, dst)
	p.run(true, src, dst)
}

// run does Copy or Add, in parallel if it is worth it.
func (p ChannelCopy) run(add bool, src, dst []float32) {
	if parts := tryParts(p.N*(p.C1-p.C0)*p.HW, p.N); parts > 1 {
		channelRun = channelJob{p, add, src, dst}
		runParts(&channelRun, parts)
		channelRun = channelJob{}
		par.mu.Unlock()
		return
	}
	p.images(0, p.N, add, src, dst)
}

// images copies or adds the channels of images [lo, hi).
func (p ChannelCopy) images(lo, hi int, add bool, src, dst []float32) {
	n := (p.C1 - p.C0) * p.HW
	for i := lo; i < hi; i++ {
		s := (i*p.SrcC + p.C0) * p.HW
		d := (i*p.DstC + p.D) * p.HW
		if add {
			axpyRow(1, src[s:s+n], dst[d:d+n])
		} else {
			copy(dst[d:d+n], src[s:s+n])
		}
	}
}

func (p ChannelCopy) check(kernel string, src, dst []float32) {
	checkLen(kernel, "src", p.N*p.SrcC*p.HW, src)
	checkLen(kernel, "dst", p.N*p.DstC*p.HW, dst)
}
