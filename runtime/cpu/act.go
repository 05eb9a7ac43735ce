package cpu

import (
	"fmt"
	"math"
)

// Activation is the nonlinearity a layer applies to its output.
type Activation int

// The activations a spec can name. The paper's network uses ReLU everywhere;
// tanh and sigmoid are for its ReLU-versus-tanh comparison (§3.1), and
// Identity (spec name "none") is for the last layer before the softmax.
const (
	Identity Activation = iota
	ReLU
	Tanh
	Sigmoid
	// LeakyReLU is max(v, LeakySlope·v): a ReLU whose negative side keeps
	// a small gradient (not in the paper; for ablations beside ReLU).
	LeakyReLU
)

// LeakySlope is LeakyReLU's slope for negative inputs, PyTorch's default.
const LeakySlope = 0.01

// String returns the spec's name for the activation.
func (a Activation) String() string {
	switch a {
	case Identity:
		return "none"
	case ReLU:
		return "relu"
	case Tanh:
		return "tanh"
	case Sigmoid:
		return "sigmoid"
	case LeakyReLU:
		return "leaky_relu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation maps a spec name ("none", "relu", "tanh", "sigmoid",
// "leaky_relu") to its Activation.
func ParseActivation(name string) (Activation, error) {
	for a := Identity; a <= LeakyReLU; a++ {
		if a.String() == name {
			return a, nil
		}
	}
	return Identity, fmt.Errorf("unknown activation %q (want none, relu, tanh, sigmoid or leaky_relu)", name)
}

// The light kernels in this file and in softmax.go, dropout.go and
// channels.go do little arithmetic per element, so they split their work
// across the worker pool only when a tensor is large enough to repay waking
// the workers (tens of microseconds), and they never wait for the pool: the
// convolution and fully connected kernels call BiasAct and Activation on
// their own outputs, possibly from inside a parallel region of their own,
// whose caller already holds par.mu. Such a call, or one made while another
// goroutine's region runs, goes serially on its caller instead. Every split
// is of independent elements, rows or images, so the serial and parallel
// paths give the same bits.

// parallelMin is the number of cheap element operations (a ReLU, a copy, a
// multiply) below which a kernel stays on the calling goroutine. Kernels
// that take an exponential or a power per element count it as more.
const parallelMin = 1 << 16

// expCost is what one exponential, tanh or power counts as against
// parallelMin.
const expCost = 16

// tryParts returns the number of parts a light kernel with the given amount
// of work on items independent items should run in. A result above one means
// the caller now holds par.mu, runs its job in that many parts and unlocks;
// one means it runs serially and must not touch the pool.
func tryParts(work, items int) int {
	if work < parallelMin {
		return 1
	}
	n := min(threads(), items)
	if n < 2 || !par.mu.TryLock() {
		return 1
	}
	return n
}

// chunk is part i of n of the elements [0, total), with boundaries at
// multiples of 16 elements, a cache line's worth, so that on the usual
// aligned buffers no two parts write the same line.
func chunk(i, n, total int) (lo, hi int) {
	lines := (total + 15) / 16
	lo, hi = share(i, n, lines)
	return min(lo*16, total), min(hi*16, total)
}

// actFwdJob is Activation.Forward's parallel region.
type actFwdJob struct {
	a Activation
	y []float32
}

var actFwd actFwdJob

func (j *actFwdJob) do(i, n int) {
	lo, hi := chunk(i, n, len(j.y))
	j.a.forward(j.y[lo:hi])
}

// cost is the work of applying the activation to n elements, as tryParts
// counts it.
func (a Activation) cost(n int) int {
	if a == Tanh || a == Sigmoid {
		return n * expCost
	}
	return n
}

// Forward applies the activation to y in place.
func (a Activation) Forward(y []float32) {
	a.check()
	if parts := tryParts(a.cost(len(y)), len(y)/16); parts > 1 {
		actFwd = actFwdJob{a, y}
		runParts(&actFwd, parts)
		actFwd = actFwdJob{}
		par.mu.Unlock()
		return
	}
	a.forward(y)
}

// check panics on an activation that is not one of the constants, before
// any work is split up.
func (a Activation) check() {
	if a < Identity || a > LeakyReLU {
		panic(fmt.Sprintf("cpu: unknown activation %d", int(a)))
	}
}

// forward is Forward on the calling goroutine.
func (a Activation) forward(y []float32) {
	switch a {
	case Identity:
	case ReLU:
		for i, v := range y {
			// The builtin max has no branch to mispredict on the signs of
			// a layer's outputs, and keeps a NaN, so that the trainer can
			// see that training diverged.
			y[i] = max(v, 0)
		}
	case Tanh:
		for i, v := range y {
			y[i] = float32(math.Tanh(float64(v)))
		}
	case Sigmoid:
		for i, v := range y {
			y[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	case LeakyReLU:
		for i, v := range y {
			if !(v > 0) { // a NaN stays one
				y[i] = LeakySlope * v
			}
		}
	default:
		panic(fmt.Sprintf("cpu: unknown activation %d", int(a)))
	}
}

// actBwdJob is Activation.Backward's parallel region.
type actBwdJob struct {
	a         Activation
	y, dy, dx []float32
}

var actBwd actBwdJob

func (j *actBwdJob) do(i, n int) {
	lo, hi := chunk(i, n, len(j.y))
	j.a.backward(j.y[lo:hi], j.dy[lo:hi], j.dx[lo:hi])
}

// Backward turns the gradient dy with respect to the activation's output y
// into the gradient dx with respect to its input, using only the saved
// output: relu dy·[y>0], tanh dy·(1−y²), sigmoid dy·y·(1−y), leaky relu
// dy·(y>0 ? 1 : LeakySlope). dx may be the
// same slice as dy (the kernels use that to work in place).
func (a Activation) Backward(y, dy, dx []float32) {
	n := len(y)
	checkLen("Activation.Backward", "dy", n, dy)
	checkLen("Activation.Backward", "dx", n, dx)
	a.check()
	dy, dx = dy[:n], dx[:n]
	if parts := tryParts(n, n/16); parts > 1 {
		actBwd = actBwdJob{a, y, dy, dx}
		runParts(&actBwd, parts)
		actBwd = actBwdJob{}
		par.mu.Unlock()
		return
	}
	a.backward(y, dy, dx)
}

// backward is Backward on the calling goroutine; dy and dx are as long as y.
func (a Activation) backward(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	switch a {
	case Identity:
		copy(dx, dy)
	case ReLU:
		reluBackward(y, dy, dx)
	case Tanh:
		for i, v := range y {
			dx[i] = dy[i] * (1 - v*v)
		}
	case Sigmoid:
		for i, v := range y {
			dx[i] = dy[i] * v * (1 - v)
		}
	case LeakyReLU:
		// The slope is positive, so the output's sign is the input's.
		for i, v := range y {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = LeakySlope * dy[i]
			}
		}
	default:
		panic(fmt.Sprintf("cpu: unknown activation %d", int(a)))
	}
}

// BiasAct adds a per-channel bias to an [N][C][HW] tensor and applies an
// activation, in one pass while the data is in cache. Convolution and fully
// connected layers call it on their GEMM output; the generated code may also
// call it on its own.
type BiasAct struct {
	N, C, HW int
	Act      Activation
}

// biasActFwdJob is BiasAct.Forward's parallel region; it splits the N·C
// planes, so that a single image (as a convolution passes it) is split too.
type biasActFwdJob struct {
	p    BiasAct
	b, y []float32
}

var biasActFwd biasActFwdJob

func (j *biasActFwdJob) do(i, n int) {
	lo, hi := share(i, n, j.p.N*j.p.C)
	j.p.forwardPlanes(lo, hi, j.b, j.y)
}

// Forward computes y ← act(y + b) in place. A nil b means no bias.
func (p BiasAct) Forward(b, y []float32) {
	checkLen("BiasAct.Forward", "y", p.N*p.C*p.HW, y)
	if b != nil {
		checkLen("BiasAct.Forward", "b", p.C, b)
	}
	p.Act.check()
	if parts := tryParts(p.Act.cost(p.N*p.C*p.HW), p.N*p.C); parts > 1 {
		biasActFwd = biasActFwdJob{p, b, y}
		runParts(&biasActFwd, parts)
		biasActFwd = biasActFwdJob{}
		par.mu.Unlock()
		return
	}
	p.forwardPlanes(0, p.N*p.C, b, y)
}

// forwardPlanes is Forward on planes [lo, hi) of the N·C. Large planes are
// finished one at a time, while each is in cache; small ones (a fully
// connected layer's are single units) get their bias in one pass and their
// activation in another, rather than a call per plane.
func (p BiasAct) forwardPlanes(lo, hi int, b, y []float32) {
	if b != nil {
		c := lo % p.C
		for pl := lo; pl < hi; pl++ {
			plane := y[pl*p.HW : (pl+1)*p.HW]
			bc := b[c]
			for i := range plane {
				plane[i] += bc
			}
			if p.HW >= 256 {
				p.Act.forward(plane)
			}
			if c++; c == p.C {
				c = 0
			}
		}
		if p.HW >= 256 {
			return
		}
	}
	p.Act.forward(y[lo*p.HW : hi*p.HW])
}

// biasActBwdJob is BiasAct.Backward's parallel region: it splits the planes,
// and with a bias gradient to compute, sums each plane into sums, which the
// caller then adds up in the serial order.
type biasActBwdJob struct {
	p               BiasAct
	y, dy, dx, sums []float32
}

var biasActBwd biasActBwdJob

func (j *biasActBwdJob) do(i, n int) {
	lo, hi := share(i, n, j.p.N*j.p.C)
	hw := j.p.HW
	j.p.Act.backward(j.y[lo*hw:hi*hw], j.dy[lo*hw:hi*hw], j.dx[lo*hw:hi*hw])
	if j.sums != nil {
		for pl := lo; pl < hi; pl++ {
			j.sums[pl] = sum(j.dx[pl*hw : (pl+1)*hw])
		}
	}
}

// planeSums holds BiasAct.Backward's per-plane sums; it is guarded by par.mu
// and kept between calls.
var planeSums []float32

// Backward computes, from the saved output y and the output gradient dy, the
// gradient dx with respect to the pre-activation (which is also the gradient
// of the layer's GEMM output), and the bias gradient db summed over the batch
// and the spatial positions. dx may be the same slice as dy. db is
// overwritten; a nil db skips it.
func (p BiasAct) Backward(y, dy, dx, db []float32) {
	size := p.N * p.C * p.HW
	checkLen("BiasAct.Backward", "y", size, y)
	checkLen("BiasAct.Backward", "dy", size, dy)
	checkLen("BiasAct.Backward", "dx", size, dx)
	if db != nil {
		checkLen("BiasAct.Backward", "db", p.C, db)
	}
	p.Act.check()
	y, dy, dx = y[:size], dy[:size], dx[:size]
	if p.HW == 1 {
		// A plane's sum is its one element: nothing to gain from summing
		// planes in parallel.
		p.Act.Backward(y, dy, dx)
		if db != nil {
			clear(db[:p.C])
			for n := 0; n < p.N; n++ {
				row := dx[n*p.C : (n+1)*p.C]
				for c, v := range row {
					db[c] += v
				}
			}
		}
		return
	}
	if parts := tryParts(size, p.N*p.C); parts > 1 {
		var sums []float32
		if db != nil {
			if len(planeSums) < p.N*p.C {
				planeSums = make([]float32, p.N*p.C)
			}
			sums = planeSums[:p.N*p.C]
		}
		biasActBwd = biasActBwdJob{p, y, dy, dx, sums}
		runParts(&biasActBwd, parts)
		biasActBwd = biasActBwdJob{}
		if db != nil {
			clear(db[:p.C])
			for n := 0; n < p.N; n++ {
				for c, v := range sums[n*p.C : (n+1)*p.C] {
					db[c] += v
				}
			}
		}
		par.mu.Unlock()
		return
	}
	p.Act.backward(y, dy, dx)
	if db == nil {
		return
	}
	clear(db[:p.C])
	for n := 0; n < p.N; n++ {
		for c := 0; c < p.C; c++ {
			db[c] += sum(dx[(n*p.C+c)*p.HW : (n*p.C+c+1)*p.HW])
		}
	}
}

// sum adds up x with four partial sums, for the same reason as dot.
func sum(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// reluBackward sets dx to dy where y > 0 and to 0 elsewhere, without a
// branch: the signs of a layer's outputs are as good as random, and a
// mispredicted branch per element cost more than the rest of the loop. The
// mask is all ones when y's bits, read as a signed integer, are at most 0
// (+0 and every negative number). A NaN y with its sign bit clear passes dy
// through; the loss is a NaN by then and the trainer stops.
func reluBackward(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		mask := uint32((int32(math.Float32bits(v)) - 1) >> 31)
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) &^ mask)
	}
}
