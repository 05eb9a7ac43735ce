package train

import (
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec/expr"
)

func rule(t *testing.T, text string) plan.Schedule {
	t.Helper()
	s, errs := expr.ParseSchedule(text, diag.Pos{}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return compiler.Schedule(s)
}

// TestPlateau follows the paper's rule: divide by 10 when the validation
// error stops improving, at most max_drops times.
func TestPlateau(t *testing.T) {
	s := NewSchedule(rule(t, "plateau(factor=0.1, max_drops=2, patience=2)"), 0.01)
	errs := []float64{0.50, 0.40, 0.41, 0.40, 0.39, 0.39, 0.39, 0.38, 0.38, 0.38, 0.38, 0.38}
	want := []float64{0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.0001, 0.0001, 0.0001, 0.0001, 0.0001, 0.0001}
	for i, e := range errs {
		s.EndEpoch(i+1, e)
		if !close(s.LR, want[i]) {
			t.Fatalf("after epoch %d (error %.2f): lr %g, want %g", i+1, e, s.LR, want[i])
		}
	}
	if s.Drops != 2 {
		t.Errorf("%d drops, want at most 2", s.Drops)
	}
}

func TestSteps(t *testing.T) {
	s := NewSchedule(rule(t, "steps(at=[2, 4], factor=0.5)"), 1)
	var got []float64
	for epoch := 1; epoch <= 5; epoch++ {
		got = append(got, s.LR) // the rate the epoch trained with
		s.EndEpoch(epoch, 0.5)
	}
	want := []float64{1, 1, 0.5, 0.5, 0.25}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("epoch rates %v, want %v", got, want)
		}
	}
}

func TestConstant(t *testing.T) {
	s := NewSchedule(rule(t, "constant"), 0.02)
	for epoch := 1; epoch <= 10; epoch++ {
		if msg := s.EndEpoch(epoch, 1); msg != "" || s.LR != 0.02 {
			t.Fatalf("constant schedule changed: %s", msg)
		}
	}
}

func close(a, b float64) bool { return a-b < 1e-12*b && b-a < 1e-12*b }
