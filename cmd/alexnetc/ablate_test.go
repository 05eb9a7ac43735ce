package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alexnetc/alexnetc/experiments/ablate"
)

// smallFashionSpec writes the fashion example at batch 64 and a Fashion-MNIST
// subset of n training and m test images, and returns the spec's path and
// the data's folder. It skips the test when Fashion-MNIST is not installed.
func smallFashionSpec(t *testing.T, n, m int) (specPath, dataDir string) {
	t.Helper()
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	os.Mkdir(dataDir, 0o755)
	writeFashionSubset(t, dataDir, n, m)
	src, err := os.ReadFile("../../examples/fashion.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "batch = 128", "batch = 64", 1)
	if text == string(src) {
		t.Fatal("examples/fashion.toml no longer says batch = 128")
	}
	specPath = filepath.Join(dir, "fashion.toml")
	if err := os.WriteFile(specPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return specPath, dataDir
}

// TestAblateFashion runs a real two-network, two-seed, one-epoch ablation
// on a Fashion-MNIST subset, checks its outputs, and checks that a second
// invocation trains nothing.
func TestAblateFashion(t *testing.T) {
	specPath, dataDir := smallFashionSpec(t, 320, 60)
	out := filepath.Join(t.TempDir(), "ablate")
	args := []string{"ablate", specPath, "--variants", "tanh", "--seeds", "2", "--budget", "1e", "--train-subset", "192", "--test-subset", "20",
		"--data", dataDir, "--out", out}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"[1/4] base seed 1:", "[4/4] tanh seed 2:", "| `tanh` | ReLUs reach 25% training error", "**ReLU vs tanh**"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	md, err := os.ReadFile(filepath.Join(out, ablate.MarkdownFile))
	if err != nil || strings.Count(string(md), "\n| `") != 2 {
		t.Errorf("results.md: %v\n%s", err, md)
	}
	f, err := os.Open(filepath.Join(out, ablate.CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 5 {
		t.Fatalf("results.csv: %v, %d rows", err, len(rows))
	}
	var rep ablate.Report
	b, _ := os.ReadFile(filepath.Join(out, ablate.JSONFile))
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.TrainImages != 192 || rep.TestImages != 20 || len(rep.Variants) != 2 || len(rep.Variants[1].Runs) != 2 || rep.Variants[1].Runs[1].Steps != 3 {
		t.Errorf("results.json: %d/%d images, %+v", rep.TrainImages, rep.TestImages, rep.Variants)
	}
	for _, p := range []string{ablate.EpochCurvesFile, ablate.TimeCurvesFile, filepath.Join(ablate.RunDir("tanh", 2), "weights.safetensors")} {
		if st, err := os.Stat(filepath.Join(out, p)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}

	stdout.Reset()
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("again: exit %d\n%s", code, stderr.String())
	}
	if n := strings.Count(stdout.String(), "finished earlier"); n != 4 || strings.Contains(stdout.String(), "epoch 1/1") {
		t.Errorf("the second invocation trained (%d runs skipped):\n%s", n, stdout.String())
	}
}

// TestAblateBase runs Figure 1's four-layer net on Fashion-MNIST (a variant
// of examples/cifar-4layer.toml) as the base, against its tanh variant.
func TestAblateBase(t *testing.T) {
	_, dataDir := smallFashionSpec(t, 256, 20)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"ablate", "../../examples/cifar-4layer.toml", "--base", "fashion", "--seeds", "1", "--budget", "1e",
		"--data", dataDir, "--out", out}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	// All the other variants: tanh and fashion-tanh (the same network), not
	// fashion again.
	for _, want := range []string{"The base is the spec's variant \"fashion\".", "| `tanh` |", "| `fashion-tanh` |", "[3/3] fashion-tanh seed 1"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "| `fashion` |") {
		t.Errorf("the base's own variant was trained again")
	}
}

// TestAblateBadInput: patch errors come back at --set:N:COL, all at once,
// with exit status 2, before anything is trained; so do bad flags.
func TestAblateBadInput(t *testing.T) {
	out := t.TempDir()
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--set", "drop conv9", "--set", "x: set conv1.act *= 2", "--set", "set conv1.pad = -1"}, []string{
			`--set:1:6: "conv9" matches no layer; did you mean "conv1"?`,
			`--set:2:4: *= only applies to numbers, and act is one of "relu", "tanh", "sigmoid", "none" or "leaky_relu"`,
			`--set:3:17: pad must be a non-negative integer, not -1`}},
		{[]string{"--set", "set conv1.act tanh"}, []string{`--set:1:15: `}},
		{[]string{"--variants", "no-lrn,tahn"}, []string{`no variant "tahn"; did you mean "tanh"?`}},
		{[]string{"--budget", "soon"}, []string{`budget "soon": want epochs (3e) or a positive training time`}},
		{[]string{"--seeds", "0"}, []string{"--seeds must be at least 1"}},
		{[]string{"--base", "nope"}, []string{`no variant "nope"`}},
		{[]string{"--target-error", "25"}, []string{"--target-error must lie between 0 and 1"}},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"ablate", "--out", out}, c.args...), &stdout, &stderr)
		if code != exitBadSpec {
			t.Errorf("%q: exit %d, want %d", c.args, code, exitBadSpec)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%q: stderr lacks %q:\n%s", c.args, w, stderr.String())
			}
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("bad input left %d files in --out", len(entries))
	}
}
