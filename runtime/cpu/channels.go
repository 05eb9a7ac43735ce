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

// Copy overwrites the destination channels with the source channels; other
// channels of dst are untouched.
func (p ChannelCopy) Copy(src, dst []float32) {
	p.check("ChannelCopy.Copy", src, dst)
	n := (p.C1 - p.C0) * p.HW
	for i := 0; i < p.N; i++ {
		s := (i*p.SrcC + p.C0) * p.HW
		d := (i*p.DstC + p.D) * p.HW
		copy(dst[d:d+n], src[s:s+n])
	}
}

// Add adds the source channels into the destination channels. The backward
// pass uses it where one tensor feeds layers on both towers and its gradient
// is the sum of what each sends back.
func (p ChannelCopy) Add(src, dst []float32) {
	p.check("ChannelCopy.Add", src, dst)
	n := (p.C1 - p.C0) * p.HW
	for i := 0; i < p.N; i++ {
		s := (i*p.SrcC + p.C0) * p.HW
		d := (i*p.DstC + p.D) * p.HW
		axpyRow(1, src[s:s+n], dst[d:d+n])
	}
}

func (p ChannelCopy) check(kernel string, src, dst []float32) {
	checkLen(kernel, "src", p.N*p.SrcC*p.HW, src)
	checkLen(kernel, "dst", p.N*p.DstC*p.HW, dst)
}
