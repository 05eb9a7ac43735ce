package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/compiler/plan"
	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/train"
)

// trainDefault is the spec `alexnetc train` uses when given none: small,
// real data that Debian serves, so a newcomer sees it learn in minutes.
const trainDefault = "fashion.toml"

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	variant := fs.String("variant", "", "train this variant of the spec")
	dataPath := fs.String("data", "", "where the data set lies (overrides [data] path)")
	epochs := fs.Int("epochs", 0, "epochs to train (default: [train] epochs)")
	out := fs.String("out", "", "folder for checkpoints, weights, metrics and curves (default: runs/NAME)")
	resume := fs.Bool("resume", false, "continue from the checkpoint in --out")
	batch := fs.Int("batch", 0, "images per step (default: [train] batch)")
	every := fs.Int("checkpoint-every", 100, "save a checkpoint every N steps as well as after every epoch (0: per epoch only)")
	workers := fs.Int("workers", 0, "goroutines preparing images (default: one per core)")
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{"expected one spec file"}
	}
	n, err := networkFor(first(pos), *variant, trainDefault, *dataPath)
	if err != nil {
		return err
	}
	if *epochs < 0 || *batch < 0 || *every < 0 {
		return usageError{"--epochs, --batch and --checkpoint-every must not be negative"}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("runs", runName(n))
	}
	g, err := lower.Lower(n, lower.Options{Batch: *batch})
	if err != nil {
		return err
	}
	p := plan.Build(g)
	fmt.Fprintf(stdout, "training %s: %s parameters, batch %d, %d GPU(s) as CPU devices, output in %s\n",
		runName(n), commas(n.Params), g.Batch, n.GPUs, dir)
	trainSet, testSet, err := loadSets(n, *workers, stdout)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := train.Run(ctx, train.Config{Plan: p, Train: trainSet, Test: testSet, Epochs: *epochs, Out: dir,
		Resume: *resume, CheckpointEvery: *every, Workers: *workers, Log: stdout, Terminal: isTerminal(stdout)})
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintf(stderr, "alexnetc train: %v (%s)\n", err, filepath.Join(dir, train.CheckpointFile))
		os.Exit(130)
	}
	if err != nil {
		return err
	}
	last := res.History[len(res.History)-1]
	fmt.Fprintf(stdout, "done: test error %.2f%% top-1 (accuracy %.2f%%), %.2f%% top-5; weights in %s; curves in %s\n",
		100*last.ValTop1, 100*(1-last.ValTop1), 100*last.ValTop5, filepath.Join(dir, train.WeightsFile), filepath.Join(dir, train.CurvesFile))
	return nil
}

// networkFor checks a spec (or the embedded default) with a variant, and
// points its data at dataPath when given.
func networkFor(path, variant, example, dataPath string) (*check.Network, error) {
	n, _, err := loadNetworksOr(path, variant, example)
	if err != nil {
		return nil, err
	}
	if dataPath != "" {
		n.Spec.Data.Path = dataPath
	}
	return n, nil
}

func runName(n *check.Network) string {
	if n.Variant != "" {
		return n.Name + "-" + n.Variant
	}
	return n.Name
}

// loadSets reads the training and test sets a network's [data] names.
func loadSets(n *check.Network, workers int, log io.Writer) (*data.Set, *data.Set, error) {
	d := n.Spec.Data
	trainSet, err := data.Load(d, true, workers)
	if err != nil {
		return nil, nil, err
	}
	testSet, err := data.Load(d, false, workers)
	if err != nil {
		return nil, nil, err
	}
	if trainSet.Channels != n.Input.Out.C {
		return nil, nil, fmt.Errorf("the %s images have %d channel(s), the network's input %d", d.Dataset, trainSet.Channels, n.Input.Out.C)
	}
	fmt.Fprintf(log, "data: %s, %d training and %d test images of %d×%d×%d, %d classes", d.Dataset, trainSet.Len(), testSet.Len(),
		trainSet.Channels, trainSet.Size, trainSet.Size, len(trainSet.Classes))
	if trainSet.Skipped+testSet.Skipped > 0 {
		fmt.Fprintf(log, "; %d unreadable image(s) skipped", trainSet.Skipped+testSet.Skipped)
	}
	fmt.Fprintln(log)
	return trainSet, testSet, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	variant := fs.String("variant", "", "the variant the weights belong to")
	weights := fs.String("weights", "", "weights file written by alexnetc train (required)")
	dataPath := fs.String("data", "", "where the data set lies (overrides [data] path)")
	views := fs.Int("views", 0, "1 (centre crop) or 10 (corners and centre, mirrored); default: [eval] views")
	batch := fs.Int("batch", 0, "images per step (default: [train] batch)")
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 1 || *weights == "" {
		return usageError{"expected at most one spec file and --weights"}
	}
	if *views != 0 && *views != 1 && *views != 10 {
		return usageError{"--views must be 1 or 10"}
	}
	n, err := networkFor(first(pos), *variant, trainDefault, *dataPath)
	if err != nil {
		return err
	}
	e, model, err := engineWithWeights(n, *batch, *weights)
	if err != nil {
		return err
	}
	testSet, err := data.Load(n.Spec.Data, false, 0)
	if err != nil {
		return err
	}
	v := n.Spec.Eval.Views
	if *views != 0 {
		v = *views
	}
	aug := data.AugmentOf(n.Spec)
	aug.RandomCrop, aug.Flip, aug.Lighting = false, false, 0
	if model.Stats == nil && aug.Mean != "none" {
		return fmt.Errorf("%s holds no data means; it was not written by alexnetc train", *weights)
	}
	ev, err := data.NewEvalLoader(testSet, model.Stats, aug, v, data.Options{Batch: e.Plan.Graph.Batch})
	if err != nil {
		return err
	}
	defer ev.Close()
	loss, top1, top5 := train.Evaluate(e, ev, n.Layers[len(n.Layers)-1].Out.C)
	fmt.Fprintf(stdout, "%s on %d test images, %d view(s): loss %.4f, top-1 error %.2f%%, top-5 error %.2f%%\n",
		runName(n), testSet.Len(), v, loss, 100*top1, 100*top5)
	return nil
}

// engineWithWeights plans a network and loads trained weights into it.
func engineWithWeights(n *check.Network, batch int, weights string) (*engine.Engine, *train.Model, error) {
	g, err := lower.Lower(n, lower.Options{Batch: batch})
	if err != nil {
		return nil, nil, err
	}
	e := engine.New(plan.Build(g), 1)
	m, err := train.LoadWeights(weights, e)
	if err != nil {
		return nil, nil, err
	}
	return e, m, nil
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	specPath := fs.String("spec", "", "the network's spec (default: the embedded examples/"+trainDefault+")")
	variant := fs.String("variant", "", "the variant the weights belong to")
	weights := fs.String("weights", "", "weights file written by alexnetc train (required)")
	top := fs.Int("top", 5, "labels to print per image")
	images, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(images) == 0 || *weights == "" {
		return usageError{"expected --weights and at least one image"}
	}
	n, err := networkFor(*specPath, *variant, trainDefault, "")
	if err != nil {
		return err
	}
	e, model, err := engineWithWeights(n, len(images), *weights)
	if err != nil {
		return err
	}
	size := n.Input.Out.H
	if model.Stats != nil {
		size = model.Stats.Size
	}
	set, err := data.ReadImages(images, n.Input.Out.C, size)
	if err != nil {
		return err
	}
	aug := data.AugmentOf(n.Spec)
	aug.RandomCrop, aug.Flip, aug.Lighting = false, false, 0
	stats := model.Stats
	if stats == nil {
		stats = &data.Stats{Channels: set.Channels, Size: size, Mean: make([]float32, set.ImageLen()), ChannelMean: make([]float32, set.Channels)}
	}
	ev, err := data.NewEvalLoader(set, stats, aug, 1, data.Options{Batch: len(images)})
	if err != nil {
		return err
	}
	defer ev.Close()
	labels := make([]int32, len(images))
	ev.Next(e.F32(plan.Infer, "data"), labels)
	e.Run(plan.Infer)
	classes := n.Layers[len(n.Layers)-1].Out.C
	prob := e.F32(plan.Infer, n.Layers[len(n.Layers)-1].Name+".out")
	for i, path := range images {
		fmt.Fprintln(stdout, path)
		row := prob[i*classes : (i+1)*classes]
		order := make([]int, classes)
		for c := range order {
			order[c] = c
		}
		sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
		for _, c := range order[:min(*top, classes)] {
			name := fmt.Sprint(c)
			if c < len(model.Classes) {
				name = model.Classes[c]
			}
			fmt.Fprintf(stdout, "  %6.2f%%  %s\n", 100*row[c], name)
		}
	}
	return nil
}
