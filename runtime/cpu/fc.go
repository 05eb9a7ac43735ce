package cpu

import "fmt"

// FC is a fully connected layer, y = act(x·Wᵀ + b), with x [N][In],
// W [Out][In] (PyTorch's layout) and b, y [N][Out]. A layer that follows a
// convolution reads its [N][C][H][W] output directly as [N][C·H·W].
type FC struct {
	N, In, Out int
	Act        Activation
}

// Validate reports whether the shape is consistent.
func (p FC) Validate() error {
	if p.N <= 0 || p.In <= 0 || p.Out <= 0 {
		return fmt.Errorf("fc: sizes must be positive (N=%d In=%d Out=%d)", p.N, p.In, p.Out)
	}
	return nil
}

// InSize is the element count of x and dx.
func (p FC) InSize() int { return p.N * p.In }

// OutSize is the element count of y and dy.
func (p FC) OutSize() int { return p.N * p.Out }

// WeightSize is the element count of w and dw.
func (p FC) WeightSize() int { return p.Out * p.In }

// BiasSize is the element count of b and db.
func (p FC) BiasSize() int { return p.Out }

// BackwardScratch is the scratch length Backward needs: the pre-activation
// gradient of the whole batch when there is an activation, else nothing.
func (p FC) BackwardScratch() int {
	if p.Act == Identity {
		return 0
	}
	return p.N * p.Out
}

// Forward computes y = act(x·Wᵀ + b). A nil b means no bias.
func (p FC) Forward(x, w, b, y []float32) {
	checkLen("FC.Forward", "x", p.InSize(), x)
	checkLen("FC.Forward", "w", p.WeightSize(), w)
	checkLen("FC.Forward", "y", p.OutSize(), y)
	Sgemm(false, true, p.N, p.Out, p.In, 1, x, p.In, w, p.In, 0, y, p.Out)
	BiasAct{N: p.N, C: p.Out, HW: 1, Act: p.Act}.Forward(b, y)
}

// Backward computes the input gradient dx = g·W, the weight gradient
// dw = gᵀ·x and the bias gradient db = Σ_n g, where g is dy carried back
// through the activation using the saved output y. All three are
// overwritten and summed over the batch; a nil dx or db is skipped. y is
// read only when Act is not Identity.
func (p FC) Backward(x, w, y, dy, dx, dw, db, scratch []float32) {
	checkLen("FC.Backward", "x", p.InSize(), x)
	checkLen("FC.Backward", "w", p.WeightSize(), w)
	checkLen("FC.Backward", "dy", p.OutSize(), dy)
	checkLen("FC.Backward", "dw", p.WeightSize(), dw)
	checkLen("FC.Backward", "scratch", p.BackwardScratch(), scratch)
	g := dy[:p.OutSize()]
	if p.Act != Identity {
		checkLen("FC.Backward", "y", p.OutSize(), y)
		g = scratch[:p.OutSize()]
		p.Act.Backward(y[:p.OutSize()], dy, g)
	}
	if db != nil {
		checkLen("FC.Backward", "db", p.Out, db)
		db = db[:p.Out]
		clear(db)
		for n := 0; n < p.N; n++ {
			axpyRow(1, g[n*p.Out:], db)
		}
	}
	Sgemm(true, false, p.Out, p.In, p.N, 1, g, p.Out, x, p.In, 0, dw, p.In)
	if dx != nil {
		checkLen("FC.Backward", "dx", p.InSize(), dx)
		Sgemm(false, false, p.N, p.In, p.Out, 1, g, p.Out, w, p.In, 0, dx, p.In)
	}
}
