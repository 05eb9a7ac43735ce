//go:build cuda

// Command cudabench times training and inference of the paper's networks
// on the GPU: images per second at batch 128 for the two-GPU AlexNet (on a
// machine with one GPU, its two devices share it) and the one-GPU net of
// §3.2. scripts/device-check.sh builds it and runs it on a GPU machine
// beside PyTorch with cuDNN.
//
//	cudabench [-ptx DIR] [-root DIR] [-steps 10]
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/alexnetc/alexnetc/experiments/cudacheck"
	"github.com/alexnetc/alexnetc/runtime/cuda"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

func main() {
	ptxDir := flag.String("ptx", "ptx", "directory of the PTX that cudaptx wrote")
	root := flag.String("root", ".", "the repository root, where the specs are")
	steps := flag.Int("steps", 10, "timed runs of each program (after 2 untimed)")
	flag.Parse()
	failed := false
	for _, c := range cudacheck.BenchCases {
		if err := bench(c, *ptxDir, *root, *steps); err != nil {
			fmt.Fprintf(os.Stderr, "cudabench: %s: %v\n", c, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func bench(c cudacheck.Case, ptxDir, root string, steps int) error {
	p, m, err := cudacheck.LoadPlan(root, c)
	if err != nil {
		return err
	}
	ptx, _, err := cudacheck.FindPTX(ptxDir, m)
	if err != nil {
		return err
	}
	drv, err := cuda.NewCU()
	if err != nil {
		return err
	}
	b, err := cuda.New(p, ptx, drv, cuda.Options{Seed: 1})
	if err != nil {
		drv.Close()
		return err
	}
	defer b.Close()
	// The spec's initialisation and random images: the speed does not
	// depend on the values, but zeros would leave every ReLU dead.
	e := engine.New(p, 1)
	e.Init(1)
	cuda.RandomBatch(e, 1)
	if err := b.Load(e); err != nil {
		return err
	}
	b.SetLR(0.01)
	launches := func(prog plan.Program) int {
		n := 0
		for _, l := range p.Launches[prog] {
			if l.Kind == plan.KernelLaunch || l.Kind == plan.CopyLaunch {
				n += max(l.Count, 1)
			}
		}
		return n
	}
	var line string
	for _, prog := range []plan.Program{plan.Train, plan.Infer} {
		var times []float64
		for i := range steps + 2 {
			start := time.Now()
			if err := b.Run(prog); err != nil {
				return err
			}
			if err := b.Synchronize(); err != nil {
				return err
			}
			if i >= 2 {
				times = append(times, time.Since(start).Seconds())
			}
		}
		slices.Sort(times)
		med := times[len(times)/2]
		line += fmt.Sprintf("  %s %.4f s/batch, %.1f img/s (%d launches and copies)", prog, med, float64(p.Batch)/med, launches(prog))
	}
	fmt.Printf("alexnetc cuda %s: %s\n%s\n", c, b.Describe(), line)
	return nil
}
