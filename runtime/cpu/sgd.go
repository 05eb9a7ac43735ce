package cpu

import "fmt"

// SGD is stochastic gradient descent with momentum and weight decay exactly
// as the paper's §5 writes it:
//
//	v ← Momentum·v − WeightDecay·LR·w − LR·g
//	w ← w + v
//
// where g is the gradient of the batch's mean loss (which the Backward
// methods produce, since SoftmaxLoss divides by N). Note that weight decay
// is scaled by the learning rate, as in the paper, not added to the
// gradient before momentum. The paper uses Momentum 0.9, WeightDecay 0.0005
// and LR from 0.01, divided by 10 when validation error stops improving;
// the caller changes LR between steps.
type SGD struct {
	LR, Momentum, WeightDecay float32
}

// Step updates the parameters w and their momentum v from the gradient g, in
// place. All three have the same length; v starts at zero.
func (o SGD) Step(w, g, v []float32) {
	if len(g) != len(w) || len(v) != len(w) {
		panic(fmt.Sprintf("cpu.SGD.Step: lengths of w, g, v differ (%d, %d, %d)", len(w), len(g), len(v)))
	}
	decay := o.WeightDecay * o.LR
	g, v = g[:len(w)], v[:len(w)]
	for i := range w {
		vi := o.Momentum*v[i] - decay*w[i] - o.LR*g[i]
		v[i] = vi
		w[i] += vi
	}
}

// Update is Step at the learning rate lr: the call of the op table's sgd
// kernel, whose rate is a runtime scalar that changes between steps.
func (o SGD) Update(lr float32, w, g, v []float32) {
	o.LR = lr
	o.Step(w, g, v)
}
