package cuda_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/runtime/cuda"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// TestDefaultBuildNeverLinksCU: gorgonia.org/cu ends the process in its
// init when there is no GPU, so no package or test of the default build may
// depend on it; only files with the cuda build tag import it.
func TestDefaultBuildNeverLinksCU(t *testing.T) {
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "list", "-deps", "-test",
		"github.com/alexnetc/alexnetc/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "gorgonia.org/") {
			t.Errorf("the default build depends on %s", pkg)
		}
	}
}

func TestDropoutDraws(t *testing.T) {
	const n = 1 << 16
	for _, rate := range []float32{0, 0.25, 0.5, 1} {
		kept := 0
		for i := range uint64(n) {
			if cuda.DropoutKeeps(42, i, rate) {
				kept++
			}
		}
		want := float64(n) * float64(1-rate)
		if d := float64(kept) - want; d*d > 25*want*float64(rate)+1 { // five standard deviations
			t.Errorf("rate %g: kept %d of %d, want about %.0f", rate, kept, n, want)
		}
	}
	// Seeds of different launches and runs give different masks.
	seen := map[uint64]bool{}
	for run := range uint64(3) {
		for launch := range 100 {
			s := cuda.LaunchSeed(7, run, launch)
			if seen[s] {
				t.Fatalf("seed of run %d, launch %d repeats", run, launch)
			}
			seen[s] = true
		}
	}
	same := 0
	for i := range uint64(1000) {
		if cuda.DropoutKeeps(cuda.LaunchSeed(7, 0, 1), i, 0.5) == cuda.DropoutKeeps(cuda.LaunchSeed(7, 0, 2), i, 0.5) {
			same++
		}
	}
	if same < 400 || same > 600 {
		t.Errorf("two launches' masks agree on %d of 1000 units", same)
	}
}

// TestIssueOrder: a loop's body runs Count times in turn, with arguments
// advanced per iteration.
func TestIssueOrder(t *testing.T) {
	arg := plan.Arg{Offset: 64, Start: 8, Advance: 100}
	ls := []plan.Launch{
		{Index: 0, Kernel: "fill", Count: 1},
		{Index: 1, Kernel: "im2col", Loop: 1, Count: 3, Args: []plan.Arg{arg}},
		{Index: 2, Kernel: "sgemm", Loop: 1, Count: 3},
		{Index: 3, Kernel: "bias_act", Count: 1},
	}
	var got []string
	plan.Issue(ls, func(l *plan.Launch, it int) error {
		s := l.Kernel
		if len(l.Args) > 0 {
			s += "@" + strings.Repeat("+", int(l.Args[0].Address(it)-72)/100)
		}
		got = append(got, s)
		return nil
	})
	want := "fill im2col@ sgemm im2col@+ sgemm im2col@++ sgemm bias_act"
	if strings.Join(got, " ") != want {
		t.Errorf("issued %v, want %s", got, want)
	}
}

func TestCompare(t *testing.T) {
	want := []float32{1, -2, 3, 0}
	if d := cuda.Compare(want, want); d.Norm != 0 || d.Max != 0 || d.Bad {
		t.Errorf("equal tensors differ: %v", d)
	}
	d := cuda.Compare([]float32{1, -2, 3.1, 0}, want)
	if d.Norm < 0.026 || d.Norm > 0.027 || d.Max < 0.033 || d.Max > 0.034 {
		t.Errorf("got %v, want norm 0.1/√14 ≈ 0.0267, max 0.1/3", d)
	}
	nan := float32(0)
	nan /= nan
	if d := cuda.Compare([]float32{1, nan, 3, 0}, want); !d.Bad || d.Within(1) {
		t.Errorf("a NaN passes: %v", d)
	}
}
