package main

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/alexnetc/alexnetc/experiments/viz"
	"github.com/alexnetc/alexnetc/runtime/data"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// Files alexnetc viz writes.
const (
	kernelsFile    = "kernels.png"
	neighboursFile = "neighbours.png"
)

func runViz(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("viz", flag.ContinueOnError)
	variant := fs.String("variant", "", "the variant the weights belong to")
	weights := fs.String("weights", "", "weights file written by alexnetc train (required)")
	dataPath := fs.String("data", "", "where the data set lies (overrides [data] path)")
	out := fs.String("out", "", "folder for "+kernelsFile+" and "+neighboursFile+" (default: the weights' folder)")
	images := fs.Int("images", 5, "test images to look up: the first of each class in turn")
	k := fs.Int("neighbours", 6, "nearest training images shown per test image")
	trainSubset := fs.Int("train-subset", 0, "search only the first N training images (0: all)")
	columns := fs.Int("columns", 16, "kernels per row")
	batch := fs.Int("batch", 0, "images per inference step (default: [train] batch)")
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 1 || *weights == "" {
		return usageError{"expected at most one spec file or plan.json, and --weights"}
	}
	if *images < 1 || *k < 1 || *trainSubset < 0 || *columns < 1 || *batch < 0 {
		return usageError{"--images, --neighbours and --columns must be at least 1; --train-subset and --batch must not be negative"}
	}
	p, _, err := loadPlan(first(pos), trainDefault, planOptions{variant: *variant, batch: *batch, dataPath: *dataPath})
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = filepath.Dir(*weights)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The features are read between steps: the CPU engine's RunChecked.
	b, model, err := backendWithWeights("cpu", p, *weights)
	if err != nil {
		return err
	}
	defer b.Close()
	e := b.(engine.CPU).Engine

	kernels, err := viz.Kernels(b, viz.KernelOptions{Columns: *columns})
	if err != nil {
		return err
	}
	if err := writePNG(filepath.Join(dir, kernelsFile), kernels); err != nil {
		return err
	}
	conv, err := viz.FirstConv(p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: the %d kernels of %s, %d×%d, one block per GPU\n", filepath.Join(dir, kernelsFile), conv.Filters, conv.Name, conv.Kernel, conv.Kernel)

	layer, err := viz.FeatureLayer(p)
	if err != nil {
		return err
	}
	trainSet, testSet, err := loadSets(p, 0, stdout)
	if err != nil {
		return err
	}
	trainSet = trainSet.First(*trainSubset)
	aug := data.AugmentOf(p.Data)
	aug.RandomCrop, aug.Flip, aug.Lighting = false, false, 0
	if model.Stats == nil && aug.Mean != plan.MeanNone {
		return inputError{*weights, fmt.Errorf("holds no data means; it was not written by alexnetc train")}
	}
	features := func(s *data.Set) ([][]float32, error) {
		ev, err := data.NewEvalLoader(s, model.Stats, aug, 1, data.Options{Batch: p.Batch})
		if err != nil {
			return nil, err
		}
		defer ev.Close()
		return viz.Features(e, ev, layer)
	}
	queries := viz.Pick(testSet, viz.Queries(testSet, *images))
	qf, err := features(queries)
	if err != nil {
		return err
	}
	pool, err := features(trainSet)
	if err != nil {
		return err
	}
	near := make([][]int, len(qf))
	for i, q := range qf {
		near[i] = viz.Nearest(q, pool, *k)
	}
	grid := viz.Neighbours(queries, trainSet, near, viz.GridOptions{})
	if err := writePNG(filepath.Join(dir, neighboursFile), grid); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d test images (first column) and their %d nearest of %d training images by the output of %s (%d values)\n",
		filepath.Join(dir, neighboursFile), queries.Len(), *k, trainSet.Len(), layer.Layer, len(qf[0]))
	for i, row := range near {
		names := make([]string, len(row))
		for k, j := range row {
			names[k] = className(trainSet.Classes, trainSet.Labels[j])
		}
		fmt.Fprintf(stdout, "  %s → %s\n", className(queries.Classes, queries.Labels[i]), strings.Join(names, ", "))
	}
	return nil
}

func className(classes []string, label int32) string {
	if int(label) < len(classes) {
		return classes[label]
	}
	return fmt.Sprint(label)
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
