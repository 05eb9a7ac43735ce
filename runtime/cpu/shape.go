package cpu

import "fmt"

// OutSize is the number of window positions along one spatial axis of length
// in, for a window of size k moved by stride, with padBefore and padAfter
// zero (or empty) positions added on either side: ⌊(in+padBefore+padAfter−k)/stride⌋+1.
//
// The compiler implements cuda-convnet's "ceil" rounding, 1+⌈(in+2p−k)/stride⌉,
// by choosing padAfter larger than padBefore so that this floor formula gives
// the rounded-up count; the kernels therefore know only one formula.
func OutSize(in, k, stride, padBefore, padAfter int) int {
	return (in+padBefore+padAfter-k)/stride + 1
}

// checkLen panics with the kernel's and the buffer's names when a buffer is
// shorter than the shape demands. Kernels check once on entry so that a wrong
// buffer in generated code is reported by name rather than as an index error
// deep in a loop.
func checkLen(kernel, name string, n int, buf []float32) {
	if len(buf) < n {
		panic(fmt.Sprintf("cpu.%s: %s has %d elements, needs %d", kernel, name, len(buf), n))
	}
}

// checkLen32 is checkLen for int32 buffers (pooling argmax indices, labels).
func checkLen32(kernel, name string, n int, buf []int32) {
	if len(buf) < n {
		panic(fmt.Sprintf("cpu.%s: %s has %d elements, needs %d", kernel, name, len(buf), n))
	}
}

// checkWindow reports whether a window of size k, stride s and the given
// padding, placed out times along an axis of length in, is consistent with
// the floor formula and never lies wholly outside the input, so that every
// output position sees at least one real input element.
func checkWindow(axis string, in, k, s, padBefore, padAfter, out int) error {
	switch {
	case in <= 0 || k <= 0 || s <= 0 || out <= 0:
		return fmt.Errorf("%s: sizes must be positive (in=%d k=%d stride=%d out=%d)", axis, in, k, s, out)
	case padBefore < 0 || padAfter < 0:
		return fmt.Errorf("%s: negative padding (%d, %d)", axis, padBefore, padAfter)
	case OutSize(in, k, s, padBefore, padAfter) != out:
		return fmt.Errorf("%s: output size %d, but input %d, window %d, stride %d and padding %d+%d give %d",
			axis, out, in, k, s, padBefore, padAfter, OutSize(in, k, s, padBefore, padAfter))
	case padBefore >= k:
		return fmt.Errorf("%s: padding before (%d) leaves the first window (%d) empty", axis, padBefore, k)
	case (out-1)*s-padBefore >= in:
		return fmt.Errorf("%s: the last window starts at %d, past the input (%d)", axis, (out-1)*s-padBefore, in)
	}
	return nil
}
