package ablate

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/examples"
	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
)

// noise is a set of random images with random labels.
func noise(n, channels, size int, seed int64) *data.Set {
	r := rand.New(rand.NewSource(seed))
	s := &data.Set{Channels: channels, Size: size, Pixels: make([]uint8, n*channels*size*size), Labels: make([]int32, n),
		Classes: data.FashionMNISTClasses}
	for i := range s.Pixels {
		s.Pixels[i] = uint8(r.Intn(256))
	}
	for i := range s.Labels {
		s.Labels[i] = int32(r.Intn(10))
	}
	return s
}

// noiseLoader serves noise in place of Fashion-MNIST: 28×28 grayscale,
// brought to [data] resize as data.Load would.
func noiseLoader(loads *int) func(plan.Data, bool, int) (*data.Set, error) {
	return func(d plan.Data, isTrain bool, _ int) (*data.Set, error) {
		*loads++
		n, seed := 200, int64(1)
		if !isTrain {
			n, seed = 40, 2
		}
		s := noise(n, 1, 28, seed)
		if d.Resize > 0 {
			s = s.Resized(d.Resize)
		}
		return s, nil
	}
}

// TestPCALighting exercises PCA lighting, which needs colour images, on
// colour noise: the four-layer CIFAR-10 net against the same net with the
// paper's lighting σ = 0.1, given as a command-line patch.
func TestPCALighting(t *testing.T) {
	s := parseExample(t, "cifar-4layer.toml")
	p, _ := spec.ParsePatch("test", "set train.batch = 32")
	s, diags := s.Apply("", []*spec.Patch{p})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	load := func(d plan.Data, isTrain bool, _ int) (*data.Set, error) {
		if d.Dataset != "cifar10" {
			t.Errorf("dataset %q", d.Dataset)
		}
		if isTrain {
			return noise(64, 3, 32, 1), nil
		}
		return noise(16, 3, 32, 2), nil
	}
	rep, err := Run(context.Background(), Config{Spec: s, Variants: mustVariants(t, s, nil, "pca: set data.pca_lighting = 0.1"),
		Budget: Budget{Epochs: 1}, Out: t.TempDir(), Load: load})
	if err != nil {
		t.Fatal(err)
	}
	base, pca := rep.Variants[0].Runs[0], rep.Variants[1].Runs[0]
	if pca.History[0].TrainLoss == base.History[0].TrainLoss {
		t.Errorf("PCA lighting changed nothing: training loss %v in both", base.History[0].TrainLoss)
	}
	if rep.Variants[1].Patch[0] != "set data.pca_lighting = 0.1" {
		t.Errorf("patch %q", rep.Variants[1].Patch)
	}
}

func parseExample(t *testing.T, name string) *spec.Spec {
	t.Helper()
	src, err := examples.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	s, diags := spec.Parse("examples/"+name, src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return s
}

// smallFashion is the fashion example at batch 32, so that a run over a
// few noise images takes a few steps an epoch.
func smallFashion(t *testing.T) *spec.Spec {
	t.Helper()
	s := parseExample(t, "fashion.toml")
	p, diags := spec.ParsePatch("test", "set train.batch = 32")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	s, diags = s.Apply("", []*spec.Patch{p})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return s
}

func mustVariants(t *testing.T, s *spec.Spec, names []string, sets ...string) []Variant {
	t.Helper()
	var vs []Variant
	if names != nil {
		var diags diag.List
		if vs, diags = Declared(s, names); len(diags) > 0 {
			t.Fatal(diags)
		}
	}
	more, diags := ParsePatches("--set", sets)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return append(vs, more...)
}

// TestAblation trains the base, a declared variant, an evaluation-only
// variant and a command-line one, two seeds each, checks every output, and
// then checks that running it again trains nothing.
func TestAblation(t *testing.T) {
	s := smallFashion(t)
	out := t.TempDir()
	loads := 0
	var log bytes.Buffer
	cfg := Config{Spec: s, Variants: mustVariants(t, s, []string{"tanh"}, "views: set eval.views = 10", "lr2: set train.lr *= 2"),
		Seeds: []int{1, 2}, Budget: Budget{Epochs: 1}, Out: out, Log: &log, Load: noiseLoader(&loads), TrainSubset: 96, TestSubset: 20}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if loads != 2 {
		t.Errorf("the data sets were read %d times, want once each", loads)
	}
	// Files: a folder per trained network and seed, none for views, which
	// changes only [eval].
	for _, name := range []string{"base", "tanh", "lr2"} {
		for _, seed := range []int{1, 2} {
			dir := filepath.Join(out, RunDir(name, seed))
			for _, f := range []string{RunFile, StepsFile, "weights.safetensors", "metrics.jsonl"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("%v", err)
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(out, RunDir("views", 1))); err == nil {
		t.Errorf("views was trained; it should share the base's runs")
	}
	// The report.
	if len(rep.Variants) != 4 || rep.TrainImages != 96 || rep.TestImages != 20 {
		t.Fatalf("report: %d variants, %d/%d images", len(rep.Variants), rep.TrainImages, rep.TestImages)
	}
	for _, v := range rep.Variants {
		if len(v.Runs) != 2 {
			t.Errorf("%s: %d runs", v.Name, len(v.Runs))
		}
		for _, r := range v.Runs {
			if r.Epochs != 1 || r.Steps != 3 || r.StepsPerEpoch != 3 || !r.Finished || r.TestImages != 20 {
				t.Errorf("%s seed %d: %+v", v.Name, r.Seed, r)
			}
			if r.Centre.Views != 1 || r.TenView.Views != 10 || r.Centre.Top1 <= 0 || r.TenView.Top5 < 0 {
				t.Errorf("%s seed %d: evaluations %+v %+v", v.Name, r.Seed, r.Centre, r.TenView)
			}
		}
	}
	tv := rep.Variants[2]
	if tv.Name != "views" || tv.SharesTrainingWith != "base" || tv.Views != 10 || tv.Top1 != tv.Top1TenView || tv.DeltaTop1 == nil {
		t.Errorf("views: %+v", tv)
	}
	if base := rep.Variants[0]; base.Top1 != base.Top1Centre || base.Params != rep.Variants[1].Params {
		t.Errorf("base: top-1 %v, centre %v", base.Top1, base.Top1Centre)
	}
	if !rep.Variants[1].tanhOf || rep.Variants[3].tanhOf {
		t.Errorf("ReLU-vs-tanh detection")
	}
	// Seeds differ, so the runs differ.
	if r := rep.Variants[0].Runs; r[0].History[0].TrainLoss == r[1].History[0].TrainLoss {
		t.Errorf("seeds 1 and 2 trained alike")
	}

	md, _ := os.ReadFile(filepath.Join(out, MarkdownFile))
	for _, want := range []string{"| `base` |", "| `tanh` | ReLUs reach 25% training error", "| `views` † |", "| `lr2` |",
		"**ReLU vs tanh** (`tanh`)", "the paper (Figure 1, four-layer CIFAR-10 net): 6×", "Seeds: 1, 2"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	f, _ := os.Open(filepath.Join(out, CSVFile))
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 1+4*2 || rows[0][0] != "variant" || len(rows[1]) != len(rows[0]) {
		t.Errorf("results.csv: %d rows, %v", len(rows), err)
	}
	var back Report
	b, _ := os.ReadFile(filepath.Join(out, JSONFile))
	if err := json.Unmarshal(b, &back); err != nil || len(back.Variants) != 4 || len(back.Variants[3].Runs[0].History) != 1 {
		t.Errorf("results.json: %v", err)
	}
	for _, p := range []string{EpochCurvesFile, TimeCurvesFile} {
		f, err := os.Open(filepath.Join(out, p))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 500 {
			t.Errorf("%s: %v", p, err)
		}
	}

	// Again: nothing is trained, the report is the same.
	runJSON := filepath.Join(out, RunDir("tanh", 2), RunFile)
	before, _ := os.Stat(runJSON)
	log.Reset()
	rep2, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "finished earlier"); n != 6 {
		t.Errorf("%d runs skipped, want 6:\n%s", n, log.String())
	}
	if strings.Contains(log.String(), "epoch 1/1") {
		t.Errorf("the second invocation trained:\n%s", log.String())
	}
	if after, _ := os.Stat(runJSON); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("%s was rewritten", runJSON)
	}
	if rep2.Variants[1].Top1.Mean != rep.Variants[1].Top1.Mean || rep2.Variants[1].Runs[0].Reach != nil != (rep.Variants[1].Runs[0].Reach != nil) {
		t.Errorf("the report changed")
	}
	if len(rep2.Variants[0].Runs[0].steps) != 3 {
		t.Errorf("a skipped run's steps were not read back")
	}
	// Another target error is worked out from the steps, without training.
	cfg.TargetError = 0.99
	log.Reset()
	rep3, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep3.Variants[0].Runs[0]; r.Target != 0.99 || r.Reach == nil || r.Reach.Step != 1 || strings.Contains(log.String(), "epoch 1/1") {
		t.Errorf("target 0.99: %+v", r.Reach)
	}
}

// TestBudgets: a run goes on to a larger budget from its checkpoint,
// refuses a smaller one and other data; a time budget ends with the epoch in
// which it runs out.
func TestBudgets(t *testing.T) {
	s := smallFashion(t)
	out := t.TempDir()
	loads := 0
	var log bytes.Buffer
	cfg := Config{Spec: s, Seeds: []int{3}, Budget: Budget{Epochs: 1}, Out: out, Log: &log, Load: noiseLoader(&loads), TrainSubset: 96, TestSubset: 16}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Budget = Budget{Epochs: 2}
	log.Reset()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Variants[0].Runs[0]; r.Epochs != 2 || r.Steps != 6 || len(r.steps) != 6 || r.steps[5].Step != 6 {
		t.Errorf("extended run: %d epochs, %d steps, %d recorded", r.Epochs, r.Steps, len(r.steps))
	}
	if !strings.Contains(log.String(), "resuming from") || strings.Contains(log.String(), "epoch 1/2") {
		t.Errorf("the run did not go on from its checkpoint:\n%s", log.String())
	}
	// A run that stopped before its run.json said finished goes on from its
	// checkpoint: here the checkpoint is at the end, so nothing trains.
	runJSON := filepath.Join(out, RunDir("base", 3), RunFile)
	b, _ := os.ReadFile(runJSON)
	os.WriteFile(runJSON, bytes.Replace(b, []byte(`"finished": true`), []byte(`"finished": false`), 1), 0o644)
	log.Reset()
	rep, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Variants[0].Runs[0]; !r.Finished || r.Epochs != 2 || !strings.Contains(log.String(), "resuming from") || strings.Contains(log.String(), "batch 1/3") {
		t.Errorf("unfinished run: %+v\n%s", r, log.String())
	}

	cfg.Budget = Budget{Epochs: 1}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "was trained for 2 epochs") {
		t.Errorf("a smaller budget: %v", err)
	}
	cfg.Budget = Budget{Epochs: 2}
	cfg.TrainSubset = 64
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "another network or other data") {
		t.Errorf("other data: %v", err)
	}

	cfg = Config{Spec: s, Seeds: []int{1}, Budget: Budget{Time: time.Nanosecond}, Out: t.TempDir(), Load: noiseLoader(&loads), TrainSubset: 64, TestSubset: 16}
	rep, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Variants[0].Runs[0]; r.Epochs != 1 || r.Steps != 2 {
		t.Errorf("a time budget that runs out in the first epoch trained %d epochs, %d steps", r.Epochs, r.Steps)
	}
}

// TestCommandLinePatches applies each patch form given as --set and checks
// the errors of bad ones, with their positions.
func TestCommandLinePatches(t *testing.T) {
	s := parseExample(t, "fashion.toml")
	vs, diags := ParsePatches("--set", []string{
		"drop norm*",
		"wide: set conv[12].filters *= 2; set fc5.units /= 2",
		"set conv*.act = tanh; set fc5.weights = normal(std=0.02)",
		"  lr :set train.lr = 0.02; set data.flip = false; set eval.views = 10",
		"place fc6 on gpu(1)",
	})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	names := []string{"set-1", "wide", "set-3", "lr", "set-5"}
	for i, v := range vs {
		if v.Name != names[i] {
			t.Errorf("patch %d is named %q, want %q", i+1, v.Name, names[i])
		}
	}
	nets, diags := prepare(Config{Spec: s, Variants: vs})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	get := func(i int) *check.Network { return nets[i+1].net }
	if n := get(0); n.Layer("norm1") != nil || n.Layer("pool1").In.Name != "conv1" {
		t.Errorf("drop")
	}
	if n := get(1); n.Layer("conv1").Out.C != 64 || n.Layer("conv2").Out.C != 128 || n.Layer("fc5").Out.C != 256 {
		t.Errorf("*= and /=: %d %d %d", n.Layer("conv1").Out.C, n.Layer("conv2").Out.C, n.Layer("fc5").Out.C)
	}
	if n := get(2); n.Layer("conv4").Spec.Act != spec.Tanh || n.Layer("fc5").Spec.Act != spec.ReLU || n.Layer("fc5").Spec.Weights.Std != 0.02 {
		t.Errorf("set with a glob and a call")
	}
	if n := get(3); n.Spec.Train.LR != 0.02 || n.Spec.Data.Flip || n.Spec.Eval.Views != 10 || s.Train.LR == 0.02 {
		t.Errorf("section keys")
	}
	if n := get(4); n.Layer("fc6").Parts[0].GPU != 1 {
		t.Errorf("place")
	}
	if nets[4].shares {
		t.Errorf("lr changes training, yet shares the base's runs")
	}
	evalOnly, _ := ParsePatches("--set", []string{"set eval.views = 10"})
	if !evalOnly[0].evalOnly() {
		t.Errorf("set eval.views alone should share the base's runs")
	}

	bad := []struct {
		patches []string
		want    string
	}{
		{[]string{"drop conv9"}, `--set:1:6: "conv9" matches no layer; did you mean "conv1"?`},
		{[]string{"set train.lr = 0.1", "x: drop conv9"}, `--set:2:9: "conv9" matches no layer; did you mean "conv1"?`},
		{[]string{"set conv1.act = swish"}, `--set:1:17: act must be one of "relu", "tanh", "sigmoid", "none" or "leaky_relu", not "swish"`},
		{[]string{"drop norm1", "drop norm1", "set conv1.kernel == 3"}, `--set:3:19: `},
		{[]string{"name:   "}, `--set:1:9: empty patch; expected drop, set or place`},
		{[]string{"set conv1.filterz = 3"}, `--set:1:11: layers have no key "filterz"; did you mean "filters"?`},
		{[]string{"set pool1.size = 40"}, `--set:1:18: in variant "set": `},
		{[]string{"a: drop norm1", "a: drop norm2"}, `--set:2:1: two variants are named "a"`},
	}
	for _, b := range bad {
		vs, diags := ParsePatches("--set", b.patches)
		if len(diags) == 0 {
			_, diags = prepare(Config{Spec: s, Variants: vs})
		}
		if len(diags) == 0 || !strings.HasPrefix(diags.Error(), b.want) {
			t.Errorf("%q:\n got %v\nwant %s…", b.patches, diags, b.want)
		}
	}
}

// TestEveryShippedVariantBuilds checks and compiles every variant of
// every example spec, and selects each by name as --variants would.
func TestEveryShippedVariantBuilds(t *testing.T) {
	entries, err := examples.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".toml") {
			continue
		}
		s := parseExample(t, e.Name())
		vs, diags := Declared(s, nil)
		if len(diags) > 0 || len(vs) != len(s.Variants) {
			t.Errorf("%s: %v", e.Name(), diags)
			continue
		}
		nets, diags := prepare(Config{Spec: s, Variants: vs})
		if len(diags) > 0 {
			t.Errorf("%s: %v", e.Name(), diags)
			continue
		}
		for _, n := range nets {
			for _, seed := range []int{1, 2} {
				c, err := n.withSeed(s, seed)
				if err != nil || c.Spec.Train.Seed != seed {
					t.Errorf("%s %s seed %d: %v", e.Name(), n.v.Name, seed, err)
					continue
				}
			}
			p, err := compiler.Compile(n.net, compiler.Options{Batch: 2})
			if err != nil {
				t.Errorf("%s %s: %v", e.Name(), n.v.Name, err)
				continue
			}
			if p.Batch != 2 || p.Variant != n.net.Variant || len(p.Steps[plan.Train]) == 0 {
				t.Errorf("%s %s: batch %d, variant %q, %d training steps", e.Name(), n.v.Name, p.Batch, p.Variant, len(p.Steps[plan.Train]))
			}
			if probs := plan.Verify(p); len(probs) > 0 {
				t.Errorf("%s %s: %v", e.Name(), n.v.Name, probs)
			}
			count++
		}
	}
	if count < 20 {
		t.Errorf("built %d networks", count)
	}
	if _, diags := Declared(parseExample(t, "fashion.toml"), []string{"tahn"}); len(diags) != 1 || !strings.Contains(diags.Error(), `did you mean "tanh"`) {
		t.Errorf("unknown variant: %v", diags)
	}
}

func TestParseBudget(t *testing.T) {
	for in, want := range map[string]Budget{"3e": {Epochs: 3}, "12epochs": {Epochs: 12}, "1 epoch": {Epochs: 1}, "10m": {Time: 10 * time.Minute}, "1h30m": {Time: 90 * time.Minute}} {
		if got, err := ParseBudget(in); err != nil || got != want {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0e", "-1e", "3", "xe", "-5m", "soon"} {
		if _, err := ParseBudget(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if !(Budget{Epochs: 3}).extends(Budget{Epochs: 2}) || (Budget{Epochs: 3}).extends(Budget{Time: time.Minute}) || (Budget{Time: time.Second}).extends(Budget{Time: time.Minute}) {
		t.Errorf("extends")
	}
}

func TestSmoothAndReach(t *testing.T) {
	var steps []Step
	for i := 1; i <= 10; i++ {
		steps = append(steps, Step{Step: i, Seconds: float64(i) * 2, Error: 1 - float64(i)/10})
	}
	sm := smooth(steps, 0)
	if math.Abs(sm[3]-steps[3].Error) > 1e-12 {
		t.Errorf("a half-width of 0 changed the curve")
	}
	steps[4].Error = 0.9 // a noisy step
	sm = smooth(steps, 2)
	if math.Abs(sm[4]-(0.7+0.6+0.9+0.4+0.3)/5) > 1e-12 || math.Abs(sm[1]-(0.9+0.8+0.7)/3) > 1e-12 || sm[0] != 0.9 || math.Abs(sm[9]-(0.4+0.3+0.2+0.1+0)/5) > 1e-12 {
		t.Errorf("centred average: %v", sm)
	}
	steps[4].Error = 0.5
	// Error 1 − i/10 crosses 0.25 at i = 7.5: between steps 7 and 8.
	r := reach(steps, smooth(steps, 0), 4, 0.25)
	if r == nil || r.Step != 8 || math.Abs(r.Seconds-15) > 1e-9 || math.Abs(r.Epochs-7.5/4) > 1e-9 {
		t.Errorf("reach: %+v", r)
	}
	if reach(steps[:9], smooth(steps[:9], 0), 4, 0.05) != nil {
		t.Errorf("reached an error the curve never gets to")
	}
}

// TestStepLogResume: steps after the checkpoint a run resumes from are
// replaced, not repeated.
func TestStepLogResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), StepsFile)
	l, err := openStepLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		l.add(i, float64(i), 1, 0.5)
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	l, _ = openStepLog(path)
	l.add(4, 10, 2, 0.25)
	l.add(5, 11, 2, 0.25)
	l.close()
	steps, err := readSteps(path)
	if err != nil || len(steps) != 5 || steps[3].Seconds != 10 || steps[2].Seconds != 3 {
		t.Errorf("%v %+v", err, steps)
	}
	// A line cut short by a crash ends the record.
	os.WriteFile(path, []byte("step,seconds,loss,error\n1,1,1,0.5\n2,2,1"), 0o644)
	if steps, _ := readSteps(path); len(steps) != 1 {
		t.Errorf("%+v", steps)
	}
}

// TestFingerprint: positions and docs do not change a network's
// fingerprint; values and the seed do; [train] epochs do not.
func TestFingerprint(t *testing.T) {
	a := parseExample(t, "fashion.toml")
	src, _ := examples.FS.ReadFile("fashion.toml")
	moved := "# a comment that moves every line\n\n" + strings.Replace(string(src), `doc = "AlexNet in miniature for Fashion-MNIST."`, `doc = "another doc"`, 1)
	b, diags := spec.Parse("elsewhere.toml", []byte(moved))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if fingerprint(a) != fingerprint(b) {
		t.Errorf("positions or docs changed the fingerprint")
	}
	patched := func(text string) string {
		p, _ := spec.ParsePatch("t", text)
		s, diags := a.Apply("", []*spec.Patch{p})
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		return fingerprint(s)
	}
	if patched("set train.epochs = 3") != fingerprint(a) {
		t.Errorf("[train] epochs changed the fingerprint")
	}
	for _, p := range []string{"set train.seed = 2", "set conv1.pad = 1", "set train.schedule = steps(at=[2])", "set data.path = \"x\""} {
		if patched(p) == fingerprint(a) {
			t.Errorf("%q left the fingerprint alone", p)
		}
	}
}

// closeCounter is the CPU backend, counting its Close calls.
type closeCounter struct {
	engine.CPU
	closed *int
}

func (c closeCounter) Close() error { *c.closed++; return c.CPU.Close() }

// TestBackend: a run trains and is evaluated on the backend Config.Backend
// makes, which is closed after it; the CPU backend given so trains as the
// default does, bit for bit.
func TestBackend(t *testing.T) {
	s := smallFashion(t)
	loads := 0
	base := Config{Spec: s, Seeds: []int{1}, Budget: Budget{Epochs: 1}, Load: noiseLoader(&loads), TrainSubset: 64, TestSubset: 16}
	cfg := base
	cfg.Out = t.TempDir()
	def, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	made, closed := 0, 0
	cfg = base
	cfg.Out = t.TempDir()
	cfg.Backend = func(p *plan.Plan) (device.Backend, error) {
		made++
		if p.Batch != 32 || p.Network != s.Network.Name {
			t.Errorf("backend for a plan of batch %d, network %q", p.Batch, p.Network)
		}
		return closeCounter{engine.NewCPU(p, p.Train.Seed), &closed}, nil
	}
	got, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if made != 1 || closed != 1 {
		t.Errorf("%d backends made, %d closed; want 1 and 1", made, closed)
	}
	a, b := def.Variants[0].Runs[0], got.Variants[0].Runs[0]
	if a.History[0].TrainLoss != b.History[0].TrainLoss || a.Centre != b.Centre || a.TenView != b.TenView {
		t.Errorf("the given CPU backend trained otherwise: loss %v, %v; centre %+v, %+v", a.History[0].TrainLoss, b.History[0].TrainLoss, a.Centre, b.Centre)
	}
}
