package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBench times two training steps of the fashion network at a small
// batch and checks the figures hang together: the layers' GFLOP add up to
// the step's, which is three products per conv and fc layer (forward, and
// the two gradients, but only the weight gradient for the first layer), the
// JSON written with --out is what --json prints, and the table names every
// layer.
func TestBench(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "../../examples/fashion.toml", "--batch", "4", "--threads", "2", "--train",
		"--steps", "2", "--warmup", "1", "--json", "--out", out}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var r benchResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, stdout.Bytes()) {
		t.Error("--out wrote something other than what --json printed")
	}
	if r.Mode != "train" || r.Batch != 4 || r.Threads != 2 || r.Devices != 1 || r.Steps != 2 || len(r.StepSeconds) != 2 {
		t.Errorf("header: %+v", r)
	}
	if r.ImagesPerSec <= 0 || r.PeakRSSBytes <= 0 || r.ArenaBytes <= 0 {
		t.Errorf("images/s %g, peak RSS %d, arenas %d", r.ImagesPerSec, r.PeakRSSBytes, r.ArenaBytes)
	}
	// Multiply-adds per image of the fashion net's conv and fc layers,
	// from `alexnetc check`: 10,009,088; conv1 has 16·2·25·784 = 627,200.
	const macs, conv1 = 10009088, 627200
	want := 2 * 4 * float64(3*macs-conv1) / 1e9
	if d := r.GFLOPPerStep - want; d > 1e-9 || d < -1e-9 {
		t.Errorf("GFLOP per step %g, want %g", r.GFLOPPerStep, want)
	}
	var sum float64
	names := map[string]bool{}
	for _, l := range r.Layers {
		sum += l.GFLOP
		names[l.Layer] = true
		// The LRN layers' forward passes run inside the pooling after them.
		if want := map[string]string{"norm1": "pool1", "norm2": "pool2"}[l.Layer]; l.FusedInto != want {
			t.Errorf("layer %s: fused into %q, want %q", l.Layer, l.FusedInto, want)
		}
	}
	if d := sum - r.GFLOPPerStep; d > 1e-9 || d < -1e-9 {
		t.Errorf("layers sum to %g GFLOP, the step %g", sum, r.GFLOPPerStep)
	}
	for _, l := range []string{"conv1", "norm1", "pool1", "conv2", "conv3", "conv4", "pool4", "fc5", "drop5", "fc6", "loss"} {
		if !names[l] {
			t.Errorf("no layer %s in %v", l, r.Layers)
		}
	}

	stdout.Reset()
	if code := run([]string{"bench", "../../examples/fashion.toml", "--batch", "4", "--steps", "1", "--warmup", "0", "--devices", "spec"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"fashion, infer, batch 4, 2 device(s)", "norm1 (forward in pool1)", "images/s:", "peak RSS:", "allocations per step:"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if code := run([]string{"bench", "--devices", "two"}, &stdout, &stderr); code != exitBadSpec {
		t.Errorf("--devices two: exit %d, want %d", code, exitBadSpec)
	}
}
