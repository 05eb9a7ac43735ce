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
)

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
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation maps a spec name ("none", "relu", "tanh", "sigmoid") to its
// Activation.
func ParseActivation(name string) (Activation, error) {
	for a := Identity; a <= Sigmoid; a++ {
		if a.String() == name {
			return a, nil
		}
	}
	return Identity, fmt.Errorf("unknown activation %q (want none, relu, tanh or sigmoid)", name)
}

// Forward applies the activation to y in place.
func (a Activation) Forward(y []float32) {
	switch a {
	case Identity:
	case ReLU:
		for i, v := range y {
			// v < 0 rather than !(v > 0) so that a NaN survives and the
			// trainer can see that training diverged.
			if v < 0 {
				y[i] = 0
			}
		}
	case Tanh:
		for i, v := range y {
			y[i] = float32(math.Tanh(float64(v)))
		}
	case Sigmoid:
		for i, v := range y {
			y[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	default:
		panic(fmt.Sprintf("cpu: unknown activation %d", int(a)))
	}
}

// Backward turns the gradient dy with respect to the activation's output y
// into the gradient dx with respect to its input, using only the saved
// output: relu dy·[y>0], tanh dy·(1−y²), sigmoid dy·y·(1−y). dx may be the
// same slice as dy (the kernels use that to work in place).
func (a Activation) Backward(y, dy, dx []float32) {
	n := len(y)
	checkLen("Activation.Backward", "dy", n, dy)
	checkLen("Activation.Backward", "dx", n, dx)
	dy, dx = dy[:n], dx[:n]
	switch a {
	case Identity:
		copy(dx, dy)
	case ReLU:
		for i, v := range y {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	case Tanh:
		for i, v := range y {
			dx[i] = dy[i] * (1 - v*v)
		}
	case Sigmoid:
		for i, v := range y {
			dx[i] = dy[i] * v * (1 - v)
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

// Forward computes y ← act(y + b) in place. A nil b means no bias.
func (p BiasAct) Forward(b, y []float32) {
	checkLen("BiasAct.Forward", "y", p.N*p.C*p.HW, y)
	if b != nil {
		checkLen("BiasAct.Forward", "b", p.C, b)
	}
	for n := 0; n < p.N; n++ {
		for c := 0; c < p.C; c++ {
			plane := y[(n*p.C+c)*p.HW : (n*p.C+c+1)*p.HW]
			if b != nil {
				bc := b[c]
				for i := range plane {
					plane[i] += bc
				}
			}
			p.Act.Forward(plane)
		}
	}
}

// Backward computes, from the saved output y and the output gradient dy, the
// gradient dx with respect to the pre-activation (which is also the gradient
// of the layer's GEMM output), and the bias gradient db summed over the batch
// and the spatial positions. dx may be the same slice as dy. db is
// overwritten; a nil db skips it.
func (p BiasAct) Backward(y, dy, dx, db []float32) {
	size := p.N * p.C * p.HW
	checkLen("BiasAct.Backward", "y", size, y)
	p.Act.Backward(y[:size], dy, dx)
	if db == nil {
		return
	}
	checkLen("BiasAct.Backward", "db", p.C, db)
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
