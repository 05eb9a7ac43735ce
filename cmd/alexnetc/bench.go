package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/alexnetc/alexnetc/examples"
	"github.com/alexnetc/alexnetc/runtime/cpu"
	"github.com/alexnetc/alexnetc/runtime/device"
	"github.com/alexnetc/alexnetc/runtime/engine"
	"github.com/alexnetc/alexnetc/runtime/plan"
)

// benchResult is what `alexnetc bench --json` prints, and what
// bench/compare.sh reads.
type benchResult struct {
	Network       string        `json:"network"`
	Device        string        `json:"device"` // the backend: cpu or cuda
	Mode          string        `json:"mode"`   // "infer" or "train"
	Batch         int           `json:"batch"`
	Threads       int           `json:"threads"`
	Devices       int           `json:"devices"`
	GEMM          string        `json:"gemm"`
	Steps         int           `json:"steps"`
	StepSeconds   []float64     `json:"step_seconds"`
	MedianSeconds float64       `json:"median_step_seconds"`
	ImagesPerSec  float64       `json:"images_per_second"`
	GFLOPPerStep  float64       `json:"gflop_per_step"`
	GFLOPPerSec   float64       `json:"gflop_per_second"`
	PeakRSSBytes  int64         `json:"peak_rss_bytes"`
	ArenaBytes    int64         `json:"arena_bytes"`
	AllocsPerStep float64       `json:"allocs_per_step"`
	Layers        []benchLayer  `json:"layers"`
	Kernels       []benchKernel `json:"kernels"`
}

// benchLayer is one spec layer's share of a step, forward and backward
// together (and its weight updates when training).
type benchLayer struct {
	Layer   string  `json:"layer"`
	Seconds float64 `json:"seconds"` // median over the timed steps
	GFLOP   float64 `json:"gflop"`   // per step; 0 for layers without a product
	GFLOPs  float64 `json:"gflop_per_second"`
	Share   float64 `json:"share"` // of the step
	// FusedInto names the pooling layer whose pass also does this layer's
	// LRN (engine.Run fuses them): the time of both is that layer's.
	FusedInto string `json:"fused_into,omitempty"`
}

// benchKernel is the time of one kind of kernel summed over the layers.
type benchKernel struct {
	Kernel  string  `json:"kernel"`
	Seconds float64 `json:"seconds"`
	Share   float64 `json:"share"`
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	variant := fs.String("variant", "", "time this variant")
	batch := fs.Int("batch", 0, "images per step (default: the spec's [train] batch)")
	threads := fs.Int("threads", 0, "threads (default: all cores)")
	train := fs.Bool("train", false, "time training steps (forward, backward and weight update) instead of inference")
	devices := fs.String("devices", "one", "one: the whole network in one arena, towers as groups (the CPU is one device); spec: one arena per device of the spec, as `alexnetc train` runs it")
	steps := fs.Int("steps", 0, "timed steps (default: 10 for inference, 5 for training)")
	warmup := fs.Int("warmup", 2, "untimed steps first")
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	outFile := fs.String("out", "", "also write the figures as JSON to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file (read it with go tool pprof)")
	dev := deviceFlag(fs)
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{"expected one spec file or plan.json"}
	}
	if err := checkDevice(*dev); err != nil {
		return err
	}
	switch {
	case *batch < 0:
		return usageError{fmt.Sprintf("--batch %d: must be positive", *batch)}
	case *threads < 0:
		return usageError{fmt.Sprintf("--threads %d: must be positive", *threads)}
	case *steps < 0 || *warmup < 0:
		return usageError{"--steps and --warmup must not be negative"}
	case *devices != "one" && *devices != "spec":
		return usageError{fmt.Sprintf("--devices %s: want one or spec", *devices)}
	}
	if *threads > 0 {
		runtime.GOMAXPROCS(*threads)
		cpu.SetThreads(*threads)
	}
	nThreads := runtime.GOMAXPROCS(0)
	single := *devices == "one"
	if isPlanFile(first(pos)) && !hasFlag(fs, "devices") {
		single = false // a plan.json runs as it was compiled
	}
	p, _, err := loadPlan(first(pos), examples.Default, planOptions{variant: *variant, batch: *batch, single: single})
	if err != nil {
		return err
	}
	if err := verified(p, stderr); err != nil {
		return err
	}
	g := p
	prog, mode := plan.Infer, "infer"
	if *train {
		prog, mode = plan.Train, "train"
	}
	if *steps == 0 {
		*steps = 10
		if *train {
			*steps = 5
		}
	}

	backend, err := newBackend(*dev, p, 1)
	if err != nil {
		return err
	}
	defer backend.Close()
	if err := fillBenchInput(backend, prog, 1); err != nil {
		return err
	}
	backend.SetLR(0.01)

	res := benchResult{Network: p.Network, Device: *dev, Mode: mode, Batch: g.Batch, Threads: nThreads, Devices: p.Devices(), GEMM: cpu.GEMMPath(), Steps: *steps}
	if p.Variant != "" {
		res.Network += " (" + p.Variant + ")"
	}
	if *dev != "cpu" {
		res.GEMM = *dev
	}
	for _, dm := range p.Memory.Devices {
		res.ArenaBytes += dm.Arena
	}
	progress := !*asJSON && isTerminal(stderr)
	if progress {
		fmt.Fprintf(stderr, "bench %s: %s, batch %d, %d thread(s), GEMM %s: %d warm-up and %d timed steps\n",
			res.Network, mode, g.Batch, nThreads, res.GEMM, *warmup, *steps)
	}
	for i := 0; i < *warmup; i++ {
		if err := backend.Run(prog); err != nil {
			return err
		}
	}
	if err := backend.Synchronize(); err != nil {
		return err
	}
	c, onCPU := backend.(engine.CPU)
	e := c.Engine

	// Whole steps are timed on their own; per-layer times come from the
	// same steps, read between kernels (a clock read costs tens of
	// nanoseconds, against milliseconds for a kernel).
	stepList := g.Steps[prog]
	perStep := make([][]float64, len(stepList)) // seconds per kernel step, per timed step
	for i := range perStep {
		perStep[i] = make([]float64, *steps)
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	// One timing function for every step, made before the first, so that
	// the allocation count is the engine's alone.
	res.StepSeconds = make([]float64, 0, *steps)
	index := map[*plan.Step]int{}
	for i, s := range stepList {
		index[s] = i
	}
	var it int
	var last time.Time
	lap := func(s *plan.Step) {
		now := time.Now()
		perStep[index[s]][it] = now.Sub(last).Seconds()
		last = now
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	for it = 0; it < *steps; it++ {
		start := time.Now()
		last = start
		if onCPU {
			e.RunTimed(prog, lap)
		} else if err := runSynchronized(backend, prog); err != nil {
			return err
		}
		res.StepSeconds = append(res.StepSeconds, time.Since(start).Seconds())
		if progress {
			fmt.Fprintf(stderr, "step %d/%d: %.3f s, %.1f images/s\n", it+1, *steps, res.StepSeconds[it], float64(g.Batch)/res.StepSeconds[it])
		}
	}
	runtime.ReadMemStats(&ms1)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	res.AllocsPerStep = float64(ms1.Mallocs-ms0.Mallocs) / float64(*steps)
	res.MedianSeconds = median(res.StepSeconds)
	res.ImagesPerSec = float64(g.Batch) / res.MedianSeconds

	layers := map[string]*benchLayer{}
	var order []string
	kernels := map[string]float64{}
	pair := make([]int, len(stepList))
	for i := range pair {
		pair[i] = -1
	}
	if onCPU {
		pair = e.Fused(prog)
	}
	for i, s := range stepList {
		name := s.Layer
		if name == "" {
			name = "(copies)"
		}
		l := layers[name]
		if l == nil {
			l = &benchLayer{Layer: name}
			layers[name] = l
			order = append(order, name)
		}
		if j := pair[i]; j > i {
			l.FusedInto = stepList[j].Layer
		}
		t := median(perStep[i])
		l.Seconds += t
		l.GFLOP += float64(plan.StepFLOPs(s)) / 1e9
		kernels[string(s.Kernel)] += t
	}
	var total float64
	for _, name := range order {
		total += layers[name].Seconds
	}
	for _, name := range order {
		l := layers[name]
		if l.GFLOP > 0 && l.Seconds > 0 {
			l.GFLOPs = l.GFLOP / l.Seconds
		}
		l.Share = l.Seconds / total
		res.GFLOPPerStep += l.GFLOP
		res.Layers = append(res.Layers, *l)
	}
	res.GFLOPPerSec = res.GFLOPPerStep / res.MedianSeconds
	for k, t := range kernels {
		res.Kernels = append(res.Kernels, benchKernel{Kernel: k, Seconds: t, Share: t / total})
	}
	sort.Slice(res.Kernels, func(i, j int) bool { return res.Kernels[i].Seconds > res.Kernels[j].Seconds })
	res.PeakRSSBytes = peakRSS()

	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if *outFile != "" {
		if err := os.WriteFile(*outFile, b, 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		_, err = stdout.Write(b)
		return err
	}
	printBench(stdout, &res)
	return nil
}

func printBench(w io.Writer, r *benchResult) {
	fmt.Fprintf(w, "%s, %s, batch %d, %d device(s), %d thread(s), GEMM %s, %s\n", r.Network, r.Mode, r.Batch, r.Devices, r.Threads, r.GEMM, cpuModel())
	t := newTable("layer|ms per step|share|GFLOP|GFLOP/s", false, true, true, true, true)
	for _, l := range r.Layers {
		gf, rate := "", ""
		if l.GFLOP > 0 {
			gf, rate = fmt.Sprintf("%.2f", l.GFLOP), fmt.Sprintf("%.0f", l.GFLOPs)
		}
		name := l.Layer
		if l.FusedInto != "" {
			name += " (forward in " + l.FusedInto + ")"
		}
		t.row(name, fmt.Sprintf("%.1f", l.Seconds*1e3), fmt.Sprintf("%.1f%%", l.Share*100), gf, rate)
	}
	t.print(w)
	fmt.Fprintln(w)
	var ks []string
	for _, k := range r.Kernels {
		ks = append(ks, fmt.Sprintf("%s %.1f%%", k.Kernel, k.Share*100))
	}
	fmt.Fprintf(w, "time by kernel: %s\n", strings.Join(ks, ", "))
	fmt.Fprintf(w, "step: median %.3f s of %d (min %.3f, max %.3f)\n", r.MedianSeconds, r.Steps, slices.Min(r.StepSeconds), slices.Max(r.StepSeconds))
	fmt.Fprintf(w, "images/s: %.1f\n", r.ImagesPerSec)
	fmt.Fprintf(w, "GFLOP/s: %.0f (%.1f GFLOP per step)\n", r.GFLOPPerSec, r.GFLOPPerStep)
	fmt.Fprintf(w, "peak RSS: %s bytes (arenas %s)\n", commas(r.PeakRSSBytes), commas(r.ArenaBytes))
	fmt.Fprintf(w, "allocations per step: %.1f\n", r.AllocsPerStep)
}

// runSynchronized runs a program and waits for it: a step's time on a
// backend that queues its work.
func runSynchronized(b device.Backend, prog plan.Program) error {
	if err := b.Run(prog); err != nil {
		return err
	}
	return b.Synchronize()
}

// hasFlag reports whether a flag was given on the command line.
func hasFlag(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// fillBenchInput draws the weights and gives the program images and
// labels, so that timings do not depend on all-zero inputs.
func fillBenchInput(b device.Backend, prog plan.Program, seed uint64) error {
	p := b.Plan()
	for i, w := range p.Params() {
		v := make([]float32, w.Elems())
		engine.Fill(v, w.Init, cpu.NewRNG(seed, cpu.ParamStream(i)))
		if err := b.Write(plan.Train, w.Name, v); err != nil {
			return err
		}
	}
	rng := cpu.NewRNG(2, 1)
	x := make([]float32, p.Buffer(p.Model.Input).Elems())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	if err := b.Write(prog, p.Model.Input, x); err != nil {
		return err
	}
	if l := p.Buffer(p.Model.Labels); l != nil && l.Offset[prog] >= 0 {
		labels := make([]int32, l.Elems())
		for i := range labels {
			labels[i] = int32(i % p.Model.Classes)
		}
		return b.Write(prog, p.Model.Labels, labels)
	}
	return nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// peakRSS is the process's largest resident set so far, in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024 // kilobytes on Linux
}

// cpuModel names the processor, from /proc/cpuinfo where there is one.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
