package train

import (
	"context"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
)

// randomSet is a small set of noise images with random labels.
func randomSet(n, channels, size, classes int, seed int64) *data.Set {
	r := rand.New(rand.NewSource(seed))
	s := &data.Set{Channels: channels, Size: size, Pixels: make([]uint8, n*channels*size*size), Labels: make([]int32, n)}
	for i := range s.Pixels {
		s.Pixels[i] = uint8(r.Intn(256))
	}
	for i := range s.Labels {
		s.Labels[i] = int32(r.Intn(classes))
	}
	for c := 0; c < classes; c++ {
		s.Classes = append(s.Classes, string(rune('a'+c)))
	}
	return s
}

func fashionPlan(t *testing.T, patch string, batch int) *plan.Plan {
	t.Helper()
	src, err := os.ReadFile("../../examples/fashion.toml")
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse("fashion.toml", src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if patch != "" {
		p, diags := spec.ParsePatch("test", patch)
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		if s, diags = s.Apply("test", []*spec.Patch{p}); len(diags) > 0 {
			t.Fatal(diags)
		}
	}
	n, diags := check.Check(s)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	p, err := compiler.Compile(n, compiler.Options{Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDivergenceIsExplained: a learning rate far too high makes the loss
// NaN; the run stops with the step, the layer and a hint.
func TestDivergenceIsExplained(t *testing.T) {
	p := fashionPlan(t, "set train.lr = 1e6; set train.schedule = constant", 16)
	_, err := Run(context.Background(), Config{Plan: p, Train: randomSet(64, 1, 32, 10, 1), Test: randomSet(16, 1, 32, 10, 2),
		Epochs: 2, Out: t.TempDir(), Log: io.Discard})
	if err == nil {
		t.Fatal("training with lr = 1e6 did not stop")
	}
	t.Log(err)
	for _, want := range []string{"the loss is", "at step", "the first values that are not finite are in layer", "Hint: the learning rate 1e+06"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestRunWritesItsOutputs trains two short epochs and checks what a run
// leaves behind.
func TestRunWritesItsOutputs(t *testing.T) {
	p := fashionPlan(t, "", 16)
	out := t.TempDir()
	res, err := Run(context.Background(), Config{Plan: p, Train: randomSet(64, 1, 32, 10, 1), Test: randomSet(40, 1, 32, 10, 2),
		Epochs: 2, Out: out, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History) != 2 || res.History[1].Step != 8 {
		t.Errorf("history %+v", res.History)
	}
	for _, f := range []string{CheckpointFile, WeightsFile, MetricsFile, CurvesFile} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	lines, _ := os.ReadFile(filepath.Join(out, MetricsFile))
	if n := strings.Count(string(lines), "\n"); n != 2 || !strings.Contains(string(lines), `"val_top1_error"`) {
		t.Errorf("metrics.jsonl:\n%s", lines)
	}
}
