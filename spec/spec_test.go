package spec_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/spec"
)

func parseFile(t *testing.T, path string) *spec.Spec {
	t.Helper()
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

// TestDefaults checks that unwritten keys take their documented defaults.
func TestDefaults(t *testing.T) {
	src := `
[network]
name = "n"
[input]
channels = 1
height = 8
width = 8
[[layer]]
name = "c"
op = "conv"
filters = 2
kernel = 3
[[layer]]
name = "l"
op = "lrn"
size = 3
k = 1
alpha = 1
beta = 1
[[layer]]
name = "s"
op = "softmax"
`
	s, diags := spec.Parse("d.toml", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	c, l := s.Layers[0], s.Layers[1]
	checks := []struct {
		what      string
		got, want any
	}{
		{"gpus", s.Network.GPUs, 1},
		{"rounding", s.Network.Rounding, spec.Floor},
		{"stride", c.Stride, 1},
		{"pad", c.Pad, 0},
		{"groups", c.Groups, 1},
		{"act", c.Act, spec.Linear},
		{"weights", c.Weights.String(), "normal(mean=0, std=0.01)"},
		{"bias", c.Bias.String(), "constant(0)"},
		{"c.input", c.Input.Layer, "data"},
		{"l.input", l.Input.Layer, "c"},
		{"alpha_mode", l.AlphaMode, spec.AlphaSum},
		{"batch", s.Train.Batch, 128},
		{"epochs", s.Train.Epochs, 90},
		{"lr", s.Train.LR, 0.01},
		{"momentum", s.Train.Momentum, 0.9},
		{"weight_decay", s.Train.WeightDecay, 0.0005},
		{"schedule", s.Train.Schedule.String(), "plateau(factor=0.1, max_drops=3, patience=1)"},
		{"views", s.Eval.Views, 1},
		{"mean", s.Data.Mean, spec.MeanNone},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	// A default points at the table header, a written value at itself.
	if p := c.Of("stride"); p.Line != 8 || p.Col != 1 {
		t.Errorf("default stride at %s, want the [[layer]] header at d.toml:8:1", p)
	}
	if p := c.Of("kernel"); p.Line != 12 || p.Col != 10 {
		t.Errorf("kernel at %s, want d.toml:12:10", p)
	}
}

// TestDocsCoverEveryKey keeps docs/spec.md in step with the schema: every
// table and key the decoder accepts is documented.
func TestDocsCoverEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/spec.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range spec.Keys() {
		table, field, _ := strings.Cut(key, ".")
		if !strings.Contains(string(doc), "`"+field+"`") {
			t.Errorf("docs/spec.md does not document key %q of %s", field, table)
		}
		header := "`[" + table + "]`"
		if table == "layer" || table == "variant" {
			header = "`[[" + table + "]]`"
		}
		if !strings.Contains(string(doc), header) {
			t.Errorf("docs/spec.md has no section for %s", header)
		}
	}
	var headings []string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "### ") {
			headings = append(headings, line)
		}
	}
	for _, op := range spec.Ops {
		if !strings.Contains(strings.Join(headings, "\n"), "`"+string(op)+"`") {
			t.Errorf("docs/spec.md has no section for op %q", op)
		}
	}
}

// TestPatchForms applies each patch statement to the paper's network.
func TestPatchForms(t *testing.T) {
	base := parseFile(t, "../examples/alexnet.toml")
	apply := func(text string) (*spec.Spec, diag.List) {
		p, diags := spec.ParsePatch("--set", text)
		if len(diags) > 0 {
			return nil, diags
		}
		return base.Apply("cli", []*spec.Patch{p})
	}
	s, diags := apply("drop norm*, drop6; set conv[1-2].filters *= 2; set fc?.act = tanh; set train.lr = 0.02; place fc8 on gpu(1); set conv5.weights = normal(std=0.02)")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if s.Layer("norm1") != nil || s.Layer("norm2") != nil || s.Layer("drop6") != nil {
		t.Errorf("drop left layers behind")
	}
	if s.Layer("fc7").Input.Layer != "fc6" {
		t.Errorf("fc7 reads %s after dropping drop6", s.Layer("fc7").Input.Layer)
	}
	if s.Layer("conv1").Filters != 192 || s.Layer("conv2").Filters != 512 || s.Layer("conv3").Filters != 384 {
		t.Errorf("*= gave %d, %d, %d", s.Layer("conv1").Filters, s.Layer("conv2").Filters, s.Layer("conv3").Filters)
	}
	if s.Layer("fc6").Act != spec.Tanh || s.Layer("fc8").Act != spec.Tanh || s.Layer("conv1").Act != spec.ReLU {
		t.Errorf("fc?.act not applied as a glob")
	}
	if s.Train.LR != 0.02 || base.Train.LR != 0.01 {
		t.Errorf("lr = %v (base %v): the patch must not touch the base", s.Train.LR, base.Train.LR)
	}
	if p := s.Layer("fc8").Place; p == nil || p.Split || p.GPU != 1 {
		t.Errorf("fc8 placement %v", p)
	}
	if s.Layer("conv5").Weights.Std != 0.02 || base.Layer("conv5").Weights.Std != 0.01 {
		t.Errorf("conv5 weights %v", s.Layer("conv5").Weights)
	}
	if base.Layer("norm1") == nil || base.Layer("conv1").Filters != 96 {
		t.Errorf("the base spec changed")
	}
	if n, errs := check.Check(s); len(errs) > 0 || n.Layer("fc8").Parts[0].GPU != 1 {
		t.Errorf("patched network: %v", errs)
	}

	bad := []struct{ patch, want string }{
		{"drop conv9", `--set:1:6: "conv9" matches no layer; did you mean "conv1"?`},
		{"set conv1.filterz = 3", `--set:1:11: layers have no key "filterz"; did you mean "filters"?`},
		{"set train.nope = 3", `--set:1:11: [train] has no key "nope"`},
		{"set conv1.name = x", `--set:1:11: a patch cannot change a layer's name; drop the layer instead`},
		{"set conv1.act *= 2", `--set:1:1: *= only applies to numbers, and act is one of "relu", "tanh", "sigmoid", "none" or "leaky_relu"`},
		{"set conv1.act = swish", `--set:1:17: act must be one of "relu", "tanh", "sigmoid", "none" or "leaky_relu", not "swish"`},
		{"set conv1.weights = gauss(1)", `--set:1:21: unknown initialiser "gauss"; expected normal, uniform or constant`},
		{"set conv1.filters = -1", `--set:1:21: filters must be a positive integer, not -1`},
		{"place fc8 on gpu(x)", `--set:1:18: argument "n" to gpu must be an integer, found name "x"`},
		{"set conv*.act = ", `--set:1:17: unexpected end of patch; expected a value`},
	}
	for _, b := range bad {
		_, diags := apply(b.patch)
		if got := diags.Error(); got != b.want {
			t.Errorf("patch %q:\n got %s\nwant %s", b.patch, got, b.want)
		}
	}
}

// FuzzParse feeds the decoder and the checker arbitrary files: they must
// never panic, and every diagnostic must point into the file.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../examples/*.toml")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("[network]\nname = 1\n[[layer]]\nop = \"conv\"\n"))
	f.Add([]byte("[[layer]]\nname=\"a\"\ninput=\"b[all]\"\n[[layer]]\nname=\"b\"\ninput=\"a\"\n"))
	f.Add([]byte("[[variant]]\nname = \"v\"\npatch = [\"drop *; set x.y /= 0\"]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		s, diags := spec.Parse("f.toml", src)
		if s != nil {
			_, more := check.Variants(s)
			diags = append(diags, more...)
		}
		lines := strings.Count(string(src), "\n") + 1
		for _, d := range diags {
			if d.Pos.File != "f.toml" || d.Pos.Line < 1 || d.Pos.Line > lines || d.Pos.Col < 1 {
				t.Errorf("diagnostic outside the file (%d lines): %s", lines, d)
			}
			if d.Msg == "" {
				t.Errorf("empty message at %s", d.Pos)
			}
		}
		if s == nil && len(diags) == 0 {
			t.Errorf("no spec and no diagnostics")
		}
	})
}
