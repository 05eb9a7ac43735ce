package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVizFashion trains the fashion net for one short epoch on a subset of
// Fashion-MNIST and draws its kernels and nearest neighbours.
func TestVizFashion(t *testing.T) {
	specPath, dataDir := smallFashionSpec(t, 256, 40)
	runDir := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"train", specPath, "--data", dataDir, "--epochs", "1", "--out", runDir}, &stdout, &stderr); code != 0 {
		t.Fatalf("train: exit %d\n%s", code, stderr.String())
	}
	out := filepath.Join(t.TempDir(), "viz")
	stdout.Reset()
	args := []string{"viz", specPath, "--weights", filepath.Join(runDir, "weights.safetensors"), "--data", dataDir, "--out", out, "--images", "4"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("viz: exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{"the 32 kernels of conv1, 5×5", "4 test images (first column) and their 6 nearest of 256 training images by the output of drop5 (512 values)",
		"  T-shirt/top → "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	// Kernels: 16 per row, 40 pixels each with 2-pixel gaps, one row per
	// GPU. Neighbours: 4 rows of 1 + 6 images as stored ([data] resize, or
	// 28×28), at 3×, with 2-pixel gaps and 4 more after the first column.
	side := 3 * 28
	if src, _ := os.ReadFile(specPath); strings.Contains(string(src), "\nresize = 32") {
		side = 3 * 32
	}
	for file, size := range map[string][2]int{kernelsFile: {16*40 + 17*2, 2*44 + 4}, neighboursFile: {7*side + 8*2 + 4, 4*side + 5*2}} {
		f, err := os.Open(filepath.Join(out, file))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if b := img.Bounds(); b.Dx() != size[0] || b.Dy() != size[1] {
			t.Errorf("%s is %d×%d, want %d×%d", file, b.Dx(), b.Dy(), size[0], size[1])
		}
	}
	var so, se bytes.Buffer
	if code := run([]string{"viz", specPath}, &so, &se); code != exitBadSpec || !strings.Contains(se.String(), "--weights") {
		t.Errorf("viz without --weights: exit %d, %s", code, se.String())
	}
}
