// Package ablate reruns the paper's ablations at whatever scale a machine
// allows: it trains a base network and each of its variants (patches over
// the base spec) under the same data, seeds and budget, evaluates every run
// on the centre crop and on ten views, and reports the figures as a
// Markdown table, JSON and CSV, and plots of the training error against
// epochs and time in the manner of the paper's Figure 1.
//
// Each run (one network, one seed) is compiled with compiler.Compile and
// trained as an ordinary training run of runtime/train in its own folder, resumed from its checkpoint when it was
// interrupted; a finished run is recorded in the folder's run.json and not
// trained again.
package ablate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/alexnetc/alexnetc/compiler"
	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/diag"
	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/runtime/train"
	"github.com/alexnetc/alexnetc/spec"
)

// Config is one ablation.
type Config struct {
	Spec     *spec.Spec // the base network
	Variants []Variant  // the networks compared with it, in the order of the report
	Seeds    []int      // every network is trained once with each of these [train] seeds
	Budget   Budget     // how long each run trains

	// TrainSubset and TestSubset, when positive, keep only the first that
	// many images of the training and test sets: a smaller scale for a
	// machine that cannot afford the whole sets.
	TrainSubset, TestSubset int

	// TargetError is the training error whose time to reach is reported
	// (the paper's Figure 1: 25%); 0 means 0.25.
	TargetError float64

	Out             string // one folder per network and seed, and the reports
	Workers         int    // data preparation goroutines; 0: one per core
	CheckpointEvery int    // steps between checkpoints within an epoch; 0: per epoch only
	Log             io.Writer

	// Load reads a data set as the compiled plan's [data] settings say;
	// nil means data.Load.
	Load func(d plan.Data, train bool, workers int) (*data.Set, error)
	// Backend makes the backend a run trains and is evaluated on, for the
	// run's plan; nil means the CPU engine (train.Run's default). A time
	// budget makes one for each epoch the run resumes for.
	Backend func(p *plan.Plan) (device.Backend, error)
}

// Files an ablation writes into Config.Out, besides one folder per run.
const (
	MarkdownFile    = "results.md"
	JSONFile        = "results.json"
	CSVFile         = "results.csv"
	EpochCurvesFile = "curves-epochs.png"
	TimeCurvesFile  = "curves-time.png"
	RunFile         = "run.json" // inside a run's folder
)

// DefaultTarget is the training error of the paper's ReLU-vs-tanh figure.
const DefaultTarget = 0.25

// ErrInterrupted is returned when the context is cancelled: the run in
// progress saved a checkpoint, and the same command continues from it.
var ErrInterrupted = errors.New("interrupted; the run in progress saved a checkpoint: run the same command again to continue")

// network is one line of the report: the base or a variant, checked.
type network struct {
	v      Variant
	net    *check.Network // with the spec's own seed
	shares bool           // only [eval] differs: the base's runs serve
}

// Run trains and evaluates every network under every seed, skipping the
// runs that finished before, and writes the reports. It returns the report
// it wrote. Errors in the variants' patches come back as a diag.List.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.TargetError == 0 {
		cfg.TargetError = DefaultTarget
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Load == nil {
		cfg.Load = data.Load
	}
	if len(cfg.Seeds) == 0 {
		cfg.Seeds = []int{cfg.Spec.Train.Seed}
	}
	nets, diags := prepare(cfg)
	if len(diags) > 0 {
		return nil, diags
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	a := &ablation{cfg: cfg, nets: nets, sets: map[string][2]*data.Set{}, runs: map[string]map[int]*RunResult{}}
	total := 0
	for _, n := range nets {
		if !n.shares {
			total += len(cfg.Seeds)
		}
	}
	k := 0
	for _, seed := range cfg.Seeds {
		for _, n := range nets {
			if n.shares {
				continue
			}
			k++
			if ctx.Err() != nil {
				return nil, ErrInterrupted
			}
			r, err := a.run(ctx, n, seed, k, total)
			if err != nil {
				return nil, err
			}
			if a.runs[n.v.Name] == nil {
				a.runs[n.v.Name] = map[int]*RunResult{}
			}
			a.runs[n.v.Name][seed] = r
			if _, err := a.report(); err != nil {
				return nil, err
			}
		}
	}
	return a.report()
}

// Check checks the base network and every variant of an ablation, and
// reports all their errors, as Run would before training anything.
func Check(cfg Config) diag.List {
	_, diags := prepare(cfg)
	return diags
}

// prepare checks the base network and every variant, reporting all errors.
func prepare(cfg Config) ([]*network, diag.List) {
	base, diags := check.Check(cfg.Spec)
	if len(diags) > 0 {
		return nil, diags
	}
	doc := "the network as the spec declares it"
	if cfg.Spec.Variant != "" {
		doc = fmt.Sprintf("the spec's variant %q", cfg.Spec.Variant)
	}
	nets := []*network{{v: Variant{Name: BaseName, Doc: doc}, net: base}}
	seen := map[string]bool{BaseName: true}
	for _, v := range cfg.Variants {
		at := diag.Pos{File: cfg.Spec.File}
		if v.origin != "" {
			at = diag.Pos{File: v.origin, Line: v.line, Col: 1}
		}
		if seen[v.Name] {
			diags.Add(at, "two variants are named %q", v.Name)
			continue
		}
		seen[v.Name] = true
		s, errs := cfg.Spec.Apply(v.Name, v.Patches)
		if len(errs) > 0 {
			diags.Append(onLine(errs, v.origin, v.line))
			continue
		}
		n, errs := check.Check(s)
		if len(errs) > 0 {
			for _, d := range onLine(errs, v.origin, v.line) {
				diags.Add(d.Pos, "in variant %q: %s", v.Name, d.Msg)
			}
			continue
		}
		nets = append(nets, &network{v: v, net: n, shares: v.evalOnly()})
	}
	return nets, diags
}

// withSeed returns the network checked with [train] seed set to seed.
func (n *network) withSeed(base *spec.Spec, seed int) (*check.Network, error) {
	p, diags := spec.ParsePatch("--seeds", fmt.Sprintf("set train.seed = %d", seed))
	if len(diags) > 0 {
		return nil, diags
	}
	patches := append(append([]*spec.Patch{}, n.v.Patches...), p)
	name := n.v.Name
	if name == BaseName {
		name = ""
	}
	s, diags := base.Apply(name, patches)
	if len(diags) > 0 {
		return nil, diags
	}
	c, diags := check.Check(s)
	if len(diags) > 0 {
		return nil, diags
	}
	return c, nil
}

type ablation struct {
	cfg  Config
	nets []*network
	sets map[string][2]*data.Set
	runs map[string]map[int]*RunResult // by network name, then seed
}

// Eval is a test-set evaluation.
type Eval struct {
	Views int     `json:"views"`
	Loss  float64 `json:"loss"`
	Top1  float64 `json:"top1_error"`
	Top5  float64 `json:"top5_error"`
}

// RunResult is what one run (one network, one seed) produced. It is kept
// as run.json in the run's folder.
type RunResult struct {
	Variant  string `json:"variant"`
	Seed     int    `json:"seed"`
	Dir      string `json:"dir"`
	Finished bool   `json:"finished"`

	// What the run was: the network (a hash of everything in its spec that
	// training depends on, epochs aside), the data and the budget.
	Fingerprint string `json:"network_fingerprint"`
	TrainImages int    `json:"train_images"`
	TestImages  int    `json:"test_images"`
	Budget      Budget `json:"budget"`

	Epochs          int     `json:"epochs"`
	Steps           int     `json:"steps"`
	StepsPerEpoch   int     `json:"steps_per_epoch"`
	Seconds         float64 `json:"seconds"` // training time, evaluation not counted
	ImagesPerSecond float64 `json:"images_per_second"`
	FinalTrainError float64 `json:"final_train_error"` // the last epoch's, over its batches as augmented

	Centre  Eval `json:"centre"`   // 1 view
	TenView Eval `json:"ten_view"` // 10 views

	Target float64 `json:"target_error"`
	Reach  *Reach  `json:"reach"` // when the smoothed training error first reached Target; null if never

	History []train.EpochReport `json:"history"`

	steps []Step
}

func (a *ablation) run(ctx context.Context, n *network, seed, k, total int) (*RunResult, error) {
	cfg := a.cfg
	dir := filepath.Join(cfg.Out, RunDir(n.v.Name, seed))
	net, err := n.withSeed(cfg.Spec, seed)
	if err != nil {
		return nil, err
	}
	p, err := compiler.Compile(net, compiler.Options{})
	if err != nil {
		return nil, err
	}
	trainSet, testSet, err := a.data(p)
	if err != nil {
		return nil, err
	}
	budget := cfg.Budget.resolve(net.Spec.Train.Epochs)
	r := &RunResult{Variant: n.v.Name, Seed: seed, Dir: dir, Fingerprint: fingerprint(net.Spec),
		TrainImages: trainSet.Len(), TestImages: testSet.Len(), Budget: budget, Target: cfg.TargetError}
	label := fmt.Sprintf("%s seed %d", n.v.Name, seed)

	prev, err := readRun(dir)
	switch {
	case err == nil:
		if prev.Fingerprint != r.Fingerprint || prev.TrainImages != r.TrainImages || prev.TestImages != r.TestImages {
			return nil, fmt.Errorf("%s holds a run of another network or other data (network %s, %d training and %d test images; now %s, %d and %d): "+
				"remove it or choose another --out", dir, prev.Fingerprint, prev.TrainImages, prev.TestImages, r.Fingerprint, r.TrainImages, r.TestImages)
		}
		if prev.Finished && prev.Budget == budget {
			prev.Dir = dir
			prev.steps, _ = readSteps(filepath.Join(dir, StepsFile))
			// Another --target-error needs no training: the steps are kept.
			prev.Target = cfg.TargetError
			prev.Reach = reach(prev.steps, smooth(prev.steps, halfWidth(prev.StepsPerEpoch)), prev.StepsPerEpoch, cfg.TargetError)
			fmt.Fprintf(cfg.Log, "[%d/%d] %s: finished earlier (%s), not rerun\n", k, total, label, filepath.Join(dir, RunFile))
			return prev, nil
		}
		if prev.Finished && !budget.extends(prev.Budget) {
			return nil, fmt.Errorf("%s was trained for %s, more than or unlike the budget of %s: remove it or choose another --out", dir, prev.Budget, budget)
		}
	case !os.IsNotExist(err):
		return nil, err
	default:
		if _, err := os.Stat(filepath.Join(dir, train.CheckpointFile)); err == nil {
			return nil, fmt.Errorf("%s holds a checkpoint but no %s: it is not an ablation run; remove it or choose another --out", dir, RunFile)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, RunFile), r); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "[%d/%d] %s: %s parameters, %s multiply-adds per image, %s, in %s\n",
		k, total, label, commas(net.Params), commas(net.MACs), budget, dir)

	steps, err := openStepLog(filepath.Join(dir, StepsFile))
	if err != nil {
		return nil, err
	}
	defer steps.close()
	log := &prefixWriter{w: cfg.Log, prefix: "  " + label + ": "}
	tc := train.Config{Plan: p, Train: trainSet, Test: testSet, Out: dir, Resume: true,
		CheckpointEvery: cfg.CheckpointEvery, Workers: cfg.Workers, Log: log, OnStep: steps.add}
	res, err := trainFor(ctx, tc, budget, cfg.Backend)
	log.Flush()
	if errors.Is(err, train.ErrInterrupted) {
		return nil, ErrInterrupted
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if err := steps.close(); err != nil {
		return nil, err
	}
	h := res.History
	if len(h) == 0 {
		return nil, fmt.Errorf("%s: the run trained no epoch", label)
	}
	if budget.Epochs > 0 && len(h) > budget.Epochs {
		return nil, fmt.Errorf("%s holds %d trained epochs, more than the budget of %d: remove it or choose another --out", dir, len(h), budget.Epochs)
	}
	last := h[len(h)-1]
	r.History = h
	r.Epochs, r.Steps, r.StepsPerEpoch = len(h), last.Step, h[0].Step
	r.Seconds, r.ImagesPerSecond, r.FinalTrainError = last.Seconds, last.ImagesPerS, last.TrainError

	// The last epoch's test figures are those of the network's own views;
	// evaluate the other count.
	views := p.Eval.Views
	own := Eval{Views: views, Loss: last.ValLoss, Top1: last.ValTop1, Top5: last.ValTop5}
	other := 10
	if views == 10 {
		other = 1
	}
	aug := data.AugmentOf(p.Data)
	ev, err := data.NewEvalLoader(testSet, res.Stats, aug, other, data.Options{Batch: p.Batch, Workers: cfg.Workers})
	if err != nil {
		return nil, err
	}
	loss, top1, top5, err := train.Evaluate(res.Backend, ev, p.Model.Classes)
	ev.Close()
	if cerr := res.Backend.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	second := Eval{Views: other, Loss: loss, Top1: top1, Top5: top5}
	if views == 10 {
		r.Centre, r.TenView = second, own
	} else {
		r.Centre, r.TenView = own, second
	}
	r.steps = steps.steps
	r.Reach = reach(r.steps, smooth(r.steps, halfWidth(r.StepsPerEpoch)), r.StepsPerEpoch, cfg.TargetError)
	r.Finished = true
	if err := writeJSON(filepath.Join(dir, RunFile), r); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "[%d/%d] %s: %d epochs in %s; test error %.2f%% top-1, %.2f%% top-5 (centre), %.2f%%, %.2f%% (10 views); %s\n",
		k, total, label, r.Epochs, seconds(r.Seconds), 100*r.Centre.Top1, 100*r.Centre.Top5, 100*r.TenView.Top1, 100*r.TenView.Top5,
		reachText(r.Reach, cfg.TargetError))
	return r, nil
}

// trainFor trains under a budget. A time budget trains one epoch at a time
// (each a resumed run) until the training time reaches it: a run stops at
// the end of the epoch in which its time runs out. Each train.Run gets a
// backend of its own from backend (nil: train.Run's default); the result's
// stays open for the evaluation, the others are closed.
func trainFor(ctx context.Context, tc train.Config, b Budget, backend func(*plan.Plan) (device.Backend, error)) (*train.Result, error) {
	once := func(epochs int) (*train.Result, error) {
		tc.Epochs = epochs
		if backend != nil {
			be, err := backend(tc.Plan)
			if err != nil {
				return nil, err
			}
			tc.Backend = be
		}
		res, err := train.Run(ctx, tc)
		if err != nil && tc.Backend != nil {
			tc.Backend.Close()
		}
		return res, err
	}
	if b.Epochs > 0 {
		return once(b.Epochs)
	}
	for epochs := 1; ; epochs++ {
		res, err := once(epochs)
		if err != nil {
			return nil, err
		}
		h := res.History
		epochs = max(epochs, len(h))
		if len(h) > 0 && h[len(h)-1].Seconds >= b.Time.Seconds() {
			return res, nil
		}
		if err := res.Backend.Close(); err != nil {
			return nil, err
		}
	}
}

// data returns the training and test sets of a compiled network, each read
// once per ablation and cut to the subsets asked for.
func (a *ablation) data(p *plan.Plan) (*data.Set, *data.Set, error) {
	d := p.Data
	key := fmt.Sprintf("%s\x00%s\x00%d", d.Dataset, d.Path, d.Resize)
	sets, ok := a.sets[key]
	if !ok {
		for i, isTrain := range []bool{true, false} {
			s, err := a.cfg.Load(d, isTrain, a.cfg.Workers)
			if err != nil {
				return nil, nil, err
			}
			keep := a.cfg.TestSubset
			if isTrain {
				keep = a.cfg.TrainSubset
			}
			sets[i] = Subset(s, keep)
		}
		a.sets[key] = sets
		fmt.Fprintf(a.cfg.Log, "data: %s, %d training and %d test images of %d×%d×%d\n", d.Dataset, sets[0].Len(), sets[1].Len(),
			sets[0].Channels, sets[0].Size, sets[0].Size)
	}
	if c := p.Model.InputShape[0]; sets[0].Channels != c {
		return nil, nil, fmt.Errorf("the %s images have %d channel(s), network %s's input %d", d.Dataset, sets[0].Channels, runLabel(p), c)
	}
	return sets[0], sets[1], nil
}

func runLabel(p *plan.Plan) string {
	if p.Variant == "" {
		return p.Network
	}
	return p.Network + "-" + p.Variant
}

// Subset returns the first n images of s (s itself when n ≤ 0 or n is not
// smaller than the set), sharing its memory.
func Subset(s *data.Set, n int) *data.Set {
	if n <= 0 || n >= s.Len() {
		return s
	}
	c := *s
	c.Labels = s.Labels[:n:n]
	c.Pixels = s.Pixels[: n*s.ImageLen() : n*s.ImageLen()]
	return &c
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.+-]+`)

// RunDir names the folder of one network's run with one seed.
func RunDir(variant string, seed int) string {
	return fmt.Sprintf("%s-seed%d", unsafeName.ReplaceAllString(variant, "_"), seed)
}

func readRun(dir string) (*RunResult, error) {
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil {
		return nil, err
	}
	var r RunResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, RunFile), err)
	}
	return &r, nil
}

// writeJSON writes v indented, through a temporary file, so that a crash
// never leaves half a file.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// fingerprint hashes what training a network depends on: every table of its
// spec but the variants, with positions, docs and [train] epochs (the
// budget's business) left out.
func fingerprint(s *spec.Spec) string {
	t := s.Train
	t.Epochs = 0
	v := struct {
		Network spec.Network
		Input   spec.Input
		Init    spec.Init
		Layers  []*spec.Layer
		Train   spec.Train
		Data    spec.Data
		Eval    spec.Eval
	}{s.Network, s.Input, s.Init, s.Layers, t, s.Data, s.Eval}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ablate: fingerprint: %v", err))
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		panic(fmt.Sprintf("ablate: fingerprint: %v", err))
	}
	b, _ = json.Marshal(stripPositions(tree))
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// stripPositions removes source positions and docs from a decoded JSON tree.
func stripPositions(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if pos, ok := e.(map[string]any); ok && k == "At" && pos["File"] != nil {
				delete(x, k)
				continue
			}
			if k == "Keys" || k == "Pos" || k == "Doc" {
				delete(x, k)
				continue
			}
			x[k] = stripPositions(e)
		}
	case []any:
		for i, e := range x {
			x[i] = stripPositions(e)
		}
	}
	return v
}

// prefixWriter starts every line with a prefix.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    bytes.Buffer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Write(b)
	for {
		line, err := p.buf.ReadBytes('\n')
		if err != nil {
			// An unfinished line waits for its end.
			p.buf.Reset()
			p.buf.Write(line)
			return len(b), nil
		}
		if _, err := fmt.Fprintf(p.w, "%s%s", p.prefix, line); err != nil {
			return 0, err
		}
	}
}

// Flush writes an unfinished last line.
func (p *prefixWriter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buf.Len() > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf.Bytes())
		p.buf.Reset()
	}
}
