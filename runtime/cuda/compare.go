package cuda

import (
	"fmt"
	"math"

	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Difference says how far a tensor computed on the GPU is from the CPU
// engine's. Norm is ‖got − want‖₂ / ‖want‖₂, the figure the checks bound:
// the two backends add in different orders, and a ReLU or a max pool whose
// input is within rounding of a tie can route a few elements differently,
// which a norm-wise bound tolerates and an element-wise one would not. Max
// is the largest element difference over the largest |want|, for the
// report.
type Difference struct {
	Norm, Max float64
	Bad       bool // got has a NaN or infinity where want has none
}

// Compare measures got against want.
func Compare(got, want []float32) Difference {
	var d Difference
	var num, den, top float64
	for i, w := range want {
		g := float64(got[i])
		wf := float64(w)
		if (math.IsNaN(g) || math.IsInf(g, 0)) && !(math.IsNaN(wf) || math.IsInf(wf, 0)) {
			d.Bad = true
			continue
		}
		diff := g - wf
		num += diff * diff
		den += wf * wf
		top = max(top, math.Abs(wf))
		d.Max = max(d.Max, math.Abs(diff))
	}
	switch {
	case den > 0:
		d.Norm = math.Sqrt(num / den)
	case num > 0:
		d.Norm = math.Inf(1)
	}
	if top > 0 {
		d.Max /= top
	} else if d.Max > 0 {
		d.Max = math.Inf(1)
	}
	return d
}

// Within reports whether the difference is inside a norm-wise tolerance.
func (d Difference) Within(tol float64) bool { return !d.Bad && d.Norm <= tol }

func (d Difference) String() string {
	s := fmt.Sprintf("norm %.2g, max %.2g", d.Norm, d.Max)
	if d.Bad {
		s += ", NaN or Inf"
	}
	return s
}

// Results names the buffers a check compares: after training steps, every
// weight and bias with its gradient and momentum, and the loss; after an
// inference pass, the outputs it writes (the probabilities).
func Results(p *plan.Plan) (train, infer []string) {
	for _, b := range p.Params() {
		train = append(train, b.Name, b.Name+".grad", b.Name+".momentum")
	}
	train = append(train, p.Model.Loss)
	for _, b := range p.Buffers {
		if b.Role == plan.Output && b.Offset[plan.Infer] >= 0 && b.DType == plan.F32 && b.Name != p.Model.Loss {
			infer = append(infer, b.Name)
		}
	}
	return train, infer
}
