package cpu

import "fmt"

// Dropout follows the paper (§4.2) rather than the now common "inverted"
// form: in training each unit is set to zero with probability Rate and the
// others pass through unscaled; at test time every unit passes, multiplied
// by 1−Rate, so that its expected value matches training. (Inverted dropout
// would instead scale kept units by 1/(1−Rate) in training and do nothing at
// test time; the two train the same network up to that rescaling of the
// next layer's weights, but only this one gives the paper's weights.)
//
// Len is the number of units in the batch, N times the layer's width. The
// mask holds one byte per unit, 1 for kept and 0 for dropped; it is drawn
// by Train and read by Backward.
type Dropout struct {
	Len  int
	Rate float32
}

// Validate reports whether the parameters are consistent.
func (p Dropout) Validate() error {
	if p.Len <= 0 || !(p.Rate >= 0 && p.Rate <= 1) {
		return fmt.Errorf("dropout: need Len > 0 and 0 ≤ Rate ≤ 1 (Len=%d Rate=%g)", p.Len, p.Rate)
	}
	return nil
}

// threshold returns the integer below which a 32-bit draw drops a unit, so
// that a unit is dropped with probability Rate to within 2⁻³², including
// Rate = 1.
func (p Dropout) threshold() uint64 {
	return uint64(float64(p.Rate) * (1 << 32))
}

// Train draws a fresh mask from rng, one draw per unit in order, and writes
// y = x·mask. y may be the same slice as x.
func (p Dropout) Train(rng *RNG, x, y []float32, mask []uint8) {
	checkLen("Dropout.Train", "x", p.Len, x)
	checkLen("Dropout.Train", "y", p.Len, y)
	if len(mask) < p.Len {
		panic(fmt.Sprintf("cpu.Dropout.Train: mask has %d elements, needs %d", len(mask), p.Len))
	}
	t := p.threshold()
	x, y, mask = x[:p.Len], y[:p.Len], mask[:p.Len]
	for i := range mask {
		mask[i] = 0
		if uint64(rng.Uint32()) >= t {
			mask[i] = 1
		}
	}
	p.backward(mask, x, y) // y = x·mask
}

// Train's draws stay serial: they must come from rng in unit order, so that
// a run is reproducible from its seed. Test and Backward split the units among
// the worker pool's parts when there are enough of them (see tryParts).

// dropoutJob is the parallel region of Test (mask nil) and Backward.
type dropoutJob struct {
	p    Dropout
	x, y []float32
	mask []uint8
}

var dropoutRun dropoutJob

func (j *dropoutJob) do(i, n int) {
	lo, hi := chunk(i, n, j.p.Len)
	if j.mask == nil {
		j.p.test(j.x[lo:hi], j.y[lo:hi])
	} else {
		j.p.backward(j.mask[lo:hi], j.x[lo:hi], j.y[lo:hi])
	}
}

// Test writes y = x·(1−Rate), the paper's test-time scaling. y may be the
// same slice as x.
func (p Dropout) Test(x, y []float32) {
	checkLen("Dropout.Test", "x", p.Len, x)
	checkLen("Dropout.Test", "y", p.Len, y)
	x, y = x[:p.Len], y[:p.Len]
	if parts := tryParts(p.Len, p.Len/16); parts > 1 {
		dropoutRun = dropoutJob{p: p, x: x, y: y}
		runParts(&dropoutRun, parts)
		dropoutRun = dropoutJob{}
		par.mu.Unlock()
		return
	}
	p.test(x, y)
}

// test is Test on the calling goroutine, for as many units as x holds.
func (p Dropout) test(x, y []float32) {
	keep := 1 - p.Rate
	y = y[:len(x)]
	if vec := gemmActive.Load().scale; vec != nil {
		n := vec(x, y, keep)
		x, y = x[n:], y[n:]
	}
	for i, v := range x {
		y[i] = v * keep
	}
}

// Backward writes dx = dy·mask, the gradient of Train with the same mask.
// dx may be the same slice as dy.
func (p Dropout) Backward(mask []uint8, dy, dx []float32) {
	checkLen("Dropout.Backward", "dy", p.Len, dy)
	checkLen("Dropout.Backward", "dx", p.Len, dx)
	if len(mask) < p.Len {
		panic(fmt.Sprintf("cpu.Dropout.Backward: mask has %d elements, needs %d", len(mask), p.Len))
	}
	dy, dx, mask = dy[:p.Len], dx[:p.Len], mask[:p.Len]
	if parts := tryParts(p.Len, p.Len/16); parts > 1 {
		dropoutRun = dropoutJob{p, dy, dx, mask}
		runParts(&dropoutRun, parts)
		dropoutRun = dropoutJob{}
		par.mu.Unlock()
		return
	}
	p.backward(mask, dy, dx)
}

// backward is Backward on the calling goroutine, for as many units as mask
// holds.
func (p Dropout) backward(mask []uint8, dy, dx []float32) {
	dy, dx = dy[:len(mask)], dx[:len(mask)]
	if vec := gemmActive.Load().selectByMask; vec != nil {
		n := vec(mask, dy, dx)
		mask, dy, dx = mask[n:], dy[n:], dx[n:]
	}
	for i, m := range mask {
		if m != 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}
