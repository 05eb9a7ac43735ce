package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/examples"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
)

// fashionSpec is examples/fashion.toml compiled: what the data package
// sees of a spec is the plan's.
func fashionSpec(t testing.TB) *plan.Plan {
	t.Helper()
	src, err := examples.FS.ReadFile("fashion.toml")
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse("fashion.toml", src)
	if len(diags) > 0 {
		t.Fatalf("fashion.toml: %v", diags)
	}
	p, err := compiler.CompileSpec(s, "", compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func haveFashion(t testing.TB) {
	if _, err := os.Stat(filepath.Join(FashionMNISTDir, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skip("Fashion-MNIST not installed (Debian package dataset-fashion-mnist)")
	}
}

func TestAugmentOf(t *testing.T) {
	s := fashionSpec(t)
	aug := AugmentOf(s.Data)
	want := Augment{Crop: 28, RandomCrop: false, Flip: true, Mean: plan.MeanPixel}
	if aug != want {
		t.Errorf("AugmentOf(fashion.toml) = %+v, want %+v", aug, want)
	}
}

func TestLoadFashionTest(t *testing.T) {
	haveFashion(t)
	s := fashionSpec(t)
	set, err := Load(s.Data, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 10000 || set.Size != 28 || set.Channels != 1 || set.Classes[9] != "Ankle boot" {
		t.Fatalf("%d images of %d×%d×%d", set.Len(), set.Channels, set.Size, set.Size)
	}
	e, err := NewEvalLoader(set, ComputeStats(set), AugmentOf(s.Data), s.Eval.Views, Options{Batch: s.Batch})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Batches() != 79 {
		t.Errorf("%d batches, want ⌈10000/128⌉ = 79", e.Batches())
	}
}

func TestLoadFolderAndErrors(t *testing.T) {
	root := t.TempDir()
	for _, split := range []string{"train", "val"} {
		for _, class := range []string{"x", "y"} {
			writeFile(t, filepath.Join(root, split, class, "1.png"), encodePNG(t, gradient(12, 9, 1, 1)))
		}
	}
	d := plan.Data{Dataset: "folder", Path: root, Resize: 6}
	for _, train := range []bool{true, false} {
		set, err := Load(d, train, 2)
		if err != nil || set.Len() != 2 || set.Size != 6 || set.Channels != 3 {
			t.Fatalf("train=%v: %v", train, err)
		}
	}
	for _, c := range []struct {
		d    plan.Data
		want string
	}{
		{plan.Data{Dataset: "folder", Path: root}, "needs resize > 0"},
		{plan.Data{Dataset: "folder"}, "needs a path"},
		{plan.Data{Dataset: "cifar10"}, "needs a path"},
		{plan.Data{Dataset: "mnist"}, `unknown dataset "mnist"`},
		{plan.Data{Dataset: "fashion-mnist", Path: root}, "no such file"},
	} {
		if _, err := Load(c.d, true, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want …%s", c.d, err, c.want)
		}
	}
}

// BenchmarkReadFashionTrain reads the 60,000 training images and scales
// them from 28 to 32, as examples/fashion.toml asks.
func BenchmarkReadFashionTrain(b *testing.B) {
	haveFashion(b)
	d := fashionSpec(b).Data
	for b.Loop() {
		if _, err := Load(d, true, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFashionEpoch computes the training statistics and runs one epoch
// of batches of 128 with examples/fashion.toml's augmentation (28×28 random
// crops of 32×32, flips, pixel mean), the consumer doing nothing.
func BenchmarkFashionEpoch(b *testing.B) {
	haveFashion(b)
	s := fashionSpec(b)
	set, err := Load(s.Data, true, 0)
	if err != nil {
		b.Fatal(err)
	}
	x, y := make([]float32, 128*28*28), make([]int32, 128)
	for b.Loop() {
		l, err := NewLoader(set, ComputeStats(set), AugmentOf(s.Data), Options{Batch: 128, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		for l.Next(x, y) {
		}
		b.ReportMetric(l.Waited().Seconds(), "waited-s")
		l.Close()
	}
}
