// Package compiler is alexnetc's compiler as one call: Compile takes a
// checked network through lowering (compiler/lower) and planning
// (compiler/planner) to a runtime/plan.Plan, the artifact every runtime
// package consumes. The CLI, the ablations and the tests all compile
// through it.
package compiler

import (
	"fmt"

	"github.com/alexnetc/alexnetc/compiler/check"
	"github.com/alexnetc/alexnetc/compiler/lower"
	"github.com/alexnetc/alexnetc/compiler/planner"
	"github.com/alexnetc/alexnetc/runtime/plan"
	"github.com/alexnetc/alexnetc/spec"
	"github.com/alexnetc/alexnetc/spec/expr"
)

// Options change how a network is compiled.
type Options struct {
	// Batch is the number of images per step; 0 takes [train] batch.
	Batch int
	// SingleDevice puts every GPU's part on device 0 (lower.Options).
	SingleDevice bool
	// KeepAll keeps every buffer alive through its whole program
	// (plan.Plan.KeepAll).
	KeepAll bool
	// Source names the spec in the plan; "" takes the spec's file name.
	Source string
}

// Compile compiles a checked network into a plan.
func Compile(n *check.Network, opt Options) (*plan.Plan, error) {
	p, err := lower.Lower(n, lower.Options{Batch: opt.Batch, SingleDevice: opt.SingleDevice})
	if err != nil {
		return nil, err
	}
	describe(p, n)
	p.Source = opt.Source
	if p.Source == "" {
		p.Source = n.Spec.File
	}
	if err := planner.Place(p, opt.KeepAll); err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name, err)
	}
	return p, nil
}

// CompileSpec checks a spec, with a variant applied when one is named, and
// compiles it. Errors in the spec come back as a diag.List.
func CompileSpec(s *spec.Spec, variant string, opt Options) (*plan.Plan, error) {
	if variant != "" {
		vs, errs := s.ApplyVariant(variant)
		if len(errs) > 0 {
			return nil, errs
		}
		s = vs
	}
	n, errs := check.Check(s)
	if len(errs) > 0 {
		return nil, errs
	}
	if variant != "" {
		n.Variant = variant
	}
	return Compile(n, opt)
}

// describe fills in what the plan records of the network beyond its
// buffers and steps: its model, training settings, data and evaluation.
func describe(p *plan.Plan, n *check.Network) {
	s := n.Spec
	last := n.Layers[len(n.Layers)-1]
	p.Network, p.Variant = n.Name, n.Variant
	p.Model = plan.Model{Input: "data", Labels: "labels", Probabilities: last.Name + ".out", Loss: "loss",
		InputShape: [3]int{n.Input.Out.C, n.Input.Out.H, n.Input.Out.W}, Classes: last.Out.C, Params: n.Params,
		Rounding: string(n.Rounding), GPUs: n.GPUs, Doc: s.Network.Doc}
	for _, l := range n.Layers {
		ml := plan.Layer{Name: l.Name, Op: string(l.Op), Out: [3]int{l.Out.C, l.Out.H, l.Out.W}}
		for _, pt := range l.Parts {
			ml.GPUs = append(ml.GPUs, pt.GPU)
		}
		p.Model.Layers = append(p.Model.Layers, ml)
	}
	t := s.Train
	p.Train = plan.Training{Epochs: t.Epochs, LR: t.LR, Momentum: t.Momentum, WeightDecay: t.WeightDecay, Seed: uint64(t.Seed)}
	p.Train.Schedule = Schedule(t.Schedule)
	d := s.Data
	p.Data = plan.Data{Dataset: d.Dataset, Path: d.Path, Resize: d.Resize, Crop: d.Crop, RandomCrop: d.RandomCrop,
		Flip: d.Flip, PCALighting: d.PCALighting, Mean: string(d.Mean)}
	if p.Data.Crop == 0 {
		p.Data.Crop = n.Input.Out.H
	}
	if p.Data.Mean == "" {
		p.Data.Mean = plan.MeanNone
	}
	p.Eval = plan.Eval{Views: s.Eval.Views}
	if p.Eval.Views == 0 {
		p.Eval.Views = 1
	}
}

// Schedule is a spec's learning-rate rule as the plan records it; no rule
// is a constant rate.
func Schedule(r *expr.Schedule) plan.Schedule {
	if r == nil {
		return plan.Schedule{Kind: plan.ConstantRate}
	}
	out := plan.Schedule{Factor: r.Factor, MaxDrops: r.MaxDrops, Patience: r.Patience, At: append([]int(nil), r.At...)}
	switch r.Kind {
	case expr.Plateau:
		out.Kind = plan.Plateau
	case expr.Steps:
		out.Kind = plan.StepSchedule
	default:
		out.Kind = plan.ConstantRate
	}
	return out
}
