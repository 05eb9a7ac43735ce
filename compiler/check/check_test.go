package check_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/spec"
)

func load(t *testing.T, name string) *spec.Spec {
	t.Helper()
	path := filepath.Join("..", "..", "examples", name)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse(path, src)
	if len(diags) > 0 {
		t.Fatalf("%s", diags)
	}
	return s
}

func mustCheck(t *testing.T, s *spec.Spec) *check.Network {
	t.Helper()
	n, diags := check.Check(s)
	if len(diags) > 0 {
		t.Fatalf("%s", diags)
	}
	return n
}

// TestPaperAlexNet checks the figures of the paper's two-GPU network
// (DESIGN.md §4).
func TestPaperAlexNet(t *testing.T) {
	n := mustCheck(t, load(t, "alexnet.toml"))
	if n.Params != 60_965_224 {
		t.Errorf("parameters = %d, want 60,965,224", n.Params)
	}
	if n.Neurons != 659_272 {
		t.Errorf("neurons = %d, want 659,272", n.Neurons)
	}
	if n.MACs != 724_406_816 {
		t.Errorf("MACs = %d, want 724,406,816 (≈ 1.45 GFLOP)", n.MACs)
	}
	sizes := map[string]int{"conv1": 55, "norm1": 55, "pool1": 27, "conv2": 27, "pool2": 13, "conv3": 13, "conv4": 13, "conv5": 13, "pool5": 6}
	for name, want := range sizes {
		l := n.Layer(name)
		if l.Out.H != want || l.Out.W != want {
			t.Errorf("%s output %s, want side %d", name, l.Out, want)
		}
	}
	var cross []string
	for _, l := range n.Layers {
		if l.CrossGPU {
			cross = append(cross, l.Name)
		}
	}
	if want := []string{"conv3", "fc6", "fc7", "fc8"}; !slices.Equal(cross, want) {
		t.Errorf("layers reading both GPUs = %v, want %v", cross, want)
	}
	// Per-GPU widths: 48+48, 128+128, 192+192, 192+192, 128+128, 2048+2048.
	widths := map[string]int{"conv1": 48, "conv2": 128, "conv3": 192, "conv4": 192, "conv5": 128, "fc6": 2048, "fc7": 2048}
	for name, want := range widths {
		l := n.Layer(name)
		if len(l.Parts) != 2 || l.Parts[0].Channels() != want || l.Parts[1].Channels() != want {
			t.Errorf("%s parts %v, want two of %d", name, l.Parts, want)
		}
	}
	// conv2 reads only its own GPU's 48 maps; conv3 reads all 256.
	if p := n.Layer("conv2").Parts[1]; p.InC != 48 || p.Reads[0].GPU != 1 || len(p.Reads) != 1 {
		t.Errorf("conv2 on GPU 1 reads %+v", p.Reads)
	}
	if p := n.Layer("conv3").Parts[0]; p.InC != 256 || len(p.Reads) != 2 {
		t.Errorf("conv3 on GPU 0 reads %+v", p.Reads)
	}
	// LRN acts on each GPU's slice: norm1's parts hold channels 0-48 and 48-96.
	norm1 := n.Layer("norm1")
	if p := norm1.Parts; p[0].C0 != 0 || p[0].C1 != 48 || p[1].C0 != 48 || p[1].C1 != 96 || p[1].Reads[0].GPU != 1 {
		t.Errorf("norm1 parts %+v %+v", p[0], p[1])
	}
	if n.Layer("fc8").Parts[0].InC != 4096 || len(n.Layer("fc8").Parts) != 1 {
		t.Errorf("fc8 should be one part reading all 4096 units")
	}
	if !n.Layer("pool1").Overlapping {
		t.Errorf("pool1 should overlap (z=3 > s=2)")
	}
	// Ceil rounding: conv1's last window runs 3 pixels past the 224 input.
	if c := n.Layer("conv1"); c.PadBottom != 3 || c.PadRight != 3 || c.PadTop != 0 {
		t.Errorf("conv1 padding %d/%d/%d/%d, want 0/0/3/3", c.PadTop, c.PadLeft, c.PadBottom, c.PadRight)
	}
	var perGPU int64
	for _, g := range n.PerGPU {
		perGPU += g.Params
	}
	if perGPU != n.Params {
		t.Errorf("per-GPU parameters sum to %d, not %d", perGPU, n.Params)
	}
}

// TestFloorInput227 checks that Caffe's floor rounding with a 227 input gives
// the same network as cuda-convnet's ceil rounding with 224.
func TestFloorInput227(t *testing.T) {
	s := load(t, "alexnet.toml")
	s.Network.Rounding = spec.Floor
	s.Input.Height, s.Input.Width, s.Data.Crop = 227, 227, 227
	n := mustCheck(t, s)
	if n.Params != 60_965_224 || n.Neurons != 659_272 || n.Layer("pool5").Out.H != 6 {
		t.Errorf("floor/227: params %d neurons %d pool5 %s", n.Params, n.Neurons, n.Layer("pool5").Out)
	}
	if c := n.Layer("conv1"); c.PadBottom != 0 {
		t.Errorf("floor rounding added padding %d", c.PadBottom)
	}
}

// TestOneGPUNet checks the §3.2 comparison net, and that the two-GPU net's
// one-gpu variant is the same network.
func TestOneGPUNet(t *testing.T) {
	one := mustCheck(t, load(t, "alexnet-1gpu.toml"))
	// 48·3·11²+48 + 128·48·5²+128 + 192·128·3²+192 + 192·192·3²+192 +
	// 256·192·3²+256 + 4096·9216+4096 + 4096·4096+4096 + 1000·4096+1000.
	if one.Params != 59_798_312 {
		t.Errorf("one-GPU net: %d parameters, want 59,798,312", one.Params)
	}
	base := load(t, "alexnet.toml")
	vs, diags := base.ApplyVariant("one-gpu")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	v := mustCheck(t, vs)
	if v.Params != one.Params || v.Neurons != one.Neurons || v.MACs != one.MACs || len(v.Layers) != len(one.Layers) {
		t.Errorf("one-gpu variant: %d params, %d neurons, %d MACs; example: %d, %d, %d",
			v.Params, v.Neurons, v.MACs, one.Params, one.Neurons, one.MACs)
	}
	for i, l := range v.Layers {
		if l.Out != one.Layers[i].Out {
			t.Errorf("%s: variant %s, example %s", l.Name, l.Out, one.Layers[i].Out)
		}
	}
}

// TestEveryVariantChecks checks every example and every variant it declares.
func TestEveryVariantChecks(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.toml")
	if len(files) < 4 {
		t.Fatalf("found %d examples", len(files))
	}
	for _, f := range files {
		s := load(t, filepath.Base(f))
		nets, diags := check.Variants(s)
		if len(diags) > 0 {
			t.Errorf("%s: %s", f, diags)
			continue
		}
		if len(nets) != 1+len(s.Variants) {
			t.Errorf("%s: %d networks for %d variants", f, len(nets), len(s.Variants))
		}
	}
}

// TestVariantsChangeWhatTheySay checks the effect of each kind of patch on
// the paper's network.
func TestVariantsChangeWhatTheySay(t *testing.T) {
	base := load(t, "alexnet.toml")
	get := func(name string) *check.Network {
		vs, diags := base.ApplyVariant(name)
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		return mustCheck(t, vs)
	}
	if n := get("no-lrn"); n.Layer("norm1") != nil || n.Layer("pool1").In.Name != "conv1" {
		t.Errorf("no-lrn: norm1 still there or pool1 not rewired")
	}
	if n := get("tanh"); n.Layer("conv3").Spec.Act != spec.Tanh || n.Layer("fc7").Spec.Act != spec.Tanh || n.Layer("fc8").Spec.Act != spec.Linear {
		t.Errorf("tanh: activations not set as declared")
	}
	if n := get("no-overlap"); n.Layer("pool1").Overlapping || n.Layer("pool1").Out.H != 28 {
		t.Errorf("no-overlap: pool1 %s overlapping=%v", n.Layer("pool1").Out, n.Layer("pool1").Overlapping)
	}
	if n := get("no-dropout"); n.Layer("fc7").In.Name != "fc6" || !n.Layer("fc7").CrossGPU {
		t.Errorf("no-dropout: fc7 should read fc6 from both GPUs")
	}
	if n := get("no-conv3"); n.Layer("conv4").In.Name != "pool2" || !n.Layer("conv4").CrossGPU {
		t.Errorf("no-conv3: conv4 should read pool2 from both GPUs (conv3 did)")
	}
	if n := get("no-pca"); n.Spec.Data.PCALighting != 0 || base.Data.PCALighting != 0.1 {
		t.Errorf("no-pca: pca_lighting %v (base %v)", n.Spec.Data.PCALighting, base.Data.PCALighting)
	}
	if n := get("centre-crop"); n.Spec.Eval.Views != 1 || base.Eval.Views != 10 {
		t.Errorf("centre-crop: views %d (base %d)", n.Spec.Eval.Views, base.Eval.Views)
	}
}
