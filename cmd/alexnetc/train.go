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

	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/plan"
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
	batch := fs.Int("batch", 0, "images per step (default: [train] batch, or the plan's)")
	every := fs.Int("checkpoint-every", 100, "save a checkpoint every N steps as well as after every epoch (0: per epoch only)")
	workers := fs.Int("workers", 0, "goroutines preparing images (default: one per core)")
	subset := fs.Int("train-subset", 0, "train on the first N training images only (0: all)")
	maxSteps := fs.Int("max-steps", 0, "stop after N training steps in all, logging each step's loss (0: run every epoch)")
	dev := deviceFlag(fs)
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{"expected one spec file or plan.json"}
	}
	if *epochs < 0 || *batch < 0 || *every < 0 || *subset < 0 || *maxSteps < 0 {
		return usageError{"--epochs, --batch, --checkpoint-every, --train-subset and --max-steps must not be negative"}
	}
	if err := checkDevice(*dev); err != nil {
		return err
	}
	p, _, err := loadPlan(first(pos), trainDefault, planOptions{variant: *variant, batch: *batch, dataPath: *dataPath})
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("runs", planName(p))
	}
	fmt.Fprintf(stdout, "training %s: %s parameters, batch %d, %d GPU(s) as %s devices, output in %s\n",
		planName(p), commas(p.Model.Params), p.Batch, p.Devices(), *dev, dir)
	trainSet, testSet, err := loadSets(p, *workers, stdout)
	if err != nil {
		return err
	}
	if *subset > 0 {
		trainSet = trainSet.First(*subset)
		fmt.Fprintf(stdout, "training on the first %d images (--train-subset)\n", trainSet.Len())
	}
	backend, err := newBackend(*dev, p, p.Train.Seed)
	if err != nil {
		return err
	}
	defer backend.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := train.Run(ctx, train.Config{Plan: p, Backend: backend, Train: trainSet, Test: testSet, Epochs: *epochs, Out: dir,
		Resume: *resume, CheckpointEvery: *every, Workers: *workers, MaxSteps: *maxSteps, Log: stdout, Terminal: isTerminal(stdout)})
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintf(stderr, "alexnetc train: %v (%s)\n", err, filepath.Join(dir, train.CheckpointFile))
		os.Exit(130)
	}
	if err != nil {
		return err
	}
	if len(res.History) == 0 {
		fmt.Fprintf(stdout, "done: weights in %s\n", filepath.Join(dir, train.WeightsFile))
		return nil
	}
	last := res.History[len(res.History)-1]
	fmt.Fprintf(stdout, "done: test error %.2f%% top-1 (accuracy %.2f%%), %.2f%% top-5; weights in %s; curves in %s\n",
		100*last.ValTop1, 100*(1-last.ValTop1), 100*last.ValTop5, filepath.Join(dir, train.WeightsFile), filepath.Join(dir, train.CurvesFile))
	return nil
}

// loadSets reads the training and test sets a plan's [data] names.
func loadSets(p *plan.Plan, workers int, log io.Writer) (*data.Set, *data.Set, error) {
	// Data that cannot be read, or that does not fit the network, is the
	// user's to fix: exit status 2.
	d := p.Data
	trainSet, err := data.Load(d, true, workers)
	if err != nil {
		return nil, nil, inputError{err: err}
	}
	testSet, err := data.Load(d, false, workers)
	if err != nil {
		return nil, nil, inputError{err: err}
	}
	if trainSet.Channels != p.Model.InputShape[0] {
		return nil, nil, inputError{err: fmt.Errorf("the %s images have %d channel(s), the network's input %d", d.Dataset, trainSet.Channels, p.Model.InputShape[0])}
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
	batch := fs.Int("batch", 0, "images per step (default: [train] batch, or the plan's)")
	dev := deviceFlag(fs)
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 1 || *weights == "" {
		return usageError{"expected at most one spec file or plan.json, and --weights"}
	}
	if *views != 0 && *views != 1 && *views != 10 {
		return usageError{"--views must be 1 or 10"}
	}
	if err := checkDevice(*dev); err != nil {
		return err
	}
	p, _, err := loadPlan(first(pos), trainDefault, planOptions{variant: *variant, batch: *batch, dataPath: *dataPath})
	if err != nil {
		return err
	}
	e, model, err := backendWithWeights(*dev, p, *weights)
	if err != nil {
		return err
	}
	defer e.Close()
	testSet, err := data.Load(p.Data, false, 0)
	if err != nil {
		return inputError{err: err}
	}
	v := p.Eval.Views
	if *views != 0 {
		v = *views
	}
	aug := data.AugmentOf(p.Data)
	aug.RandomCrop, aug.Flip, aug.Lighting = false, false, 0
	if model.Stats == nil && aug.Mean != plan.MeanNone {
		return inputError{*weights, fmt.Errorf("holds no data means; it was not written by alexnetc train")}
	}
	ev, err := data.NewEvalLoader(testSet, model.Stats, aug, v, data.Options{Batch: p.Batch})
	if err != nil {
		return err
	}
	defer ev.Close()
	loss, top1, top5, err := train.Evaluate(e, ev, p.Model.Classes)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s on %d test images, %d view(s): loss %.4f, top-1 error %.2f%%, top-5 error %.2f%%\n",
		planName(p), testSet.Len(), v, loss, 100*top1, 100*top5)
	return nil
}

// backendWithWeights makes a backend for a plan and loads trained weights
// into it. A weights file that cannot be read or does not fit the network
// is the user's mistake.
func backendWithWeights(dev string, p *plan.Plan, weights string) (device.Backend, *train.Model, error) {
	e, err := newBackend(dev, p, 1)
	if err != nil {
		return nil, nil, err
	}
	m, err := train.LoadWeights(weights, e)
	if err != nil {
		e.Close()
		return nil, nil, inputError{weights, err}
	}
	return e, m, nil
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	specPath := fs.String("spec", "", "the network's spec (default: the embedded examples/"+trainDefault+")")
	planPath := fs.String("plan", "", "the network's plan.json, as alexnetc compile wrote it (instead of --spec; its batch must be the number of images)")
	variant := fs.String("variant", "", "the variant the weights belong to")
	weights := fs.String("weights", "", "weights file written by alexnetc train (required)")
	top := fs.Int("top", 5, "labels to print per image")
	dev := deviceFlag(fs)
	images, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(images) == 0 || *weights == "" {
		return usageError{"expected --weights and at least one image"}
	}
	if *specPath != "" && *planPath != "" {
		return usageError{"give --spec or --plan, not both"}
	}
	if *planPath != "" && !isPlanFile(*planPath) {
		return usageError{fmt.Sprintf("--plan %s: expected a plan.json", *planPath)}
	}
	if err := checkDevice(*dev); err != nil {
		return err
	}
	src := *specPath
	o := planOptions{variant: *variant, batch: len(images)}
	if *planPath != "" {
		src = *planPath
		o.batch = 0
	}
	p, _, err := loadPlan(src, trainDefault, o)
	if err != nil {
		return err
	}
	if len(images) > p.Batch {
		return usageError{fmt.Sprintf("%d images: %s was compiled for batch %d; compile it with --batch %d, or predict fewer at a time", len(images), src, p.Batch, len(images))}
	}
	e, model, err := backendWithWeights(*dev, p, *weights)
	if err != nil {
		return err
	}
	defer e.Close()
	c, size := p.Model.InputShape[0], p.Model.InputShape[1]
	if model.Stats != nil {
		size = model.Stats.Size
	}
	set, err := data.ReadImages(images, c, size)
	if err != nil {
		return err
	}
	aug := data.AugmentOf(p.Data)
	aug.RandomCrop, aug.Flip, aug.Lighting = false, false, 0
	stats := model.Stats
	if stats == nil {
		stats = &data.Stats{Channels: set.Channels, Size: size, Mean: make([]float32, set.ImageLen()), ChannelMean: make([]float32, set.Channels)}
	}
	ev, err := data.NewEvalLoader(set, stats, aug, 1, data.Options{Batch: p.Batch})
	if err != nil {
		return err
	}
	defer ev.Close()
	x := make([]float32, p.Buffer(p.Model.Input).Elems())
	labels := make([]int32, p.Batch)
	ev.Next(x, labels)
	classes := p.Model.Classes
	prob := make([]float32, p.Batch*classes)
	if err := e.Write(plan.Infer, p.Model.Input, x); err != nil {
		return err
	}
	if err := e.Run(plan.Infer); err != nil {
		return err
	}
	if err := e.Read(plan.Infer, p.Model.Probabilities, prob); err != nil {
		return err
	}
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
